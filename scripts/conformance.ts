// Runs the HL7 validator's test suite in one process and prints each disagreement and the
// figures (the same comparison as ../shared/conformance/fhir-test-cases/run.sh, faster).
// Usage: node dist/scripts/conformance.js [--filter SUBSTRING] [--all] [--json FILE]
import { writeFileSync } from 'node:fs';
import { describeResult, loadCases, runCases } from '../src/fhir/validation/conformance-suite.js';

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
