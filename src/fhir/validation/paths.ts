// Small helpers of the instance walk: JSON objects and issue locations.

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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
