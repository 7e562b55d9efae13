// CSV exports and the standalone report on a real server, both databases: the files are parsed
// by a CSV library (csv-parse), their headers are the French ones, their row counts equal a
// direct count in the database, with and without the page's filters; each export is one
// AuditEvent of type Export.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { cell, SUBMISSION_COLUMNS, USAGER_COLUMNS } from './exports.js';
import { seedGenerated } from './testing/seed.js';
import { http, postgresSkipReason, readExample, startTestServer, type DbKind, type TestServer } from '../server/test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const FINESS = '480787529';

function parseCsv(text: string): Record<string, string>[] {
  return parse(text, { bom: true, delimiter: ';', columns: true, skip_empty_lines: true }) as Record<string, string>[];
}

async function csv(url: string): Promise<{ status: number; raw: Buffer; rows: Record<string, string>[]; headers: string[]; res: Response }> {
  const res = await fetch(url);
  const raw = Buffer.from(await res.arrayBuffer());
  const text = raw.toString('utf8');
  const headers = (parse(text, { bom: true, delimiter: ';', to: 1 }) as string[][])[0] ?? [];
  return { status: res.status, raw, rows: parseCsv(text), headers, res };
}

const pgSkip = await postgresSkipReason();

describe('cell()', () => {
  it('keeps a spreadsheet from running text that starts like a formula', () => {
    assert.equal(cell('=HYPERLINK("x")'), `'=HYPERLINK("x")`);
    assert.equal(cell('+33 1 23'), `'+33 1 23`);
    assert.equal(cell('@SUM(A1)'), `'@SUM(A1)`);
    assert.equal(cell('Dupont'), 'Dupont');
    assert.equal(cell(-3), -3);
    assert.equal(cell(undefined), '');
  });
});

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`CSV exports and the standalone report (${kind})`, () => {
    const skip = kind === 'postgres' ? pgSkip : undefined;
    let s: TestServer;
    let rejectedId: string;
    let acceptedId: string;
    before(async () => {
      if (skip) return;
      s = await startTestServer(kind);
      const ok = await http(s.base, { body: readExample('Bundle-tddui-bundle-example.json') });
      assert.equal(ok.status, 200);
      acceptedId = ok.headers.get('x-tddui-submission')!;
      assert.equal((await http(s.base, { body: readExample('Bundle-tddui-pp-pa-bundle-example.json') })).status, 200);
      const bad = readExample('Bundle-tddui-bundle-example.json');
      delete bad.entry[2].resource.subject;
      const ko = await http(s.base, { body: bad });
      assert.equal(ko.status, 422);
      rejectedId = ko.headers.get('x-tddui-submission')!;
      const statuses = await seedGenerated({ repo: s.repo, validator: s.validator }, 15, 'csv-export');
      assert.deepEqual([...new Set(statuses)], [200]);
    });
    after(async () => s?.stop());

    const count = async (sql: string, params: unknown[] = []) => Number((await s.repo.db.query<{ n: string }>(sql, params)).rows[0]!.n);

    it('Envois reçus: UTF-8 with BOM, `;`, French headers, every submission, the filters of the page', { skip }, async () => {
      const all = await csv(`${s.url}/envois.csv`);
      assert.equal(all.status, 200);
      assert.match(all.res.headers.get('content-type')!, /^text\/csv; charset=utf-8/);
      assert.match(all.res.headers.get('content-disposition')!, /^attachment; filename="envois-\d{4}-\d{2}-\d{2}\.csv"$/);
      assert.deepEqual([...all.raw.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'BOM');
      assert.match(all.raw.toString('utf8'), /\r\n/, 'CRLF');
      assert.deepEqual(all.headers, SUBMISSION_COLUMNS);
      assert.equal(all.rows.length, await count('SELECT count(*) AS n FROM submission'));
      const rejected = await csv(`${s.url}/envois.csv?resultat=rejete`);
      assert.equal(rejected.rows.length, await count(`SELECT count(*) AS n FROM submission WHERE outcome = 'rejected'`));
      assert.equal(rejected.rows.length, 1);
      assert.equal(rejected.rows[0]!['Identifiant de l’envoi'], rejectedId);
      assert.equal(rejected.rows[0]!['Résultat'], 'rejeté');
      assert.equal(Number(rejected.rows[0]!['Statut HTTP']), 422);
      assert.ok(Number(rejected.rows[0]!['Erreurs']) >= 1);
      const org = await csv(`${s.url}/envois.csv?organisation=${FINESS}&resultat=accepte`);
      assert.equal(org.rows.length, await count(`SELECT count(*) AS n FROM submission WHERE organization_finess = $1 AND outcome = 'accepted'`, [FINESS]));
      const future = await csv(`${s.url}/envois.csv?du=2999-01-01`);
      assert.equal(future.rows.length, 0);
      assert.deepEqual(future.headers, SUBMISSION_COLUMNS, 'headers even without rows');
    });

    it('Usagers: every stored Patient, the search and organisation filters', { skip }, async () => {
      const all = await csv(`${s.url}/usagers.csv`);
      assert.equal(all.status, 200);
      assert.deepEqual(all.headers, USAGER_COLUMNS);
      assert.equal(all.rows.length, await count(`SELECT count(*) AS n FROM resource WHERE resource_type = 'Patient' AND NOT deleted`));
      assert.equal(new Set(all.rows.map((r) => r['Identifiant serveur'])).size, all.rows.length, 'each usager once');
      const org = await csv(`${s.url}/usagers.csv?organisation=${FINESS}`);
      assert.equal(
        org.rows.length,
        await count(`SELECT count(*) AS n FROM resource WHERE resource_type = 'Patient' AND NOT deleted AND EXISTS (SELECT 1 FROM jsonb_array_elements(content->'identifier') i WHERE i->>'value' LIKE $1)`, [`3${FINESS}/%`]),
      );
      assert.ok(org.rows.every((r) => r['FINESS'] === FINESS));
      const one = all.rows.find((r) => r['Identifiant local'])!;
      const byId = await csv(`${s.url}/usagers.csv?q=${encodeURIComponent(one['Identifiant local']!)}`);
      assert.deepEqual(byId.rows.map((r) => r['Identifiant serveur']), [one['Identifiant serveur']]);
      // The page links to the export with its filters.
      const page = await http(`${s.url}/usagers?organisation=${FINESS}&tri=-naissance`, { headers: { accept: 'text/html' } });
      assert.match(page.text, /href="\/usagers\.csv\?organisation=480787529&amp;tri=-naissance"/);
    });

    it('the validation report as one standalone HTML file, styles inline and allowed by its policy', { skip }, async () => {
      const r = await fetch(`${s.url}/envois/${rejectedId}/rapport.html`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-disposition')!, /^attachment; filename="rapport-envoi-[A-Za-z0-9-]+\.html"$/);
      assert.match(r.headers.get('content-security-policy')!, /style-src 'sha256-/);
      const text = await r.text();
      assert.match(text, /<style>[\s\S]+<\/style>/);
      assert.doesNotMatch(text, /<link |<script/, 'nothing to fetch, nothing to run');
      assert.match(text, /Rapport de validation/);
      assert.match(text, /rejeté \(HTTP 422\)/);
      assert.equal((await fetch(`${s.url}/envois/inconnu/rapport.html`)).status, 404);
      const page = await http(`${s.url}/envois/${acceptedId}`, { headers: { accept: 'text/html' } });
      assert.ok(page.text.includes(`/envois/${acceptedId}/rapport.html`));
    });

    it('each export is one AuditEvent of type Export', { skip }, async () => {
      const events = await http(`${s.base}/AuditEvent?subtype=export&_count=100`);
      const paths = (events.json.entry as Json[]).map((e) => `${e.resource.type.code} ${e.resource.entity.find((x: Json) => x.role?.code === '24') ? 'query' : '-'}`);
      assert.equal(paths.length, 7, 'four exports of Envois reçus, three of Usagers');
      assert.ok(paths.every((p) => p.startsWith('110106')));
    });
  });
}
