// Runs the HL7 validator's public test suite (FHIR/fhir-test-cases, the R4 selection in
// ../shared/conformance/fhir-test-cases, see its README) in one process: each case's test
// file (JSON or XML) is validated as `tddui validate --profile-only` would (plain FHIR R4
// against the case's own packages, and its --profile), and its error count compared with the
// Java validator's expected outcome. One engine per package set, shared by the cases using it.
// Used by conformance-suite.test.ts (the ratchet in npm test) and scripts/conformance.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FhirValidator } from '../fhir-validator.js';
import { readFhirInput } from '../input.js';
import type { ValidationIssue } from '../outcome/issue.js';
import { REPO_ROOT } from '../../testing/paths.js';

export const CONFORMANCE_DIR = process.env.TDDUI_CONFORMANCE_DIR ?? join(REPO_ROOT, '..', 'shared', 'conformance', 'fhir-test-cases');

export interface ConformanceCase {
  name: string;
  family: string;
  format: 'json' | 'xml';
  file: string;
  packages: string[];
  profile?: string;
  expectedErrors: number;
}

export interface CaseResult {
  case: ConformanceCase;
  /** Our error and fatal issues; undefined when validation threw. */
  errors?: ValidationIssue[];
  crash?: string;
  verdictAgrees: boolean;
  exact: boolean;
  /** The Java validator's errors (expression and text), for reading a disagreement. */
  javaErrors: { expression?: string; text?: string }[];
}

export function loadCases(dir = CONFORMANCE_DIR, filter?: (c: ConformanceCase) => boolean): ConformanceCase[] {
  const lines = readFileSync(join(dir, 'cases.tsv'), 'utf8').trimEnd().split('\n');
  const head = lines.shift()!.split('\t');
  const out: ConformanceCase[] = [];
  for (const line of lines) {
    const row = Object.fromEntries(line.split('\t').map((v, i) => [head[i], v])) as Record<string, string>;
    const args = row.args.split(' ').filter(Boolean);
    const c: ConformanceCase = {
      name: row.name,
      family: row.family,
      format: row.format as 'json' | 'xml',
      file: join(dir, row.file),
      packages: [],
      expectedErrors: Number(row.expected_errors),
    };
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--packages') c.packages.push(join(dir, args[++i]));
      else if (args[i] === '--profile') c.profile = args[++i];
    }
    if (!filter || filter(c)) out.push(c);
  }
  return out;
}

export async function runCases(cases: ConformanceCase[], dir = CONFORMANCE_DIR): Promise<CaseResult[]> {
  const expected = existsSync(join(dir, 'expected.json'))
    ? (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, { errors?: { expression?: string; text?: string }[] }>)
    : {};
  const groups = new Map<string, ConformanceCase[]>();
  for (const c of cases) {
    const key = c.packages.join('\n');
    const g = groups.get(key) ?? [];
    g.push(c);
    groups.set(key, g);
  }
  const results = new Map<ConformanceCase, CaseResult>();
  for (const group of groups.values()) {
    let validator: FhirValidator | undefined;
    let loadError: string | undefined;
    try {
      validator = await FhirValidator.create({ packages: group[0].packages, useCache: false });
    } catch (e) {
      loadError = `cannot load packages: ${(e as Error).message}`;
    }
    for (const c of group) {
      const javaErrors = expected[c.name]?.errors ?? [];
      let errors: ValidationIssue[] | undefined;
      let crash = loadError;
      if (validator) {
        try {
          const input = readFhirInput(readFileSync(c.file, 'utf8'));
          const issues = input.issue ? [input.issue] : validator.validate(input.resource, { profile: c.profile }).issues;
          errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
        } catch (e) {
          crash = (e as Error).stack ?? String(e);
        }
      }
      const got = errors?.length;
      results.set(c, {
        case: c,
        errors,
        crash,
        verdictAgrees: got !== undefined && got > 0 === c.expectedErrors > 0,
        exact: got === c.expectedErrors,
        javaErrors,
      });
    }
  }
  return cases.map((c) => results.get(c)!);
}

/** One line per disagreement: the case, both counts, the first error of each side. */
export function describeResult(r: CaseResult): string {
  const mine = r.crash ? `CRASH ${r.crash.split('\n')[0]}` : r.errors?.[0] ? `${r.errors[0].expression} ${r.errors[0].rule}: ${r.errors[0].message}` : '';
  const java = r.javaErrors[0] ? `${r.javaErrors[0].expression ?? ''} ${r.javaErrors[0].text ?? ''}` : '';
  return `${r.case.name}${r.case.format === 'xml' ? ' [xml]' : ''}: java ${r.case.expectedErrors}, tddui ${r.errors?.length ?? 'crash'}` +
    (java ? `\n    java:  ${java.slice(0, 220)}` : '') +
    (mine ? `\n    tddui: ${mine.slice(0, 220)}` : '');
}
