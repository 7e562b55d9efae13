// The *Pilotage* tables as CSV (issue 18), on a real server, both databases: per organisation,
// per week and per GIR, UTF-8 with a BOM, `;`, French headers, the page's filters (organisation,
// reference day, weeks), parsed by csv-parse; the figures equal direct counts in the database,
// made from the stored content (not from the search index the indicators read). And every export
// the issue lists is there: Envois reçus, Usagers, Pilotage, Qualité (CSV) and the validation
// report as a standalone HTML page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { PILOTAGE_COLUMNS } from './exports.js';
import { postgresSkipReason, startTestServer, type DbKind, type TestServer } from '../server/test-support.js';
import { seedGenerated, seedOfficial, type OfficialSeed } from './testing/seed.js';

const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const SYS_EVT = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const SYS_TR = ['https://identifiant-medicosocial-transportusager.esante.gouv.fr', 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr'];

type Row = Record<string, string>;

async function csv(url: string): Promise<{ rows: Row[]; bytes: Buffer; type: string }> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  const bytes = Buffer.from(await r.arrayBuffer());
  return { rows: parse(bytes.toString('utf8'), { bom: true, delimiter: ';', columns: true, skip_empty_lines: true }) as Row[], bytes, type: r.headers.get('content-type') ?? '' };
}

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`Pilotage as CSV [${kind}]`, { skip }, () => {
    let srv: TestServer;
    let seed: OfficialSeed;
    let day = '';
    /** The 52 weeks ending with the week of `day` (Monday to Sunday). */
    const window = { from: '', to: '' };
    /** Count of stored resources of `type` with an identifier (of `systems`, else any) whose value starts with 3 + FINESS + /. */
    const count = async (type: string, systems: string[] | undefined, finess: string, inWindow = false): Promise<number> => {
      const r = await srv.repo.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM resource r WHERE r.resource_type = $1 AND NOT r.deleted
           AND EXISTS (SELECT 1 FROM jsonb_path_query(r.content, 'lax $.identifier[*]') i WHERE ($2::text[] IS NULL OR i->>'system' = ANY($2::text[])) AND i->>'value' LIKE $3)
           AND ($4::text IS NULL OR left(coalesce(r.content->'period'->>'start', r.content->'executionPeriod'->>'start'), 10) BETWEEN $4 AND $5)`,
        [type, systems ?? null, `3${finess}/%`, inWindow ? window.from : null, window.to],
      );
      return Number(r.rows[0]!.n);
    };
    before(async () => {
      srv = await startTestServer(kind);
      seed = await seedOfficial({ repo: srv.repo, validator: srv.validator });
      const statuses = await seedGenerated({ repo: srv.repo, validator: srv.validator }, 6, 'pilotage-csv');
      assert.deepEqual([...new Set(statuses)], [200]);
      // The reference day: the last event's, so that 52 weeks ending then hold every event.
      const last = await srv.repo.db.query<{ d: string }>(`SELECT max(left(content->'period'->>'start', 10)) AS d FROM resource WHERE resource_type IN ('Encounter', 'Task')`);
      day = last.rows[0]!.d;
      const dayMs = Date.parse(`${day}T12:00:00Z`);
      const monday = dayMs - ((new Date(dayMs).getUTCDay() + 6) % 7) * 86_400_000;
      window.from = new Date(monday - 51 * 7 * 86_400_000).toISOString().slice(0, 10);
      window.to = new Date(monday + 6 * 86_400_000).toISOString().slice(0, 10);
    });
    after(async () => srv?.stop());

    it('per organisation: French headers, BOM, and the figures of a direct count', async () => {
      const { rows, bytes, type } = await csv(`${srv.url}/pilotage.csv?date=${day}&semaines=52`);
      assert.match(type, /^text\/csv; charset=utf-8/);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
      assert.ok(bytes.toString('utf8').split('\r\n')[0]!.includes(';'), '; separators');
      assert.deepEqual(Object.keys(rows[0]!), [...PILOTAGE_COLUMNS.organisations]);
      assert.ok(rows.length >= 2, 'several organisations');
      let events = 0;
      for (const row of rows) {
        const f = row.FINESS!;
        assert.equal(Number(row.Usagers), await count('Patient', [SYS_LOCAL], f), `${f}: usagers`);
        assert.equal(Number(row['Évènements']), await count('Encounter', [SYS_EVT], f, true), `${f}: events of the 52 weeks`);
        assert.equal(Number(row.Transports), await count('Task', SYS_TR, f, true), `${f}: transports of the 52 weeks`);
        assert.equal(Number(row['Évaluations']), await count('QuestionnaireResponse', undefined, f), `${f}: evaluations (any identifier of the ESSMS)`);
        assert.equal(row['Semaines'], '52');
        events += Number(row['Évènements']);
      }
      assert.ok(events > 0, 'the window holds events');
      // The organisation filter of the page: one row.
      const one = rows[0]!.FINESS!;
      const filtered = await csv(`${srv.url}/pilotage.csv?organisation=${one}&date=${day}&semaines=52`);
      assert.deepEqual(filtered.rows.map((r) => r.FINESS), [one]);
    });

    it('per week: one row per week of the window, the events of a direct count', async () => {
      const { rows } = await csv(`${srv.url}/pilotage.csv?tableau=semaines&date=${day}&semaines=52`);
      assert.deepEqual(Object.keys(rows[0]!), [...PILOTAGE_COLUMNS.semaines]);
      assert.equal(rows.length, 52);
      const total = await srv.repo.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM resource r WHERE r.resource_type = 'Encounter' AND NOT r.deleted
           AND EXISTS (SELECT 1 FROM jsonb_array_elements(r.content->'identifier') i WHERE i->>'system' = $1)
           AND left(r.content->'period'->>'start', 10) BETWEEN $2 AND $3`,
        [SYS_EVT, window.from, window.to],
      );
      assert.equal(rows.reduce((s, r) => s + Number(r['Évènements']), 0), Number(total.rows[0]!.n));
      assert.match(rows[0]!['Semaine du']!, /^\d{2}\/\d{2}\/\d{4}$/, 'French dates');
    });

    it('per GIR: six GIR rows, as many usagers as the page says are evaluated', async () => {
      const { rows } = await csv(`${srv.url}/pilotage.csv?tableau=gir&date=${day}`);
      assert.deepEqual(Object.keys(rows[0]!), [...PILOTAGE_COLUMNS.gir]);
      assert.deepEqual(rows.slice(0, 6).map((r) => r.GIR), ['GIR 1', 'GIR 2', 'GIR 3', 'GIR 4', 'GIR 5', 'GIR 6']);
      const page = await (await fetch(`${srv.url}/pilotage?date=${day}`)).text();
      const evaluated = Number(/id="evalues">([\d\s\u202f\u00a0]+)</.exec(page)![1]!.replace(/\D/g, ''));
      assert.ok(evaluated > 0);
      assert.equal(rows.reduce((s, r) => s + Number(r.Usagers), 0), evaluated);
    });

    it('every export the issue lists is there, and the report stands alone', async () => {
      for (const path of ['/envois.csv', '/usagers.csv', '/pilotage.csv', '/qualite.csv']) {
        const r = await csv(`${srv.url}${path}`);
        assert.match(r.type, /text\/csv/, path);
        assert.ok(r.rows.length > 0, path);
      }
      const rep = await fetch(`${srv.url}/envois/${seed.rejected.submissionId}/rapport.html`);
      assert.equal(rep.status, 200);
      assert.match(rep.headers.get('content-type') ?? '', /text\/html/);
      const text = await rep.text();
      assert.match(text, /<h1>Rapport de validation<\/h1>/);
      assert.ok(!/<link |<script|src="(?!data:)/.test(text), 'nothing to fetch: styles inlined, no script');
    });
  });
}
