// The generator: 500 usagers build into Bundles with zero validation errors, deterministically,
// with consistent identities (NIR/INS, FINESS, RPPS keys) and GIRs from the official algorithm.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { EXAMPLES_DIR, SHARED_FHIR } from '../../testing/paths.js';
import { luhnKey, nirKey } from '../../tddui/rules/identifiers.js';
import { TdduiValidator } from '../../tddui/validator.js';
import { issueCategory } from '../../fhir/outcome/issue.js';
import { buildBundle } from '../build/index.js';
import { windowSpan } from '../build/window.js';
import { parsePivot, type Pivot } from '../pivot/schema.js';
import { readBundle } from '../read/index.js';
import { aggirRank, computeGir, girOfEvaluation } from './aggir.js';
import { generateUsagers } from './index.js';
import { writeGenerated } from './write.js';

/** Warnings that are not about the data: "could not check" notices and IG defects (issueCategory). */
const INFRA_WARNINGS = { has: (rule: string) => issueCategory({ rule }) !== 'data' };
const today = new Date().toISOString().slice(0, 10);

let v: TdduiValidator;
let pivots: Pivot[];
let pivots23: Pivot[];
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });
  pivots = generateUsagers({ count: 500, seed: 'ci', endDate: today }).map((d, i) => parsePivot(d, `usager #${i}`));
  pivots23 = generateUsagers({ count: 500, seed: 'ci', endDate: today, igVersion: '2.3.0' }).map((d, i) => parsePivot(d, `usager #${i}`));
});

for (const version of ['2.2.0', '2.3.0'] as const) {
  test(`500 generated usagers (TDDUI ${version}) build into Bundles that validate with zero errors under ${version} against the complete packages (and no data warning)`, () => {
    const kinds = { ssiad: 0, pp: 0, entries: 0, observations: 0 };
    const unexpected: string[] = [];
    for (const p of version === '2.2.0' ? pivots : pivots23) {
      const { bundle } = buildBundle(p);
      kinds.entries += bundle.entry.length;
      kinds.observations += bundle.entry.filter((e) => e.resource.resourceType === 'Observation').length;
      if (p.evenements.length) kinds.ssiad++;
      if (p.projetsPersonnalises.length) kinds.pp++;
      const r = v.validate(bundle, { ig: version });
      assert.equal(r.ig, `ans.fhir.fr.tddui#${version}`);
      for (const i of r.issues) {
        if (i.severity === 'error' || i.severity === 'fatal' || (i.severity === 'warning' && !INFRA_WARNINGS.has(i.rule))) {
          unexpected.push(`${p.usager.idLocal} ${i.severity} ${i.rule} ${i.expression} ${i.message}`);
        }
      }
    }
    assert.deepEqual(unexpected.slice(0, 10), []);
    assert.ok(kinds.ssiad > 200 && kinds.pp > 100, JSON.stringify(kinds));
    if (version === '2.3.0') assert.ok(kinds.observations > 100, JSON.stringify(kinds));
  });

  test(`round trip is lossless on generated data (TDDUI ${version}, 500 usagers)`, () => {
    for (const p of version === '2.2.0' ? pivots : pivots23) {
      const back = readBundle(JSON.parse(JSON.stringify(buildBundle(p).bundle)));
      assert.deepEqual(back[0], JSON.parse(JSON.stringify(p)), p.usager.idLocal);
    }
  });
}

test('2.3.0 generated data: the new fields are there, the Bundle pins its version, the 2.2.0 content is the same', () => {
  const withField = (k: string) => pivots23.filter((p) => (p.usager as Record<string, unknown>)[k] !== undefined).length;
  for (const k of ['nationalite', 'situationFoyer', 'commentaire', 'permisConduire']) assert.ok(withField(k) > 20, k);
  const obs = pivots23.flatMap((p) => p.observations ?? []);
  for (const t of ['mobilite', 'periode-scolaire']) assert.ok(obs.some((o) => o.type === t), t);
  assert.ok(pivots23.some((p) => p.evenements.some((e) => e.valideParUsager)));
  assert.deepEqual(buildBundle(pivots23[0]).bundle.meta.profile, ['https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-bundle|2.3.0']);
  assert.deepEqual(pivots23[3].usager.nomNaissance, pivots[3].usager.nomNaissance);
  assert.equal(pivots23[3].evenements.length, pivots[3].evenements.length);
});

test('deterministic: same seed, same data; another seed, other data; usager i does not depend on the count', () => {
  const a = generateUsagers({ count: 20, seed: 7, endDate: '2026-06-15' });
  const b = generateUsagers({ count: 20, seed: 7, endDate: '2026-06-15' });
  assert.deepEqual(a, b);
  assert.notDeepEqual(generateUsagers({ count: 20, seed: 8, endDate: '2026-06-15' }), a);
  assert.deepEqual(generateUsagers({ count: 5, seed: 7, endDate: '2026-06-15' }), a.slice(0, 5));
  assert.deepEqual(buildBundle(a[3], { skipWindow: true }).bundle, buildBundle(b[3], { skipWindow: true }).bundle);
});

