// Library entry point.
export { TdduiValidator, TdduiIg, type ValidationReport, type ValidateCallOptions } from './tddui/validator.js';
export { createEngine, createEngines, type Engine, type EngineSet } from './fhir/engine.js';
export { loadPackages, defaultPackagePaths, availableVersions, PackageLoadError } from './fhir/packages/loader.js';
export { ConformanceRegistry, PackageStore, type PackageInfo, type VersionSubstitution } from './fhir/packages/registry.js';
export { toOperationOutcome, issueCategory, countIssues, CATEGORY_SYSTEM, type IssueCategory, type OperationOutcome, type ValidationIssue } from './fhir/outcome/issue.js';
export { CODES } from './fhir/outcome/codes.js';
export { FhirError, HTTP_ERRORS, type HttpErrorDef } from './fhir/outcome/http-errors.js';
export { SearchParameterSet } from './fhir/search/parameters.js';
export type { IgModule, WriteContext } from './rest/modules.js';
export { openRepository, openDatabase, StorageError, type Repository, type SearchQuery, type SubmissionRecord } from './storage/index.js';
export { jsonToXml, xmlToJson, FhirXmlError } from './fhir/xml/index.js';
export { applyJsonPatch, applyFhirPathPatch, PatchError } from './fhir/patch/index.js';
export { ingestTransaction, type IngestContext, type IngestResult } from './ingest/index.js';
// Producer SDK (pivot format, Bundle builder/reader, generator, sender).
export {
  TdduiExport, buildBundle, BuildError, PivotError, readBundle, ReadError, parsePivot, safeParsePivot, PivotSchema, PIVOT_FORMAT,
  pivotJsonSchema, generateUsagers, writeGenerated, computeGir, girOfEvaluation, sendBundles, readItems, clipWindow, checkWindow,
  type Pivot, type PivotInput, type PivotProblem, type BuildOptions, type BuildResult, type FhirBundle, type GenerateOptions,
  type SendOptions, type SendReport, type SendItemResult,
} from './producer/index.js';

import { TdduiValidator, type ValidateCallOptions, type TdduiValidatorOptions } from './tddui/validator.js';
import type { OperationOutcome } from './fhir/outcome/issue.js';

let shared: Promise<TdduiValidator> | undefined;

/**
 * Validates a resource or Bundle against the TDDUI IG and returns an OperationOutcome.
 * The packages are loaded once (default locations, or `options.packages` on the first call).
 */
export async function validate(
  resource: unknown,
  options: ValidateCallOptions & TdduiValidatorOptions = {},
): Promise<OperationOutcome> {
  shared ??= TdduiValidator.create({ packages: options.packages, useCache: options.useCache, igs: options.igs });
  const v = await shared;
  return v.validateToOutcome(resource, options);
}
