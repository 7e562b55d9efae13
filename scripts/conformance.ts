// Runs the HL7 validator's test suite in one process and prints each disagreement and the
// figures (the same comparison as ../shared/conformance/fhir-test-cases/run.sh, faster).
// Usage: node dist/scripts/conformance.js [--filter SUBSTRING] [--all] [--json FILE] [--known FILE]
// --known FILE writes the list of disagreements for conformance-known.ts (reasons kept for the
// cases already listed, a `gap:` draft for new ones) and the figures reached.
import { writeFileSync } from 'node:fs';
import { describeResult, loadCases, runCases, type CaseResult } from '../src/fhir/validation/conformance-suite.js';
import { CONFORMANCE_RATCHET, KNOWN_DISAGREEMENTS } from '../src/fhir/validation/conformance-known.js';

const argv = process.argv.slice(2);
const opt = (n: string) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : undefined);
const filter = opt('--filter');
const t0 = performance.now();
const cases = loadCases(undefined, (c) => !filter || c.name.includes(filter));
const results = await runCases(cases);
const seconds = (performance.now() - t0) / 1000;
for (const r of results) if (!r.verdictAgrees || (argv.includes('--all') && !r.exact)) console.log(describeResult(r));
const agree = results.filter((r) => r.verdictAgrees).length;
const exact = results.filter((r) => r.exact).length;
const falseErrors = results.filter((r) => !r.verdictAgrees && r.case.expectedErrors === 0).length;
const json = opt('--json');
if (json) writeFileSync(json, JSON.stringify(results.map((r) => ({ name: r.case.name, family: r.case.family, expected: r.case.expectedErrors, got: r.errors?.length, crash: r.crash, java: r.javaErrors, tddui: r.errors?.map((i) => ({ expression: i.expression, rule: i.rule, message: i.message })) })), null, 1));
console.log(`${seconds.toFixed(1)} s; errors on valid files: ${falseErrors}`);
console.log(`verdict-agreement: ${agree}/${results.length}  exact-error-count: ${exact}/${results.length}`);

/** A draft reason for a new disagreement: what the HL7 validator found, or our false error. */
function draft(r: CaseResult): string {
  if (r.crash) return `gap: crash: ${r.crash.split('\n')[0].slice(0, 100)}`;
  if (r.case.expectedErrors === 0) return `gap: false error (${r.errors?.[0]?.rule}): ${r.errors?.[0]?.message.slice(0, 90)}`;
  return `gap: not checked: ${(r.javaErrors[0]?.text ?? '').slice(0, 100)}`;
}
const known = opt('--known');
if (known && !filter) {
  const lines = results.filter((r) => !r.verdictAgrees).map((r) => `  ${JSON.stringify(r.case.name)}: ${JSON.stringify(KNOWN_DISAGREEMENTS[r.case.name] ?? draft(r))},`).sort();
  writeFileSync(known, `${lines.join('\n')}\n// ratchet: { verdict: ${Math.max(agree, CONFORMANCE_RATCHET.verdict)}, exact: ${exact} }\n`);
}
