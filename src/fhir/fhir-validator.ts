// Plain FHIR R4 validation against the packages given, with no IG conventions on top: what
// `tddui validate` does when the package sources hold no TDDUI package (a volet, FR Core, a
// test package). The resource is checked against the base definition of its type, the
// profiles of its meta.profile and the profile asked for.
import { createEngines, resolveProfile, type Engine, type EngineSet } from './engine.js';
import { hasErrors, sortAndDedupe, type ValidationIssue } from './outcome/issue.js';
import { isObject } from './json.js';

export interface FhirValidatorOptions {
  /** Package sources (cache folders, package folders, .tgz). */
  packages: string[];
  /** Also search the FHIR package cache ~/.fhir/packages (default true). */
  useCache?: boolean;
  /** IGs to load (`name#version`); default: every package the sources name. */
  igs?: string[];
}

export interface FhirValidationReport {
  issues: ValidationIssue[];
  valid: boolean;
  /** Profiles the root resource was validated against (meta.profile and the one asked for). */
  profiles: string[];
}

export class FhirValidator {
  constructor(readonly set: EngineSet) {}

  static async create(options: FhirValidatorOptions): Promise<FhirValidator> {
    return new FhirValidator(await createEngines({ paths: options.packages, igs: options.igs, useCache: options.useCache }));
  }

  /** The engine over every package loaded. */
  get engine(): Engine {
    return this.set.all;
  }

  /** Resolves a profile given as canonical URL (optionally `|version`), `StructureDefinition/<id>`, id or name. */
  resolveProfile(p: string): string | undefined {
    return resolveProfile(this.engine, p);
  }

  validate(resource: unknown, options: { profile?: string } = {}): FhirValidationReport {
    const asked = options.profile ? [this.resolveProfile(options.profile) ?? options.profile] : [];
    const issues = sortAndDedupe(this.engine.validator.validate(resource, { profiles: asked }));
    const declared = isObject(resource) && isObject(resource.meta) && Array.isArray(resource.meta.profile) ? resource.meta.profile.filter((p): p is string => typeof p === 'string') : [];
    return { issues, valid: !hasErrors(issues), profiles: [...new Set([...asked, ...declared])] };
  }
}
