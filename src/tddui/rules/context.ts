// What the rules look at: the resources of a Bundle (or a single resource), each with its
// FHIRPath location, plus reference resolution inside the Bundle.

export type Json = Record<string, unknown>;

export interface Item {
  resource: Json;
  /** FHIRPath of the resource: `Bundle.entry[3].resource` or `Patient`. */
  readonly path: string;
  entry?: Json;
  readonly entryPath?: string;
  fullUrl?: string;
  /** identifiersOf(), computed once. */
  ids?: IdentifierAt[];
}

export interface RuleContext {
  root: Json;
  isBundle: boolean;
  items: Item[];
  /** The Patient items (usager lookups happen per identifier). */
  patients: Item[];
  now: Date;
  resolve(reference: unknown, from?: Item): Item | undefined;
}

import { isObject } from '../../fhir/json.js';
export { isObject };

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/**
 * A Bundle entry's resource. Its locations are built when a finding needs them (most entries
 * have none): rules run on every Bundle the server receives.
 */
class EntryItem implements Item {
  ids?: IdentifierAt[] = undefined;
  private at?: string = undefined;
  constructor(
    readonly resource: Json,
    readonly entry: Json,
    readonly index: number,
    readonly fullUrl: string | undefined,
  ) {}

  get entryPath(): string {
    return `Bundle.entry[${this.index}]`;
  }

  get path(): string {
    return (this.at ??= `Bundle.entry[${this.index}].resource`);
  }
}

/** `https://x/fhir/` for `https://x/fhir/Patient/1`: /^(.*\/)[A-Za-z]+\/[^/]+$/ without the regex. */
function fullUrlPrefix(u: string): string | undefined {
  const i = u.lastIndexOf('/');
  if (i < 0 || i === u.length - 1) return undefined;
  const j = u.lastIndexOf('/', i - 1);
  if (j < 0 || j === i - 1) return undefined;
  for (let k = j + 1; k < i; k++) {
    const c = u.charCodeAt(k) | 32;
    if (c < 97 || c > 122) return undefined;
  }
  // `.` does not match line terminators.
  for (let k = 0; k < j; k++) {
    const c = u.charCodeAt(k);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return undefined;
  }
  return u.slice(0, j + 1);
}

export function buildContext(root: Json, now: Date): RuleContext {
  const items: Item[] = [];
  const isBundle = root.resourceType === 'Bundle';
  if (isBundle) {
    const entries = root.entry;
    if (Array.isArray(entries)) {
      for (let i = 0; i < entries.length; i++) {
        const entry: unknown = entries[i];
        if (!isObject(entry) || !isObject(entry.resource)) continue;
        const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined;
        items.push(new EntryItem(entry.resource, entry, i, fullUrl));
      }
    } else if (isObject(entries) && isObject(entries.resource)) {
      // asArray(): a single entry object is read as a one-entry array.
      const fullUrl = typeof entries.fullUrl === 'string' ? entries.fullUrl : undefined;
      items.push(new EntryItem(entries.resource, entries, 0, fullUrl));
    }
  } else if (typeof root.resourceType === 'string') {
    items.push({ resource: root, path: root.resourceType });
  }
  const patients: Item[] = [];
  for (const it of items) if (it.resource.resourceType === 'Patient') patients.push(it);
  const refs = new References(items);
  return {
    root,
    isBundle,
    items,
    patients,
    now,
    resolve(reference) {
      const ref = isObject(reference) ? reference.reference : reference;
      return typeof ref === 'string' ? refs.get(ref) : undefined;
    },
  };
}

/** An item with a string resourceType and id (a `Type/id` key, and `<fullUrl prefix>Type/id`). */
interface Keyed {
  pos: number;
  type: string;
  id: string;
  /** fullUrlPrefix() of an http(s) fullUrl; null: none; undefined: not computed yet. */
  prefix: string | null | undefined;
}

/**
 * Reference lookup. Its meaning is a table of keys where a later key replaces an earlier equal
 * one: per item in order, its fullUrl, `Type/id`, then `<fullUrl prefix>Type/id` (see flatTable).
 * Building those strings for every item costs more than the few lookups a Bundle needs, so
 * lookups find the candidates by fullUrl and by id (the part after the reference's last `/`)
 * and keep the latest key equal to the reference; answers are cached per reference. An id
 * containing `/` would make that split ambiguous: such input uses the plain table.
 */
class References {
  private readonly urls = new Map<string, number>();
  private readonly byId = new Map<string, Keyed[]>();
  private slashInId = false;
  private flat?: Map<string, Item>;
  private readonly cache = new Map<string, Item | undefined>();

