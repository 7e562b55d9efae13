// Bundle reference resolution (FHIR bundle.html#references) and URL fixing: every reference
// that names an entry of the transaction is rewritten to the server id of that entry.
import { isObject as isObj } from '../json.js';

type Json = Record<string, unknown>;


const RE_RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const RE_ABSOLUTE_REST = /^(https?:\/\/.+)\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** A server-relative entry fullUrl, `Type/id`: what a server's answer makes absolute. */
const RE_TYPE_ID = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * An entry's fullUrl as a server answers it: `Type/id` made absolute against `base`
 * (`${base}/Type/id`), anything else (urn:uuid:, already absolute) as it is.
 */
export function absoluteFullUrl(fullUrl: string, base: string): string {
  return RE_TYPE_ID.test(fullUrl) ? `${base}/${fullUrl}` : fullUrl;
}

export interface EntryRef {
  index: number;
  fullUrl?: string;
  resourceType: string;
  /** The id the producer gave (bundle-local). */
  localId?: string;
}

/** Finds the entry a reference (made inside entry `from`) points to, if it is in the Bundle. */
export class BundleResolver {
  private readonly byFullUrl = new Map<string, number>();
  private readonly byTypeId = new Map<string, number[]>();

  constructor(private readonly entries: EntryRef[]) {
    for (const e of entries) {
      if (e.fullUrl) this.byFullUrl.set(e.fullUrl, e.index);
      if (e.localId) {
        const k = `${e.resourceType}/${e.localId}`;
        const list = this.byTypeId.get(k) ?? [];
        list.push(e.index);
        this.byTypeId.set(k, list);
      }
    }
  }

  resolve(reference: string, from: number): number | undefined {
    const direct = this.byFullUrl.get(reference);
    if (direct !== undefined) return direct;
    const abs = RE_ABSOLUTE_REST.exec(reference);
    if (abs) return this.byFullUrl.get(`${abs[1]}/${abs[2]}/${abs[3]}`);
    const rel = RE_RELATIVE.exec(reference);
    if (!rel) return undefined;
    // Relative: resolved against the base of the referencing entry's absolute fullUrl.
    const base = RE_ABSOLUTE_REST.exec(this.entries[from]?.fullUrl ?? '');
    if (base) {
      const hit = this.byFullUrl.get(`${base[1]}/${rel[1]}/${rel[2]}`);
      if (hit !== undefined) return hit;
    }
    // Otherwise the entry whose resource is Type/id, when exactly one is (tolerant reading
    // of bundles whose fullUrls are urn:uuid while references use the resource ids).
    const same = this.byTypeId.get(`${rel[1]}/${rel[2]}`);
    return same && same.length === 1 ? same[0] : undefined;
  }
}

/**
 * A deep copy of `resource` with every `reference` that names an entry replaced by
 * `Type/serverId` (`serverRef(index)`); others (outside the bundle, `#contained`) are kept.
 */
export function rewriteReferences(
  resource: Json,
  from: number,
  resolver: BundleResolver,
  serverRef: (index: number) => string | undefined,
): Json {
  const visit = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(visit);
    if (!isObj(v)) return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) out[k] = visit(x);
    if (typeof v.reference === 'string' && !v.reference.startsWith('#')) {
      const target = resolver.resolve(v.reference, from);
      const ref = target !== undefined ? serverRef(target) : undefined;
      if (ref) out.reference = ref;
    }
    return out;
  };
  return visit(resource) as Json;
}

/** Indices of the entries a resource references (inside the bundle). */
export function referencedEntries(resource: Json, from: number, resolver: BundleResolver): Set<number> {
  const out = new Set<number>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isObj(v)) {
      if (typeof v.reference === 'string') {
        const t = resolver.resolve(v.reference, from);
        if (t !== undefined) out.add(t);
      }
      for (const x of Object.values(v)) visit(x);
    }
  };
  visit(resource);
  return out;
}

/**
 * `rewriteReferences` without the deep copy (D-318): only the objects and arrays on the way to a
 * rewritten reference are copied, every other part is shared with `resource` (returned itself
 * when nothing changes). For callers that never mutate either tree: the receiving pipeline of a
 * transaction Bundle, whose resources are only read, stamped (a copy) and serialised — a copy of
 * every resource was most of what it allocated on the event loop per Bundle.
 */
export function rewriteReferencesShared(
  resource: Json,
  from: number,
  resolver: BundleResolver,
  serverRef: (index: number) => string | undefined,
): Json {
  const set = (o: Json, k: string, v: unknown) => {
    // (An own `__proto__` key stays a plain key, as JSON.parse made it.)
    if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
    else o[k] = v;
  };
  const visit = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        const y = visit(x);
        if (y !== x) (out ??= v.slice())[i] = y;
      }
      return out ?? v;
    }
    if (!isObj(v)) return v;
    let out: Json | undefined;
    for (const k of Object.keys(v)) {
      const x = v[k];
      const y = visit(x);
      if (y !== x) set((out ??= { ...v }), k, y);
    }
    if (typeof v.reference === 'string' && !v.reference.startsWith('#')) {
      const target = resolver.resolve(v.reference, from);
      const ref = target !== undefined ? serverRef(target) : undefined;
      if (ref && ref !== v.reference) (out ??= { ...v }).reference = ref;
    }
    return out ?? v;
  };
  return visit(resource) as Json;
}
