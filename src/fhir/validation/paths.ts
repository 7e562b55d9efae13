// Small helpers of the instance walk: JSON objects and issue locations.

export { isObject, type Json } from '../json.js';

/** The location `base` + `seg`: `base[3]` for an index, `base.name` for a name, `base` alone without a segment. */
export function at(base: string, seg: string | number | undefined): string {
  return seg === undefined ? base : typeof seg === 'number' ? `${base}[${seg}]` : `${base}.${seg}`;
}

/** A JSON property name with its `_name` sibling (ChildRef has this shape). */
export interface JsonName {
  key: string;
  ukey: string;
  /** The type a choice element's name implies (`valueString` -> string). */
  type?: string;
}
