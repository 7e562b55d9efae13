// Unit tests of the UI building blocks: escaping, excerpts, report grouping, the PP tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { html, raw, href, join } from './html.js';
import { excerptFor, parsePath, resolveExpression } from './excerpt.js';
import { groupIssues, issuesFromOutcome, renderReport } from './report.js';
import { buildPpTrees, type PpNode } from './pp-tree.js';
import { frDate, mondayOf, refKey, insStatus, patientNames } from './fhir-util.js';
import { barChart, weekCalendar } from './charts.js';
import { parseFile } from './pages/validate.js';
import { usagerSearchParams } from './pages/usagers.js';
import { girOf } from './pages/usager.js';
import { readExample } from './testing/seed.js';

test('html escapes interpolated values, keeps nested templates and raw markup', () => {
  const evil = `<img src=x onerror="alert('x')">&`;
  const out = html`<p title="${evil}">${evil}${html`<b>${'<i>'}</b>`}${raw('<br>')}${[1, '<', null, undefined, false]}</p>`.value;
  assert.equal(out, `<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;<b>&lt;i&gt;</b><br>1&lt;</p>`);
  assert.equal(join(['a', '<b>'], html`<br>`).value, 'a<br>&lt;b&gt;');
  assert.equal(href('/envois', { organisation: '480787529', du: '', page: 2 }), '/envois?organisation=480787529&page=2');
});

test('expressions resolve into the submitted JSON; missing elements and non-paths are reported', () => {
  const bundle = readExample('Bundle-tddui-bundle-example.json');
  const r = resolveExpression(bundle, 'Bundle.entry[0].resource.identifier[0].value');
  assert.equal(r?.value, '147720425367411');
  assert.equal(r?.entryIndex, 0);
  assert.deepEqual(r?.missing, []);
  const missing = resolveExpression(bundle, 'Bundle.entry[2].resource.foo.bar');
  assert.equal(missing?.missing.map((s) => s.name).join('.'), 'foo.bar');
  assert.equal(parsePath("Bundle.entry.where(x = 'a')"), undefined);
  const ex = excerptFor(bundle, 'Bundle.entry[0].resource.identifier[0].value');
  assert.ok(ex);
  // A primitive is shown inside its parent object, with its line highlighted.
  assert.match(ex.fragment.value, /<span class="j-line j-mark">.*&quot;value&quot;<\/span>: <span class="j-str">&quot;147720425367411&quot;/);
  assert.match(ex.fragment.value, /urn:oid:1\.2\.250\.1\.213\.1\.4\.8/);
  const absent = excerptFor(bundle, 'Bundle.entry[2].resource.subjectx');
  assert.equal(absent?.missing, 'subjectx');
  assert.equal(absent?.location, 'Bundle.entry[2].resource');
});

test('the report groups issues by entry and by profile, with the French text and the rule id', () => {
  const bundle = readExample('Bundle-tddui-bundle-example.json');
  const oo = {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: 'error', code: 'required', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'fhir-cardinality-min' }], text: 'Encounter.subject : minimum requis = 1' }, diagnostics: 'minimum required', expression: ['Bundle.entry[2].resource'], extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-source', valueString: 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-encounter-sejour' }] },
      { severity: 'warning', code: 'value', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'tddui-nir-key' }], text: 'La clé du NIR <faux>' }, expression: ['Bundle.entry[0].resource.identifier[0].value'] },
      { severity: 'error', code: 'structure', details: { text: 'Bundle.type' }, expression: ['Bundle.type'] },
    ],
  };
  const issues = issuesFromOutcome(oo);
  assert.equal(issues.length, 3);
  const groups = groupIssues(issues, bundle);
  assert.deepEqual(groups.map((g) => g.entryIndex), [undefined, 0, 2]);
  assert.equal(groups[1].profiles[0].label, 'Règles métier TDDUI');
  assert.equal(groups[2].profiles[0].profile, 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-encounter-sejour');
  const page = renderReport(oo, bundle).value;
  assert.match(page, /La clé du NIR &lt;faux&gt;/);
  assert.match(page, /fhir-cardinality-min/);
  assert.match(page, /id="entree-2"/);
  // The clean outcome of a valid document lists nothing.
  assert.deepEqual(issuesFromOutcome({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'No issues detected during validation' }] }), []);
});

function find(nodes: PpNode[], pred: (n: PpNode) => boolean): PpNode | undefined {
  for (const n of nodes) {
    if (pred(n)) return n;
    const f = find(n.children, pred);
    if (f) return f;
  }
  return undefined;
}