  constructor(private readonly items: Item[]) {
    for (let pos = 0; pos < items.length; pos++) {
      const it = items[pos];
      if (it.fullUrl) this.urls.set(it.fullUrl, pos);
      const { resourceType, id } = it.resource;
      if (typeof resourceType === 'string' && typeof id === 'string') {
        if (id.includes('/')) this.slashInId = true;
        let list = this.byId.get(id);
        if (!list) this.byId.set(id, (list = []));
        list.push({ pos, type: resourceType, id, prefix: undefined });
      }
    }
  }

  get(ref: string): Item | undefined {
    if (this.slashInId) return (this.flat ??= flatTable(this.items)).get(ref);
    if (this.cache.has(ref)) return this.cache.get(ref);
    // Key order: 3 × position + 0 (fullUrl), 1 (Type/id), 2 (prefixed Type/id); the highest wins.
    const u = this.urls.get(ref);
    let best = u === undefined ? -1 : 3 * u;
    const slash = ref.lastIndexOf('/');
    const list = slash >= 0 ? this.byId.get(ref.slice(slash + 1)) : undefined;
    if (list) {
      for (const k of list) {
        // The id has no `/`: a key `<x>/<id>` equals the reference when `<x>` is all before its last `/`.
        if (slash === k.type.length && ref.startsWith(k.type) && 3 * k.pos + 1 > best) best = 3 * k.pos + 1;
        if (k.prefix === undefined) {
          const fullUrl = this.items[k.pos].fullUrl;
          k.prefix = fullUrl && (fullUrl.startsWith('http://') || fullUrl.startsWith('https://')) ? (fullUrlPrefix(fullUrl) ?? null) : null;
        }
        const p = k.prefix;
        if (p !== null && slash === p.length + k.type.length && ref.startsWith(p) && ref.startsWith(k.type, p.length) && 3 * k.pos + 2 > best) {
          best = 3 * k.pos + 2;
        }
      }
    }
    const found = best < 0 ? undefined : this.items[Math.floor(best / 3)];
    this.cache.set(ref, found);
    return found;
  }
}

/** The reference table itself: keys built for every item, later ones replacing earlier ones. */
export function flatTable(items: Item[]): Map<string, Item> {
  const byKey = new Map<string, Item>();
  for (const it of items) {
    if (it.fullUrl) byKey.set(it.fullUrl, it);
    const { resourceType, id } = it.resource;
    if (typeof resourceType === 'string' && typeof id === 'string') {
      byKey.set(`${resourceType}/${id}`, it);
      if (it.fullUrl && (it.fullUrl.startsWith('http://') || it.fullUrl.startsWith('https://'))) {
        // Relative references resolve against the fullUrl's base.
        const prefix = fullUrlPrefix(it.fullUrl);
        if (prefix !== undefined) byKey.set(`${prefix}${resourceType}/${id}`, it);
      }
    }
  }
  return byKey;
}

export interface IdentifierAt {
  system?: string;
  value?: string;
  /** `<resource>.identifier[i]` (or `.identifier` for a single one), built on first use. */
  readonly path: string;
  /** `<path>.value`, built on first use. */
  readonly valuePath: string;
}

class IdentifierLocation implements IdentifierAt {
  private at?: string = undefined;
  constructor(
    readonly system: string | undefined,
    readonly value: string | undefined,
    private readonly item: Item,
    /** -1: a single identifier (not an array). */
    private readonly index: number,
  ) {}

  get path(): string {
    return (this.at ??= this.index < 0 ? `${this.item.path}.identifier` : `${this.item.path}.identifier[${this.index}]`);
  }

  get valuePath(): string {
    return `${this.path}.value`;
  }
}

/** The identifiers of a resource (array or single, as DocumentReference.masterIdentifier is not); computed once per item. */
export function identifiersOf(item: Item): IdentifierAt[] {
  if (item.ids) return item.ids;
  const raw = item.resource.identifier;
  const out: IdentifierAt[] = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i < raw.length; i++) {
      const id: unknown = raw[i];
      if (!isObject(id)) continue;
      out.push(new IdentifierLocation(typeof id.system === 'string' ? id.system : undefined, typeof id.value === 'string' ? id.value : undefined, item, i));
    }
  } else if (isObject(raw)) {
    out.push(new IdentifierLocation(typeof raw.system === 'string' ? raw.system : undefined, typeof raw.value === 'string' ? raw.value : undefined, item, -1));
  }
  item.ids = out;
  return out;
}
