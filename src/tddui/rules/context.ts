// What the rules look at: the resources of a Bundle (or a single resource), each with its
// FHIRPath location, plus reference resolution inside the Bundle.

export type Json = Record<string, unknown>;

export interface Item {
  resource: Json;
  /** FHIRPath of the resource: `Bundle.entry[3].resource` or `Patient`. */
  path: string;
  entry?: Json;
  entryPath?: string;
  fullUrl?: string;
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

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

export function buildContext(root: Json, now: Date): RuleContext {
  const items: Item[] = [];
  const isBundle = root.resourceType === 'Bundle';
  if (isBundle) {
    asArray(root.entry).forEach((entry, i) => {
      if (!isObject(entry) || !isObject(entry.resource)) return;
      const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined;
      items.push({ resource: entry.resource, path: `Bundle.entry[${i}].resource`, entry, entryPath: `Bundle.entry[${i}]`, fullUrl });
    });
  } else if (typeof root.resourceType === 'string') {
    items.push({ resource: root, path: root.resourceType });
  }
  const byKey = new Map<string, Item>();
  for (const it of items) {
    if (it.fullUrl) byKey.set(it.fullUrl, it);
    const { resourceType, id } = it.resource;
    if (typeof resourceType === 'string' && typeof id === 'string') {
      byKey.set(`${resourceType}/${id}`, it);
      if (it.fullUrl && (it.fullUrl.startsWith('http://') || it.fullUrl.startsWith('https://'))) {
        // Relative references resolve against the fullUrl's base.
        const m = /^(.*\/)[A-Za-z]+\/[^/]+$/.exec(it.fullUrl);
        if (m) byKey.set(`${m[1]}${resourceType}/${id}`, it);
      }
    }
  }
  return {
    root,
    isBundle,
    items,
    patients: items.filter((i) => i.resource.resourceType === 'Patient'),
    now,
    resolve(reference) {
      const ref = isObject(reference) ? reference.reference : reference;
      return typeof ref === 'string' ? byKey.get(ref) : undefined;
    },
  };
}

export interface IdentifierAt {
  system?: string;
  value?: string;
  path: string;
}

/** The identifiers of a resource (array or single, as DocumentReference.masterIdentifier is not). */
export function identifiersOf(item: Item): IdentifierAt[] {
  const raw = item.resource.identifier;
  const out: IdentifierAt[] = [];
  const list = Array.isArray(raw) ? raw : isObject(raw) ? [raw] : [];
  list.forEach((id, i) => {
    if (!isObject(id)) return;
    const base = Array.isArray(raw) ? `${item.path}.identifier[${i}]` : `${item.path}.identifier`;
    out.push({
      system: typeof id.system === 'string' ? id.system : undefined,
      value: typeof id.value === 'string' ? id.value : undefined,
      path: base,
    });
  });
  return out;
}
