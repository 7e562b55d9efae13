// The ratchet on the HL7 validator's public test suite (FHIR/fhir-test-cases, R4 selection in
// ../shared/conformance/fhir-test-cases): verdict agreement and exact error count may not drop
// below the figures reached, every disagreement is listed with its reason, no case crashes.
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../testing/paths.js';
import { CONFORMANCE_DIR, describeResult, loadCases, runCases } from './conformance-suite.js';
import { CONFORMANCE_RATCHET, KNOWN_DISAGREEMENTS } from './conformance-known.js';

const present = existsSync(join(CONFORMANCE_DIR, 'cases.tsv'));

test('HL7 validator test suite: agreement at or above the ratchet, every disagreement known', { skip: !present && `no suite at ${CONFORMANCE_DIR}` }, async (t) => {
  const results = await runCases(loadCases());
  const agree = results.filter((r) => r.verdictAgrees).length;
  const exact = results.filter((r) => r.exact).length;
  const crashes = results.filter((r) => r.crash);
  const disagreements = results.filter((r) => !r.verdictAgrees);
  for (const r of disagreements) t.diagnostic(`${KNOWN_DISAGREEMENTS[r.case.name] ?? 'NOT LISTED'} — ${describeResult(r)}`);
  t.diagnostic(`verdict-agreement: ${agree}/${results.length}  exact-error-count: ${exact}/${results.length}`);
  assert.deepEqual(crashes.map((r) => `${r.case.name}: ${r.crash}`), [], 'no case may crash');
  const unlisted = disagreements.filter((r) => !(r.case.name in KNOWN_DISAGREEMENTS));
  assert.deepEqual(unlisted.map(describeResult), [], 'new disagreements (fix them, or list them with their reason in conformance-known.ts)');
  const nowAgree = Object.keys(KNOWN_DISAGREEMENTS).filter((n) => results.some((r) => r.case.name === n && r.verdictAgrees));
  assert.deepEqual(nowAgree, [], 'listed disagreements that now agree: take them out of conformance-known.ts and raise the ratchet');
  assert.ok(agree >= CONFORMANCE_RATCHET.verdict, `verdict agreement ${agree} < ratchet ${CONFORMANCE_RATCHET.verdict}`);
  assert.ok(exact >= CONFORMANCE_RATCHET.exact, `exact error count ${exact} < ratchet ${CONFORMANCE_RATCHET.exact}`);
});

test('every policy difference accepted in the suite is recorded in docs/decisions.md', () => {
  const decisions = readFileSync(join(REPO_ROOT, 'docs', 'decisions.md'), 'utf8');
  for (const [name, reason] of Object.entries(KNOWN_DISAGREEMENTS)) {
    assert.match(reason, /^(policy D-\d+|gap): /, `${name}: a reason starts with "policy D-nn: " or "gap: "`);
    const d = /^policy (D-\d+)/.exec(reason)?.[1];
    if (d) assert.ok(decisions.includes(`| ${d} |`), `${name}: ${d} is not in docs/decisions.md`);
  }
});