test('the PA example rebuilds into one PP tree: besoins → objectifs → actions → moyens, attentes, accord', () => {
  const bundle = readExample('Bundle-tddui-pp-pa-bundle-example.json') as { entry: { resource: Record<string, unknown> }[] };
  const forest = buildPpTrees(bundle.entry.map((e) => e.resource));
  assert.equal(forest.trees.length, 1);
  assert.deepEqual(forest.orphans, []);
  const pp = forest.trees[0];
  assert.equal(pp.title, 'Projet personnalisé de Mme Jeanne L.');
  const kinds = pp.children.map((c) => c.kind);
  assert.deepEqual([...new Set(kinds)], ['accord', 'doc', 'attente', 'besoin']);
  assert.equal(kinds.filter((k) => k === 'besoin').length, 3);
  // Objectif 1 addresses besoin 1 and carries the 3 actions of objective 1 (whose basedOn names the IME CarePlan).
  const besoin1 = find([pp], (n) => n.key === 'ServiceRequest/tddui-pp-pa-servicerequest-besoin-1-example')!;
  const obj1 = besoin1.children[0];
  assert.equal(obj1.kind, 'objectif');
  assert.equal(obj1.title, 'Objectif 1');
  // Its attached document (tddui-attachment) first, then its actions.
  assert.equal(obj1.children[0].kind, 'doc');
  assert.equal(obj1.children[0].title, 'bilanobj1.pdf');
  assert.deepEqual(obj1.children[0].attachments, [{ index: 0, title: 'bilanobj1.pdf', contentType: 'application/pdf', inline: true, url: undefined, size: obj1.children[0].attachments?.[0]?.size }]);
  assert.ok((obj1.children[0].attachments?.[0]?.size ?? 0) > 100);
  assert.deepEqual(obj1.children.map((a) => a.key).sort(), [
    'DocumentReference/tddui-pp-pa-documentreference-bilan-objectif-1-example',
    'Task/tddui-pp-pa-task-action-1-ergo-example',
    'Task/tddui-pp-pa-task-action-1-ide-example',
    'Task/tddui-pp-pa-task-action-1-kine-example',
  ]);
  const kine = obj1.children.find((a) => a.key.endsWith('kine-example'))!;
  // The accord's signatory is named from the actors given (the usager among them), never as a reference.
  const accord = pp.children.find((c) => c.kind === 'accord')!;
  assert.doesNotMatch(accord.details.join(' '), /Practitioner\/|Patient\//);
  assert.equal(kine.children[0].kind, 'moyen');
  assert.match(kine.children[0].details.join(' '), /30 h de kinésithérapie/);
  const attente = pp.children.find((c) => c.kind === 'attente' && c.title.includes('Famille'))!;
  assert.ok(attente.details.includes('Prévenir les chutes'));
});

test('a usager is named by the usage name, with the birth name beside it when it differs', () => {
  const joly = { resourceType: 'Patient', gender: 'female', name: [{ use: 'official', family: 'JOLY', given: ['Jeanne'], prefix: ['MME'] }, { use: 'usual', family: 'BLANCHARD' }] };
  assert.deepEqual(patientNames(joly), { shown: 'Mme Jeanne BLANCHARD', birth: 'née JOLY' });
  assert.deepEqual(patientNames({ ...joly, gender: 'male' }).birth, 'né JOLY');
  assert.deepEqual(patientNames({ name: [{ use: 'official', family: 'MARTIN', given: ['Yves'] }] }), { shown: 'Yves MARTIN' });
  // Same family name: nothing beside. Another first name used: the full birth name beside.
  assert.deepEqual(patientNames({ name: [{ use: 'official', family: 'MARTIN', given: ['Yves'] }, { use: 'usual', family: 'MARTIN' }] }), { shown: 'Yves MARTIN' });
  assert.deepEqual(patientNames({ name: [{ use: 'official', family: 'MARTIN', given: ['Marie', 'Yvette'] }, { use: 'usual', family: 'MARTIN', given: ['Yvette'] }] }), { shown: 'Yvette MARTIN', birth: 'nom de naissance : Marie Yvette MARTIN' });
  assert.deepEqual(patientNames({}), { shown: '(sans nom)' });
});

test('the PP tree names an accord signed by the usager, and lists the documents of each element', () => {
  const patient = { resourceType: 'Patient', id: 'p1', name: [{ use: 'official', family: 'PETIT', given: ['Marguerite'] }] };
  const plan = { resourceType: 'CarePlan', id: 'cp', title: 'PP', status: 'active', supportingInfo: [{ reference: 'Consent/c1' }] };
  const consent = { resourceType: 'Consent', id: 'c1', status: 'active', dateTime: '2026-01-02', performer: [{ reference: 'Patient/p1' }] };
  const goal = {
    resourceType: 'Goal',
    id: 'g1',
    identifier: [{ system: 'https://identifiant-medicosocial-objectif.esante.gouv.fr', value: '3x/1-OBJE-1' }],
    extension: [
      { url: 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-careplan-reference', valueReference: { reference: 'CarePlan/cp' } },
      { url: 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-attachment', valueReference: { reference: 'DocumentReference/d1' } },
    ],
    description: { text: 'Marcher' },
  };
  const doc = { resourceType: 'DocumentReference', id: 'd1', content: [{ attachment: { contentType: 'application/pdf', title: 'bilan.pdf', data: 'JVBERi0xLjQK' } }, { attachment: { url: 'https://ged.example.fr/x', title: 'lien' } }] };
  const without = buildPpTrees([plan, consent, goal, doc]);
  assert.match(without.trees[0].children[0].details.join(' '), /Par : Patient\/p1/);
  const forest = buildPpTrees([plan, consent, goal, doc], { actors: new Map([['Patient/p1', patient]]) });
  const pp = forest.trees[0];
  assert.equal(pp.children[0].details[0], 'Par : Marguerite PETIT');
  const objectif = pp.children.find((c) => c.kind === 'objectif')!;
  assert.equal(objectif.children[0].kind, 'doc');
  assert.deepEqual(objectif.children[0].attachments, [
    { index: 0, title: 'bilan.pdf', contentType: 'application/pdf', inline: true, url: undefined, size: 9 },
    { index: 1, title: 'lien', contentType: undefined, inline: false, url: 'https://ged.example.fr/x', size: undefined },
  ]);
});

test('GIR, INS status, search box and file parsing', () => {
  const pa = readExample('QuestionnaireResponse-tddui-pp-pa-questionnaire-response-aggir-pa-example.json');
  assert.deepEqual(girOf(pa), { gir: 3, code: 'MED-341', display: 'GIR-3' });
  const ins = insStatus(readExample('Patient-tddui-patient-ins-example.json'));
  assert.equal(ins.ins?.kind, 'INS-NIR');
  assert.equal(ins.reliability, 'VALI');
  assert.deepEqual(usagerSearchParams('Dupont Jean'), [{ name: 'name', values: ['Dupont'] }, { name: 'name', values: ['Jean'] }]);
  assert.deepEqual(usagerSearchParams('3480787529/194704032'), [{ name: 'identifier', values: ['3480787529/194704032'] }]);
  const bad = parseFile('{"resourceType": "Bundle",\n "type": }', 'x.json');
  assert.equal(bad.ok, false);
  assert.match((bad as { message: string }).message, /^Le fichier n’est pas un JSON valide \(ligne 2, colonne \d+\)/);
  assert.match((parseFile('<Patient xmlns="http://hl7.org/fhir"><bad', 'p.xml') as { message: string }).message, /XML FHIR lisible/);
  assert.equal((parseFile('[1]', undefined) as { message: string }).message, 'Le fichier ne contient pas une ressource FHIR : la propriété « resourceType » est absente.');
  const xml = parseFile('<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><gender value="female"/></Patient>', 'p.xml');
  assert.deepEqual(xml, { ok: true, format: 'xml', resource: { resourceType: 'Patient', id: 'p1', gender: 'female' } });
});

test('dates, references and charts', () => {
  assert.equal(frDate('2023-04-14T10:30:00+02:00'), '14/04/2023 10:30');
  assert.equal(frDate('2023-04'), '04/2023');
  assert.equal(mondayOf('2023-04-16'), '2023-04-10');
  assert.equal(refKey('https://x.fr/fhir/Patient/abc/_history/2'), 'Patient/abc');
  const svg = barChart({ title: 'T <x>', labels: ['GIR 1', 'GIR 2'], series: [{ name: 'n', values: [3, 7] }] }).value;
  assert.match(svg, /<svg class="chart"/);
  assert.match(svg, /T &lt;x&gt;/);
  assert.equal((svg.match(/<rect /g) ?? []).length, 2);
  const cal = weekCalendar('2023-04-10', [
    { day: '2023-04-14', start: 630, end: 675, label: 'Visite', kind: 'evt' },
    { day: '2023-04-20', start: 600, end: 660, label: 'Hors semaine', kind: 'tr' },
  ]).value;
  assert.match(cal, /10:30 Visite/);
  assert.doesNotMatch(cal, /Hors semaine/);
});
