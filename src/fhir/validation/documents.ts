// What a document Bundle (`Bundle.type = document`) must hold beyond its invariants, as the HL7
// validator checks it: every entry is reachable from the Composition by following references
// (forward, or backward with a warning: R4 does not provide for reverse links), and a relative
// stylesheet link names one of its entries (D-161).
import { CODES } from '../outcome/codes.js';
import type { BundleIndex, BundleTarget } from './bundle-index.js';
import { isObject, type Json } from './paths.js';
import type { Run } from './run.js';

/** Checks the links of a document Bundle at `path` whose entries `index` holds. */
export function checkDocumentLinks(run: Run, bundle: Json, path: string, index: BundleIndex): void {
  const entries = index.all;
  const links = Array.isArray(bundle.link) ? bundle.link : [];
  const visited = new Set<number>();
  const targets: Set<number>[] = entries.map(() => new Set<number>());
  const position = new Map<BundleTarget, number>();
  entries.forEach((t, i) => t && position.set(t, i));
  entries.forEach((t, i) => {
    if (!t) return;
    for (const ref of referencesIn(t.resource)) {
      const hit = index.resolve(ref, t);
      const j = hit ? position.get(hit) : undefined;
      if (j !== undefined && j !== i) targets[i]!.add(j);
    }
  });
  const visit = (i: number): void => {
    if (visited.has(i)) return;
    visited.add(i);
    for (const j of targets[i]!) visit(j);
  };
  const first = entries.findIndex((t) => t !== undefined);
  if (first >= 0) visit(first);
  // A stylesheet in the Bundle (`Binary/css`) is part of the document; a relative one must be there.
  links.forEach((l, li) => {
    if (!isObject(l) || l.relation !== 'stylesheet' || typeof l.url !== 'string' || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(l.url)) return;
    const i = entries.findIndex((t) => t !== undefined && `${String(t.resource.resourceType)}/${String(t.resource.id)}` === l.url);
    if (i >= 0) visited.add(i);
    else run.out.push(CODES.BUNDLE_STYLESHEET_UNRESOLVED, `${path}.link[${li}].url`, { url: l.url });
  });
  // Entries that refer to the document (a Provenance, typically) are part of it too.
  for (let more = true; more; ) {
    more = false;
    entries.forEach((t, i) => {
      if (!t || visited.has(i) || ![...targets[i]!].some((j) => visited.has(j))) return;
      if (t.resource.resourceType !== 'Provenance') run.out.push(CODES.BUNDLE_ENTRY_REVERSE_LINK, `${path}.entry[${i}]`, { fullUrl: t.fullUrl ?? `#${i}` });
      visit(i);
      more = true;
    });
  }
  entries.forEach((t, i) => {
    if (t && !visited.has(i)) run.out.push(CODES.BUNDLE_ENTRY_ORPHAN, `${path}.entry[${i}]`, { fullUrl: t.fullUrl ?? `#${i}` });
  });
}

/**
 * The references a resource makes (Reference.reference, and `url` values such as an
 * Attachment's), contained resources included, not those of a Bundle inside it.
 */
function referencesIn(resource: Json): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 64) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    if (!isObject(v)) return;
    if (depth > 0 && v.resourceType === 'Bundle') return;
    for (const k in v) {
      const x = v[k];
      if ((k === 'reference' || k === 'url') && typeof x === 'string') {
        if (!x.startsWith('#')) out.add(x);
      } else if (typeof x === 'object' && x !== null) walk(x, depth + 1);
    }
  };
  walk(resource, 0);
  return out;
}