test('identities: NIR key and consistency with sex, birth date and place; FINESS and RPPS Luhn keys', () => {
  let withIns = 0;
  let corsica = 0;
  for (const p of pivots) {
    const u = p.usager;
    const nir = u.ins?.matricule ?? u.nss;
    if (u.ins) withIns++;
    if (nir) {
      assert.equal(Number(nir.slice(13)), nirKey(nir.slice(0, 13)), nir);
      assert.equal(nir[0], u.sexe === 'male' ? '1' : '2');
      assert.equal(nir.slice(1, 3), u.dateNaissance!.slice(2, 4));
      assert.equal(nir.slice(3, 5), u.dateNaissance!.slice(5, 7));
      assert.equal(Number(nir.slice(10, 13)), u.rangNaissance);
      if (u.lieuNaissance?.codeInsee) assert.equal(nir.slice(5, 10), u.lieuNaissance.codeInsee);
      else assert.equal(nir.slice(5, 7), '99');
      if (/^2[AB]/.test(nir.slice(5, 7))) corsica++;
    }
    assert.equal(Number(p.structure.finess[8]), luhnKey(p.structure.finess.slice(0, 8)));
    for (const pr of p.professionnels) {
      assert.match(pr.idNatPs, /^8\d{11}$/);
      assert.equal(Number(pr.idNatPs[11]), luhnKey(pr.idNatPs.slice(1, 11)));
    }
  }
  assert.ok(withIns > 250 && withIns < 450, `with INS: ${withIns}`);
  assert.ok(corsica > 0, 'Corsican births exercise the 2A/2B key');
});

test('SSIAD agendas cover 1 to 5 weeks; every week count occurs', () => {
  const weeks = new Set<number>();
  for (const p of pivots.filter((x) => x.evenements.length)) {
    const span = windowSpan(p)!;
    assert.ok(span.days >= 7 && span.days <= 35, `${p.usager.idLocal}: ${span.days} days`);
    weeks.add(Math.ceil(span.days / 7));
  }
  assert.deepEqual([...weeks].sort(), [1, 2, 3, 4, 5]);
});

test('AGGIR algorithm (CASF annexe 2-2): reference cases and the official examples', () => {
  const all = (m: 'A' | 'B' | 'C') => ({ coherence: m, orientation: m, toilette: m, habillage: m, alimentation: m, elimination: m, transferts: m, deplacementInterieur: m });
  assert.equal(aggirRank(all('C')), 1);
  assert.equal(computeGir(all('C')), 1);
  assert.equal(aggirRank(all('A')), 13);
  assert.equal(computeGir(all('A')), 6);
  // Group A, rank 2: 4380 > C coherence+orientation+transferts+déplacement (4200) ≥ 4140.
  assert.equal(aggirRank({ ...all('A'), coherence: 'C', orientation: 'C', transferts: 'C', deplacementInterieur: 'C' }), 2);
  // Group B (rank 4): coherence C, orientation C, transferts B... sum A = 3320 + ... < 3390; B = 1500+1200+120+320?
  assert.equal(aggirRank({ ...all('A'), coherence: 'C', orientation: 'C', toilette: 'B', habillage: 'B', elimination: 'B' }), 4);
  // Only toilette and habillage partial: group H, sum 4000 → rank 11 → GIR 4.
  assert.equal(aggirRank({ ...all('A'), toilette: 'B', habillage: 'B' }), 11);
  assert.equal(computeGir({ ...all('A'), toilette: 'B', habillage: 'B' }), 4);
  for (const [file, type] of [
    ['QuestionnaireResponse-tddui-questionnaire-response-aggir-pa-example.json', 'aggir-pa'],
    ['QuestionnaireResponse-tddui-questionnaire-response-aggir-ph-example.json', 'aggir-ph'],
  ] as const) {
    const qr = JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8'));
    const answer = qr.item[0].answer[0];
    const variables = answer.item.map((i: any) => ({ item: i.linkId, modalite: ({ qf0: 'A', qf2: 'B', qf4: 'C' } as const)[i.answer[0].valueCoding.code as 'qf0'] }));
    assert.equal(girOfEvaluation(type, variables), 2, file);
    assert.equal(answer.valueCoding.code, 'MED-340');
  }
  // Generated grids carry the GIR the algorithm gives for their modalities.
  const girs = new Set<number>();
  for (const p of pivots) {
    for (const e of p.evaluations) {
      if ((e.type === 'aggir-pa' || e.type === 'aggir-ph') && e.variables) {
        assert.equal(girOfEvaluation(e.type, e.variables), e.gir);
        girs.add(e.gir!);
      }
    }
  }
  assert.ok(girs.size >= 5, `GIRs seen: ${[...girs]}`);
});

test('writeGenerated writes DIR/pivot and DIR/bundles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tddui-gen-'));
  try {
    const r = writeGenerated({ count: 4, seed: 1, out: dir, endDate: today });
    assert.equal(r.usagers, 4);
    assert.equal(readdirSync(join(dir, 'pivot')).length, 4);
    const bundles = readdirSync(join(dir, 'bundles'));
    assert.equal(bundles.length, 4);
    const b = JSON.parse(readFileSync(join(dir, 'bundles', bundles[0]), 'utf8'));
    assert.equal(b.resourceType, 'Bundle');
    writeGenerated({ count: 3, seed: 1, out: join(dir, 'nd'), ndjson: true, endDate: today });
    assert.equal(readFileSync(join(dir, 'nd', 'pivot', 'usagers.ndjson'), 'utf8').trim().split('\n').length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
