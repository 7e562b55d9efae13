// "Qualité des envois" (issue 18) on a real server, both databases: per organisation and sending
// client, the figures of the page, of /qualite.json and of /qualite.csv (parsed by csv-parse,
// French headers) equal a direct count in the database; the most frequent failing rules and the
// last rejected submission are those recorded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { QUALITY_COLUMNS } from './exports.js';
import { http, postgresSkipReason, startTestServer, type DbKind, type TestServer } from '../server/test-support.js';
import type { SubmissionRecord } from '../storage/types.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function report(rules: string[]): Json {
  return {
    resourceType: 'OperationOutcome',
    issue: rules.map((r) => ({ severity: 'error', code: 'invalid', details: { coding: [{ system: 'urn:tddui:validation-rule', code: r }] }, diagnostics: r })),
  };
}

function submission(finess: string, client: string | undefined, outcome: 'accepted' | 'rejected', receivedAt: string, rules: string[] = []): Omit<SubmissionRecord, 'id'> {
  return {
    receivedAt,
    organizationFiness: finess,
    organizationName: `ESSMS ${finess}`,
    ...(client ? { client } : {}),
    usagers: [],
    resourceCount: 3,
    outcome,
    httpStatus: outcome === 'accepted' ? 200 : 422,
    errorCount: rules.length,
    warningCount: 0,
    report: report(rules),
  };
}

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`Qualité des envois [${kind}]`, { skip }, () => {
    let srv: TestServer;
    let lastRejectedA = '';
    before(async () => {
      srv = await startTestServer(kind);
      const r = srv.repo;
      await r.recordSubmission(submission('480787529', 'dui-a', 'accepted', '2026-11-02T10:00:00Z'));
      await r.recordSubmission(submission('480787529', 'dui-a', 'rejected', '2026-11-03T10:00:00Z', ['tddui-nir-key', 'fhir-cardinality-min']));
      lastRejectedA = (await r.recordSubmission(submission('480787529', 'dui-a', 'rejected', '2026-11-04T10:00:00Z', ['fhir-cardinality-min']))).id;
      await r.recordSubmission(submission('480787529', 'dui-a', 'accepted', '2026-11-05T10:00:00Z'));
      await r.recordSubmission(submission('480787529', 'dui-b', 'accepted', '2026-11-05T11:00:00Z'));
      await r.recordSubmission(submission('750000010', 'dui-a', 'rejected', '2026-11-06T10:00:00Z', ['tddui-period-order']));
      await r.recordSubmission(submission('750000010', 'dui-a', 'accepted', '2026-10-01T10:00:00Z'));
    });
    after(async () => srv?.stop());

    it('JSON: per organisation and client, equal to a direct count', async () => {
      const j = await http(`${srv.url}/qualite.json`);
      assert.equal(j.status, 200);
      const rows = j.json.rows as Json[];
      const direct = await srv.repo.db.query<{ finess: string; client: string; n: number; rejected: number }>(
        `SELECT organization_finess AS finess, client, count(*)::int AS n, count(*) FILTER (WHERE outcome = 'rejected')::int AS rejected FROM submission GROUP BY 1, 2`,
      );
      assert.equal(rows.length, direct.rows.length);
      for (const d of direct.rows) {
        const row = rows.find((x) => x.finess === d.finess && x.client === d.client)!;
        assert.equal(row.submissions, Number(d.n));
        assert.equal(row.rejected, Number(d.rejected));
      }
      const a = rows.find((x) => x.finess === '480787529' && x.client === 'dui-a')!;
      assert.equal(a.rejectionRate, 0.5);
      assert.deepEqual(a.topRules, [{ rule: 'fhir-cardinality-min', count: 2 }, { rule: 'tddui-nir-key', count: 1 }]);
      assert.equal(a.lastRejected.id, lastRejectedA);
      assert.equal(rows.find((x) => x.client === 'dui-b')!.rejected, 0);
      // The period filter (French days).
      const november = await http(`${srv.url}/qualite.json?du=2026-11-01&au=2026-11-30`);
      const b = (november.json.rows as Json[]).find((x) => x.finess === '750000010')!;
      assert.equal(b.submissions, 1, 'October is out');
      assert.equal(b.rejectionRate, 1);
    });

    it('CSV: French headers, parsed by a CSV library, the same figures', async () => {
      const r = await fetch(`${srv.url}/qualite.csv?du=2026-11-01&au=2026-11-30`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/csv/);
      const bytes = Buffer.from(await r.arrayBuffer());
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
      const rows = parse(bytes.toString('utf8'), { bom: true, delimiter: ';', columns: true, skip_empty_lines: true }) as Record<string, string>[];
      assert.deepEqual(Object.keys(rows[0]!), QUALITY_COLUMNS);
      const a = rows.find((x) => x['FINESS'] === '480787529' && x['Logiciel émetteur'] === 'dui-a')!;
      assert.equal(a['Envois'], '4');
      assert.equal(a['Rejetés'], '2');
      assert.equal(a['Taux de rejet (%)'], '50');
      assert.equal(a['Règles les plus fréquentes'], 'fhir-cardinality-min (2), tddui-nir-key (1)');
      assert.equal(a['Identifiant du dernier envoi rejeté'], lastRejectedA);
      assert.equal(rows.length, 3);
    });

    it('the page: French, a row per organisation and client, the last rejected submission linked', async () => {
      const p = await http(`${srv.url}/qualite`, { headers: { accept: 'text/html' } });
      assert.equal(p.status, 200);
      assert.match(p.text, /<h1>Qualité des envois<\/h1>/);
      assert.match(p.text, /Taux de rejet/);
      assert.match(p.text, /50 %/);
      assert.ok(p.text.includes(`/envois/${lastRejectedA}`), 'the last rejected submission is linked');
      assert.equal((p.text.match(/<tr><td>ESSMS /g) ?? []).length, 3);
      assert.match(p.text, /aria-current="page"[^>]*>Qualité des envois|href="\/qualite" aria-current="page"/);
      assert.doesNotMatch(p.text, /dates-inversees/);
      // Inverted dates: a hint and the swapped period (issue 20).
      const inverted = await http(`${srv.url}/qualite?du=2026-11-30&au=2026-11-01`, { headers: { accept: 'text/html' } });
      assert.match(inverted.text, /id="dates-inversees">La date de début \(30\/11\/2026\) est postérieure à la date de fin \(01\/11\/2026\) : aucun envoi ne peut correspondre/);
      assert.match(inverted.text, /href="\/qualite\?du=2026-11-01&amp;au=2026-11-30">Inverser les dates/);
    });

    it('each frequent failing rule links to its explanation (Règles de validation), in French with an example of the fix', async () => {
      const p = await http(`${srv.url}/qualite`, { headers: { accept: 'text/html' } });
      for (const id of ['tddui-nir-key', 'fhir-cardinality-min', 'tddui-period-order']) assert.ok(p.text.includes(`href="/regles/${id}"`), `${id} is linked`);
      const r = await http(`${srv.url}/regles/tddui-nir-key`, { headers: { accept: 'text/html' } });
      assert.equal(r.status, 200);
      assert.match(r.text, /<h1>Règle <code>tddui-nir-key<\/code><\/h1>/);
      assert.match(r.text, /<dt>Gravité<\/dt><dd>avertissement<\/dd>/, 'the catalogue\'s severity (a warning: the official examples carry wrong keys)');
      assert.match(r.text, /<dt>Source<\/dt><dd>tddui-business-rules I9<\/dd>/);
      const fix = /<dd id="regle-correction">([^<]+)<\/dd>/.exec(r.text)?.[1] ?? '';
      assert.ok(fix.length > 20 && !fix.startsWith('Pas encore'), 'an example of the fix is given');
      assert.match(r.text, /<dd id="regle-message">[^<]*[éèàùç]/, 'the message is the French one');
      const unknown = await http(`${srv.url}/regles/tddui-nir-clef`, { headers: { accept: 'text/html' } });
      assert.equal(unknown.status, 404);
      assert.match(unknown.text, /règles proches : [^.]*tddui-nir-key/);
      const list = await http(`${srv.url}/regles?q=nir`, { headers: { accept: 'text/html' } });
      assert.equal(list.status, 200);
      assert.ok(list.text.includes('data-rule="tddui-nir-key"'));
      assert.ok(!list.text.includes('data-rule="fhir-cardinality-min"'), 'the search filters the list');
    });
  });
}
