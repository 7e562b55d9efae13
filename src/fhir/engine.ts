// Assembles the FHIR machinery: packages -> registry -> profiles -> terminology -> validator.
import { loadPackages, type LoadOptions } from './packages/loader.js';
import type { ConformanceRegistry } from './packages/registry.js';
import { Profiles } from './profiles/profiles.js';
import type { BaseSupplements } from './profiles/snapshot.js';
import { Terminology } from './terminology/terminology.js';
import { Validator } from './validation/validator.js';

export interface Engine {
  registry: ConformanceRegistry;
  profiles: Profiles;
  terminology: Terminology;
  validator: Validator;
  /** Milliseconds spent loading packages and compiling profiles. */
  startupMs: { load: number; compile: number };
}

export interface EngineOptions extends LoadOptions {
  /** Compile every profile up front (default true). */
  precompile?: boolean;
  /** Known elements of base profiles that may be missing (see BaseSupplements). */
  supplements?: BaseSupplements;
  /**
   * Canonical bases of IGs whose package is loaded in full (not a partial copy): an extension
   * or profile URL under `<base>/StructureDefinition/` that no loaded package defines does not
   * exist — an error — rather than being "not loaded" (a warning). Ignored for a base that no
   * loaded package has as its canonical.
   */
  completeCanonicals?: string[];
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const t0 = performance.now();
  const registry = await loadPackages(options);
  const t1 = performance.now();
  const profiles = new Profiles(registry, options.supplements);
  const terminology = new Terminology(registry);
  const loaded = new Set(registry.packages.map((p) => p.canonical));
  const completeCanonicals = (options.completeCanonicals ?? []).filter((c) => loaded.has(c));
  const validator = new Validator({ profiles, terminology, completeCanonicals });
  if (options.precompile !== false) profiles.compileAll();
  const t2 = performance.now();
  return { registry, profiles, terminology, validator, startupMs: { load: t1 - t0, compile: t2 - t1 } };
}
