// Reference resolution inside a Bundle (FHIR http.html#trules and bundle.html#references):
// by fullUrl (urn:uuid:, urn:oid:, absolute URL), and relative `Type/id` references resolved
// against the base of the referencing entry's fullUrl, or against the entries' own type/id.
import { isObject } from '../json.js';
type Json = Record<string, unknown>;

export interface BundleTarget {
  resource: Json;
  /** Location of the resource, e.g. `Bundle.entry[3].resource`. */
  path: string;
  fullUrl?: string;
  /** Base of the fullUrl (`https://x/fhir` for `https://x/fhir/Patient/1`), against which relative references resolve. */
  base?: string;
  /** The entries that share this entry's base, by `Type/id` (how a relative reference from here resolves). */
  peers?: Map<string, BundleTarget>;
  /** The `Type` segment of a RESTful fullUrl (`<base>/<Type>/<id>`), cut once. */
  urlType?: string;
}


const ENTRY_INDEX = /^Bundle\.entry\[(\d+)\]/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;

/** `https://x/fhir` for `https://x/fhir/Patient/1` (as /^(https?:\/\/.*)\/[A-Z][A-Za-z]+\/[^/]+$/, without backtracking). */
function fullUrlBase(u: string): string | undefined {
  const proto = u.startsWith('https://') ? 8 : u.startsWith('http://') ? 7 : -1;
  if (proto < 0) return undefined;
  const i = u.lastIndexOf('/');
  if (i === u.length - 1 || i <= proto) return undefined;
  const j = u.lastIndexOf('/', i - 1);
  if (j < proto || !RESOURCE_TYPE.test(u.slice(j + 1, i))) return undefined;
  return u.slice(0, j);
}

/** `Type/id`: one slash, a resource-type-shaped name before it and a non-empty rest. */
function isTypeId(rel: string): boolean {
  const slash = rel.indexOf('/');
  // RESOURCE_TYPE, tested in place: [A-Z][A-Za-z]+
  if (slash < 2 || slash === rel.length - 1 || rel.indexOf('/', slash + 1) !== -1) return false;
  let c = rel.charCodeAt(0);
  if (c < 65 || c > 90) return false;
  for (let i = 1; i < slash; i++) {
    c = rel.charCodeAt(i) | 32; // lower-cased ASCII letter
    if (c < 97 || c > 122) return false;
  }
  return true;
}

/** `Bundle.entry[i].resource`, the location of a top-level Bundle's entries: built once per index. */
const ENTRY_PATHS: string[] = [];
function entryPath(path: string, i: number): string {
  if (path !== 'Bundle' || i >= 100_000) return `${path}.entry[${i}].resource`;
  while (ENTRY_PATHS.length <= i) ENTRY_PATHS.push(`Bundle.entry[${ENTRY_PATHS.length}].resource`);
  return ENTRY_PATHS[i];
}

export class BundleIndex {
  private readonly byFullUrl = new Map<string, BundleTarget>();
  /** fullUrls carried by several entries (versions of one resource, bdl-7) -> those entries. */
  private readonly sharedFullUrls = new Map<string, BundleTarget[]>();
  /** `Type/id` -> first entry with it; built at the first lookup (most references resolve by fullUrl). */
  private byTypeId?: Map<string, BundleTarget>;
  private readonly entries: (BundleTarget | undefined)[] = [];
  private readonly targets = new Map<object, BundleTarget>();
  /** Location -> its entry (locations are the few resource paths of a run). */
  private readonly entryOfPath = new Map<string, BundleTarget | undefined>();

  /**
   * A document: self-contained, and a relative reference resolves only by the fullUrl rules
   * (against the referencing entry's RESTful base), never by a mere type/id match — as the HL7
   * validator reads it. Other Bundles also accept an entry whose resource has that type and id.
   */
  document = false;

  static build(bundle: Json, path: string): BundleIndex {
    const idx = new BundleIndex();
    idx.document = bundle.type === 'document';
    // Entries with an http(s) `<base>/<Type>/<id>` fullUrl, by base then `Type/id`, one map per
    // base shared by its entries (BundleTarget.peers): a relative reference is then found
    // without building (and hashing) the string `<base>/<reference>` at every lookup.
    const byBase = new Map<string, Map<string, BundleTarget>>();
    const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
    entries.forEach((e, i) => {
      if (!isObject(e) || !isObject(e.resource)) {
        idx.entries.push(undefined);
        return;
      }
      // Every field set here (one object shape for all entries).
      const t: BundleTarget = { resource: e.resource, path: entryPath(path, i), fullUrl: undefined, base: undefined, peers: undefined, urlType: undefined };
      if (typeof e.fullUrl === 'string') {
        t.fullUrl = e.fullUrl;
        t.base = fullUrlBase(e.fullUrl);
        let rels: Map<string, BundleTarget> | undefined;
        if (t.base !== undefined) {
          t.urlType = e.fullUrl.slice(t.base.length + 1, e.fullUrl.indexOf('/', t.base.length + 1));
          rels = byBase.get(t.base);
          if (!rels) byBase.set(t.base, (rels = new Map()));
          t.peers = rels;
        }
        const first = idx.byFullUrl.get(e.fullUrl);
        if (!first) {
          idx.byFullUrl.set(e.fullUrl, t);
          if (rels) rels.set(e.fullUrl.slice(t.base!.length + 1), t);
        } else {
          const shared = idx.sharedFullUrls.get(e.fullUrl);
          if (shared) shared.push(t);
          else idx.sharedFullUrls.set(e.fullUrl, [first, t]);
        }
      }
      const r = e.resource;
      idx.entries.push(t);
      if (!idx.targets.has(r)) idx.targets.set(r, t);
    });
    return idx;
  }

