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
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const t0 = performance.now();
  const registry = await loadPackages(options);
  const t1 = performance.now();
  const profiles = new Profiles(registry, options.supplements);
  const terminology = new Terminology(registry);
  const validator = new Validator({ profiles, terminology });
  if (options.precompile !== false) profiles.compileAll();
  const t2 = performance.now();
  return { registry, profiles, terminology, validator, startupMs: { load: t1 - t0, compile: t2 - t1 } };
}
