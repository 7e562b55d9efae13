// One file through `tddui validate`: read, parse (JSON or XML), validate, and the result the
// reports need — the same code in the main thread and in the worker threads (validate-worker.ts).
import { readFile } from 'node:fs/promises';
import { readFhirInput } from '../fhir/input.js';
import { countIssues, toOperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { renderReport } from '../ui/report.js';

/** What validates one document: the TDDUI validator, or plain FHIR R4 when no TDDUI package is loaded. */
export interface DocumentValidator {
  validate(doc: unknown, opts: { profile?: string; profileOnly?: boolean }): { issues: ValidationIssue[]; valid: boolean; profiles: string[]; ig?: string };
}

export interface JobOptions {
  profile?: string;
  profileOnly: boolean;
  /** Render the French HTML report of every file, of the files that are not valid, or of none (`--format html`). */
  html: 'all' | 'not-valid' | 'none';
}

export type FileStatus = 'valid' | 'invalid' | 'unreadable';

export interface FileResult {
  file: string;
  format?: 'json' | 'xml';
  /** valid: no error; invalid: errors; unreadable: not parseable as JSON or XML (a fatal issue). */
  status: FileStatus;
  /** The TDDUI version that decided (`ans.fhir.fr.tddui#2.3.0`). */
  ig?: string;
  profiles: string[];
  issues: ValidationIssue[];
  /** Errors and data warnings (notices and IG defects apart, as in the reports). */
  errors: number;
  warnings: number;
  ms: number;
  /** The French HTML report of this file (JobOptions.html). */
  html?: string;
}

/** Validates one file; a file that cannot be read at all throws (the caller says so and stops). */
export async function validateFile(validator: DocumentValidator, file: string, opts: JobOptions): Promise<FileResult> {
  const text = await readFile(file, 'utf8');
  const t0 = performance.now();
  const parsed = readFhirInput(text);
  if (parsed.issue) {
    const issues = [parsed.issue];
    return {
      file,
      format: parsed.format,
      status: 'unreadable',
      profiles: [],
      issues,
      errors: 1,
      warnings: 0,
      ms: performance.now() - t0,
      html: opts.html !== 'none' ? renderReport(toOperationOutcome(issues), undefined).value : undefined,
    };
  }
  const report = validator.validate(parsed.resource, { profile: opts.profile, profileOnly: opts.profileOnly });
  const c = countIssues(report.issues);
  const withHtml = opts.html === 'all' || (opts.html === 'not-valid' && !report.valid);
  return {
    file,
    format: parsed.format,
    status: report.valid ? 'valid' : 'invalid',
    ig: report.ig,
    profiles: report.profiles,
    issues: report.issues,
    errors: c.errors,
    warnings: c.warnings,
    ms: performance.now() - t0,
    html: withHtml ? renderReport(toOperationOutcome(report.issues), parsed.resource).value : undefined,
  };
}
