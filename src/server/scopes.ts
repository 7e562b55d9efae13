// What a read touches beyond its own type, for the token's scopes (issue 21): a submitted
// Bundle holds resources of many types, so reading it needs the read scope of each; a chained
// parameter (`patient.name`) or a reverse chain (`_has:Encounter:patient:…`) filters by the
// data of another type and works as an oracle on it (and on the total), so it needs the read
// scope of every type it touches. The HTTP layer asks requireAccess for these types, as for
// the searched type, `_include` and `_revinclude`.
//
// Not an AccessRule of src/rest/access.ts: a rule that governs a type for an actor switches the
// FINESS binding of writes off for it (the circle of care decides instead), and scopes must not.
import type { SearchParameterSet } from '../fhir/search/parameters.js';

/** Resource types a Bundle holds (its entries, and Bundles within). */
export function typesInBundle(bundle: unknown, out = new Set<string>()): Set<string> {
  const entries = typeof bundle === 'object' && bundle !== null && Array.isArray((bundle as { entry?: unknown }).entry) ? ((bundle as { entry: unknown[] }).entry) : [];
  for (const e of entries) {
    const r = typeof e === 'object' && e !== null ? (e as { resource?: unknown }).resource : undefined;
    if (typeof r !== 'object' || r === null) continue;
    const t = (r as { resourceType?: unknown }).resourceType;
    if (typeof t !== 'string') continue;
    out.add(t);
    if (t === 'Bundle') typesInBundle(r, out);
  }
  return out;
}

/**
 * The types a search parameter name touches beyond the searched type: each hop of a chain
 * (`subject:Patient.name`, `subject.organization.name`) and each `_has` source; `*` when a
 * hop's target types cannot be told (an unknown parameter or a reference to any type).
 */
export function typesTouched(type: string, name: string, params: Pick<SearchParameterSet, "get"> | undefined): Set<string> {
  const out = new Set<string>();
  const has = /^_has:([A-Za-z]+):([^:]+):(.+)$/.exec(name);
  if (has) {
    const [, source, , rest] = has as unknown as [string, string, string, string];
    out.add(source);
    for (const t of typesTouched(source, rest, params)) out.add(t);
    return out;
  }
  const hops = name.split('.');
  if (hops.length === 1) return out;
  let from = new Set([type]);
  for (let i = 0; i < hops.length - 1; i++) {
    const [code, modifier] = hops[i]!.split(':') as [string, string | undefined];
    const next = new Set<string>();
    for (const t of from) {
      if (modifier && /^[A-Z]/.test(modifier)) {
        next.add(modifier);
        continue;
      }
      const targets = params?.get(t, code)?.targets;
      if (!targets?.length) return new Set(['*']);
      for (const x of targets) next.add(x);
    }
    for (const t of next) out.add(t);
    from = next;
  }
  return out;
}