  /**
   * Entries whose fullUrl is a RESTful `<base>/<Type>/<id>` (Type a resource type) that does not name their resource:
   * `mismatch` when the resource has another type or id, `no-id` when it has none. Compared
   * in place (no string built per entry).
   */
  fullUrlProblems(isResourceType: (name: string) => boolean): { index: number; fullUrl: string; type: string; id: string | undefined; problem: 'mismatch' | 'no-id' }[] {
    const out: ReturnType<BundleIndex['fullUrlProblems']> = [];
    this.entries.forEach((t, index) => {
      if (!t || t.base === undefined || t.fullUrl === undefined) return;
      const { resourceType: type, id } = t.resource;
      if (typeof type !== 'string') return;
      const u = t.fullUrl;
      const typeAt = t.base.length + 1;
      // Only a URL whose segment names a real resource type is RESTful (as the HL7 validator
      // reads it): `…/Obervation/obs1` is an opaque URL.
      if (!isResourceType(t.urlType ?? u.slice(typeAt, u.indexOf('/', typeAt)))) return;
      if (typeof id !== 'string') {
        out.push({ index, fullUrl: u, type, id: undefined, problem: 'no-id' });
        return;
      }
      const ok = u.length === typeAt + type.length + 1 + id.length && u.startsWith(type, typeAt) && u.charCodeAt(typeAt + type.length) === 47 && u.endsWith(id);
      if (!ok) out.push({ index, fullUrl: u, type, id, problem: 'mismatch' });
    });
    return out;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The entries in order (undefined for an entry without a resource). */
  get all(): readonly (BundleTarget | undefined)[] {
    return this.entries;
  }

  /**
   * The entries sharing a resolved target's fullUrl (several versions of one resource), or
   * undefined when it is alone: a reference to it must then name the version it means.
   */
  sharingFullUrl(target: BundleTarget): readonly BundleTarget[] | undefined {
    return target.fullUrl === undefined || this.sharedFullUrls.size === 0 ? undefined : this.sharedFullUrls.get(target.fullUrl);
  }

  pathOf(resource: object): string | undefined {
    return this.targets.get(resource)?.path;
  }

  /** The entry whose resource this is (by identity). */
  entryOf(resource: object): BundleTarget | undefined {
    return this.targets.get(resource);
  }

  entryAt(path: string | undefined): BundleTarget | undefined {
    if (!path) return undefined;
    if (this.entryOfPath.has(path)) return this.entryOfPath.get(path);
    const m = ENTRY_INDEX.exec(path);
    const e = m ? this.entries[Number(m[1])] : undefined;
    this.entryOfPath.set(path, e);
    return e;
  }

  /** Resolves a reference made from an entry (given, or found from any location inside it). */
  resolve(reference: string, from?: string | BundleTarget): BundleTarget | undefined {
    const direct = this.byFullUrl.get(reference);
    if (direct) return direct;
    const entry = typeof from === 'string' ? this.entryAt(from) : from;
    // (No per-entry cache of answers: one answer costs about what a cache lookup does.)
    return this.find(reference, entry);
  }

  private find(reference: string, from: BundleTarget | undefined): BundleTarget | undefined {
    const history = reference.includes('/_history/');
    if (reference.startsWith('urn:') || reference.startsWith('http://') || reference.startsWith('https://')) {
      const m = history ? /^(.*\/[A-Z][A-Za-z]+\/[^/]+)\/_history\/[^/]+$/.exec(reference) : null;
      return m ? this.byFullUrl.get(m[1]) : undefined;
    }
    const rel = history ? reference.replace(/\/_history\/[^/]+$/, '') : reference;
    // In a document, a RESTful fullUrl whose resource has no id is not that resource's identity
    // (an error of its own): nothing resolves against its base, as the HL7 validator reads it.
    const base = this.document && from !== undefined && typeof from.resource.id !== 'string' ? undefined : from?.base;
    if (base) {
      // `Type/id` (the usual shape): `<base>/Type/id` has exactly this base, so the per-base map
      // answers as byFullUrl would. Other shapes are looked up by their full URL.
      const hit = isTypeId(rel) ? from?.peers?.get(rel) : this.byFullUrl.get(`${base}/${rel}`);
      if (hit) return hit;
    }
    if (this.document && from?.fullUrl !== undefined) return undefined;
    const hit = (this.byTypeId ??= this.typeIds()).get(rel);
    if (hit || !isTypeId(rel)) return hit;
    // `Type/<uuid>` for the entry whose fullUrl is `urn:uuid:<uuid>` (its resource with no other
    // id): the HL7 validator matches it, then checks the type (see checkReference).
    const byUuid = this.byFullUrl.get(`urn:uuid:${rel.slice(rel.indexOf('/') + 1)}`);
    return byUuid && (byUuid.resource.id === undefined || `${String(byUuid.resource.resourceType)}/${String(byUuid.resource.id)}` === rel) ? byUuid : undefined;
  }

  private typeIds(): Map<string, BundleTarget> {
    const byTypeId = new Map<string, BundleTarget>();
    for (const t of this.entries) {
      if (!t) continue;
      const r = t.resource;
      if (typeof r.resourceType === 'string' && typeof r.id === 'string') {
        const key = `${r.resourceType}/${r.id}`;
        if (!byTypeId.has(key)) byTypeId.set(key, t);
      }
    }
    return byTypeId;
  }
}
