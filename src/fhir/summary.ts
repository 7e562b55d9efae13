// `_summary` and `_elements` (FHIR search.html#summary, #elements): a subset of each resource's
// top-level elements, marked SUBSETTED. Summary elements come from the base definition of the
// type (ElementDefinition.isSummary); mandatory elements (min > 0) are always kept.
import { isObject, type FhirResource } from './json.js';
import type { ConformanceRegistry } from './packages/registry.js';

export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

interface Element {
  path: string;
  min?: number;
  isSummary?: boolean;
}

/** Top-level element names of a type: the summary ones and the mandatory ones (choice elements by their stem). */
export class SummaryDefinitions {
  private readonly cache = new Map<string, { summary: Set<string>; mandatory: Set<string> }>();
  constructor(private readonly registry: ConformanceRegistry) {}

  of(type: string): { summary: Set<string>; mandatory: Set<string> } {
    let d = this.cache.get(type);
    if (!d) {
      d = { summary: new Set(), mandatory: new Set() };
      const sd = this.registry.resolve<{ url: string; resourceType: string; snapshot?: { element: Element[] } }>(`http://hl7.org/fhir/StructureDefinition/${type}`, 'StructureDefinition');
      for (const e of sd?.snapshot?.element ?? []) {
        const parts = e.path.split('.');
        if (parts.length !== 2) continue;
        const name = parts[1]!.replace(/\[x\]$/, '');
        if (e.isSummary) d.summary.add(name);
        if ((e.min ?? 0) > 0) d.mandatory.add(name);
      }
      this.cache.set(type, d);
    }
    return d;
  }
}

function keep(resource: FhirResource, wanted: (name: string) => boolean): FhirResource {
  const out: Record<string, unknown> = { resourceType: resource.resourceType };
  for (const [k, v] of Object.entries(resource)) {
    if (k === 'resourceType') continue;
    const stem = k.replace(/^_/, '');
    if (k === 'id' || k === 'meta' || wanted(stem)) out[k] = v;
  }
  return markSubsetted(out as FhirResource);
}

function choiceStem(name: string, set: Set<string>): boolean {
  if (set.has(name)) return true;
  const m = /^([a-z][A-Za-z]*?)([A-Z][A-Za-z]*)$/.exec(name);
  return !!m && set.has(m[1]!);
}

function markSubsetted(r: FhirResource): FhirResource {
  const meta = isObject(r.meta) ? { ...r.meta } : {};
  const tags = Array.isArray(meta.tag) ? [...meta.tag] : [];
  if (!tags.some((t) => isObject(t) && t.code === 'SUBSETTED')) tags.push(SUBSETTED);
  meta.tag = tags;
  return { ...r, meta };
}

/** The resource as `_summary=mode` shows it. */
export function summarize(resource: FhirResource, mode: SummaryMode, defs: SummaryDefinitions): FhirResource {
  if (mode === 'false' || mode === 'count') return resource;
  const d = defs.of(resource.resourceType);
  if (mode === 'data') {
    if (resource.text === undefined) return resource;
    const { text: _text, ...rest } = resource;
    return markSubsetted(rest as FhirResource);
  }
  if (mode === 'text') return keep(resource, (n) => n === 'text' || choiceStem(n, d.mandatory));
  return keep(resource, (n) => choiceStem(n, d.summary) || choiceStem(n, d.mandatory));
}

/** The resource with only the `_elements` asked for (plus id, meta and the mandatory elements). */
export function selectElements(resource: FhirResource, elements: string[], defs: SummaryDefinitions): FhirResource {
  const wanted = new Set(elements);
  const d = defs.of(resource.resourceType);
  return keep(resource, (n) => choiceStem(n, wanted) || choiceStem(n, d.mandatory));
}
