// Builds the validator of `tddui validate` — the TDDUI validator, or plain FHIR R4 validation
// when the package sources hold no TDDUI package — and tells what it built (versions, packages,
// load notes) and whether the --profile asked for exists: the same from the main thread and
// from a worker.
import { FhirValidator } from '../fhir/fhir-validator.js';
import { availableVersions, defaultPackagePaths } from '../fhir/packages/loader.js';
import { TDDUI_PACKAGE } from '../tddui/ig.js';
import { TdduiValidator } from '../tddui/validator.js';
import type { DocumentValidator } from './validate-job.js';

export interface ValidatorDescription {
  /** The TDDUI versions accepted; empty for plain FHIR R4 validation. */
  versions: string[];
  packages: string[];
  notes: string[];
  /** Whether the --profile given resolves (true when none is given). */
  profileKnown: boolean;
  /** Start-up of the engines, ms (packages loaded, profiles compiled). */
  startupMs: { load: number; compile: number };
}

export interface ValidatorSetup {
  packages?: string[];
  igs?: string[];
}

/**
 * Profiles are compiled on first use, not up front: a run of a few files compiles only the
 * profiles they use (start-up about halved, bench/startup.ts); a worker compiles what its own
 * files need once, then reuses it.
 */
const PRECOMPILE = false;

/** The validator for these options: TDDUI when an --ig is given or the sources hold a TDDUI package. */
export async function createValidator(o: ValidatorSetup): Promise<{ validator: DocumentValidator; describe(profile?: string): ValidatorDescription }> {
  const packages = o.packages ?? defaultPackagePaths();
  const tddui = (o.igs?.length ?? 0) > 0 || (await availableVersions(TDDUI_PACKAGE, { paths: packages })).length > 0;
  if (tddui) {
    const v = await TdduiValidator.create({ packages: o.packages, igs: o.igs, precompile: PRECOMPILE });
    const registry = v.set?.registry ?? v.engine.registry;
    return {
      validator: v,
      describe: (profile) => ({
        versions: v.igs.map((ig) => ig.version),
        packages: registry.store.packages.map((p) => `${p.name}#${p.version}`),
        notes: v.set?.loadNotes() ?? [],
        profileKnown: !profile || v.resolveProfile(profile) !== undefined,
        startupMs: v.set?.startupMs ?? v.engine.startupMs,
      }),
    };
  }
  const v = await FhirValidator.create({ packages });
  return {
    validator: { validate: (doc, opts) => v.validate(doc, { profile: opts.profile }) },
    describe: (profile) => ({
      versions: [],
      packages: v.set.registry.store.packages.map((p) => `${p.name}#${p.version}`),
      notes: v.set.loadNotes(),
      profileKnown: !profile || v.resolveProfile(profile) !== undefined,
      startupMs: v.set.startupMs,
    }),
  };
}
