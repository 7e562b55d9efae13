// bench/ui: page load times of the web UI with 10,000 usagers stored (UI_BENCH_USAGERS), each with
// its ratio to an anchor page that reads no data, and the query plans of the pages' queries.
// A real server (embedded PGlite in memory, or PostgreSQL with UI_BENCH_DATABASE=postgres://…)
// receives the official Bundles and generated usagers through the ingest pipeline; stored usagers
// are then copied (new ids and identifiers, batched writes with the search index and the derived
// tables) up to UI_BENCH_USAGERS Patients: SSIAD usagers and, in their share among the generated
// ones, usagers with a projet personnalisé (its dates moved back by up to a year, so that some
// reviews are due); the derived tables are then checked against their full recomputation. Each page is fetched once ("first": cold, and for Pilotage the
// computation of the aggregates, cached until the data changes), then UI_BENCH_ROUNDS times;
// the median and the worst time (server-side rendering + transfer, HTTP on 127.0.0.1) are printed.
// UI_BENCH_REUSE=1 times an already filled database (at least UI_BENCH_USAGERS Patients) as it is.
// The database is analysed before the pages are timed (UI_BENCH_ANALYZE=0: not).
import { performance } from 'node:perf_hooks';
import { startServer } from '../src/server/app.js';
import type { Queryable } from '../src/storage/types.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { cloneUsagers, derivedTablesDiffer, seedGenerated, seedOfficial } from '../src/ui/testing/seed.js';

const TOTAL = Number(process.env.UI_BENCH_USAGERS ?? 10_000);
const GENERATED = Number(process.env.UI_BENCH_GENERATED ?? 150);
const ROUNDS = Number(process.env.UI_BENCH_ROUNDS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const srv = await startServer({ port: 0, dataDir: process.env.UI_BENCH_DATABASE ? undefined : 'memory://', database: process.env.UI_BENCH_DATABASE, packages: [SHARED_FHIR], logLevel: 'warn', limits: { readRate: 0, writeRate: 0 } });
  try {
    const ctx = { repo: srv.repo, validator: srv.validator };
    // UI_BENCH_REUSE=1: a database already filled by a previous run (at least TOTAL Patients) is
    // timed as it is: no ingestion, no copy, no check of the derived tables (UI_BENCH_CHECK=1 to
    // run it anyway); the official submissions are the first three of the log.
    const stored = Number((await srv.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0]!.n);
    const reuse = process.env.UI_BENCH_REUSE === '1' && stored >= TOTAL;
    let official: { rejected: { submissionId?: string }; pa: { submissionId?: string } };
    let statuses: number[] = [];
    let written = 0;
    const t1 = performance.now();
    if (reuse) {
      const first = (await srv.repo.db.query<{ id: string }>(`SELECT id FROM submission ORDER BY seq LIMIT 3`)).rows.map((r) => r.id);
      official = { pa: { submissionId: first[1] }, rejected: { submissionId: first[2] } };
    } else {
      official = await seedOfficial(ctx);
    }
    const t2a = performance.now();
    if (!reuse) statuses = await seedGenerated(ctx, GENERATED, 'bench-ui');
    const t2 = performance.now();
    if (!reuse) written = await cloneUsagers(srv.repo, TOTAL, { ppShare: 'stored' });
    const t3 = performance.now();
    // The derived tables kept by the copy's writes equal their full recomputation (today, half a year ago, in a year).
    const dayOf = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const check = !reuse || process.env.UI_BENCH_CHECK === '1';
    const problems = check ? await derivedTablesDiffer(srv.repo, [dayOf(0), dayOf(-182), dayOf(365)]) : [];
    const t4 = performance.now();
    // The copy writes through the storage's batch path, not through the server's ingestion, whose
    // statistics pass (storage/statistics.ts, D-298) would have analysed tables grown this much:
    // without it the planner plans the pages' searches on the statistics of the near-empty
    // tables (a reference search then ANDed the whole search_reference_res_idx range of a type:
    // 18-22 ms instead of 0.1). UI_BENCH_ANALYZE=0 skips it.
    let analyzeMs: number | undefined;
    if (process.env.UI_BENCH_ANALYZE !== '0') {
      const ta = performance.now();
      await srv.repo.db.query('ANALYZE');
      analyzeMs = performance.now() - ta;
    }
    const counts = await srv.repo.db.query<{ resource_type: string; n: number }>('SELECT resource_type, count(*)::int AS n FROM resource GROUP BY 1 ORDER BY 2 DESC');
    console.log(`database: ${srv.repo.db.kind}; start-up ${((t1 - t0) / 1000).toFixed(1)} s`);
    if (reuse) console.log(`reused the stored database (${stored} Patients): nothing ingested or copied`);
    else console.log(`ingested ${GENERATED} generated usagers in ${((t2 - t2a) / 1000).toFixed(1)} s (${statuses.filter((s) => s === 200).length} accepted); copied ${written} resources in ${((t3 - t2) / 1000).toFixed(1)} s`);
    console.log(`stored: ${counts.rows.map((r) => `${r.resource_type} ${r.n}`).join(', ')}`);
    const pp = await srv.repo.db.query<{ n: number }>(`SELECT count(DISTINCT content->'subject'->>'reference')::int AS n FROM resource WHERE resource_type = 'CarePlan' AND NOT deleted`);
    console.log(`usagers with a projet personnalisé: ${pp.rows[0]!.n}`);
    if (check) console.log(`derived tables against their full recomputation (${((t4 - t3) / 1000).toFixed(1)} s): ${problems.length ? `DIFFER — ${problems.join('; ')}` : 'equal'}`);
    else console.log('derived tables: not checked (reused database)');
    console.log(analyzeMs === undefined ? 'statistics: not analysed (UI_BENCH_ANALYZE=0)' : `statistics: ANALYZE of the database, ${(analyzeMs / 1000).toFixed(1)} s`);
    if (problems.length) throw new Error('the derived tables differ from their full recomputation');

    // Pages to time: lists (first and deep pages, searches), one usager of each kind, pilotage.
    const pick = async (sql: string) => (await srv.repo.db.query<{ id: string }>(sql)).rows[0]?.id;
    const ppUsager = await pick(`SELECT substring(content->'subject'->>'reference' from 9) AS id FROM resource WHERE resource_type = 'CarePlan' LIMIT 1`);
    // The copied usager with the largest projet (most resources referring to their CarePlan): the worst case of the page.
    const ppLargest = await pick(`SELECT substring(c.content->'subject'->>'reference' from 9) AS id FROM resource c
        CROSS JOIN LATERAL (SELECT count(*) AS n FROM search_reference s WHERE s.target_type = 'CarePlan' AND s.target_id = c.id) t
       WHERE c.resource_type = 'CarePlan' AND NOT c.deleted ORDER BY t.n DESC, c.id LIMIT 1`);
    // The ESSMS with the most validated projets, for its own Revues list.
    const revuesFiness = await pick(`SELECT finess AS id FROM ppa_validation WHERE finess IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`);
    const ssiadUsager = await pick(`SELECT substring(content->'subject'->>'reference' from 9) AS id FROM resource WHERE resource_type = 'Encounter' ORDER BY last_updated DESC LIMIT 1`);
    const someId = (await srv.repo.search({ resourceType: 'Patient', params: [], count: 1, offset: 5000 })).matches[0]?.resource as { identifier?: { value?: string }[] } | undefined;
    const finess = (await srv.repo.listSubmissions({ count: 1, offset: 0, outcome: 'accepted' })).items[0]?.organizationFiness;
    const pages: [string, string][] = [
      ['Envois reçus (page 1)', '/envois'],
      ['Envois reçus (filtre rejetés)', '/envois?resultat=rejete'],
      ['Rapport de validation (rejeté)', `/envois/${official.rejected.submissionId}`],
      ['Rapport de validation (accepté, PA)', `/envois/${official.pa.submissionId}`],
      ['Usagers (page 1, tri par nom)', '/usagers'],
      ['Usagers (page 200)', '/usagers?page=200'],
      ['Usagers (dernière page)', `/usagers?page=${Math.ceil(TOTAL / 25)}`],
      ['Usagers (recherche « martin »)', '/usagers?q=martin'],
      ['Usagers (recherche identifiant)', `/usagers?q=${encodeURIComponent(someId?.identifier?.[0]?.value ?? '0')}`],
      ['Usager (projet personnalisé)', `/usagers/${ppUsager}`],
      ['Usager (plus grand projet)', `/usagers/${ppLargest}`],
      ['Usager (SSIAD)', `/usagers/${ssiadUsager}`],
      ['Pilotage (toutes)', '/pilotage'],
      ['Pilotage (une organisation)', `/pilotage?organisation=${finess ?? ''}`],
      ['Revues à prévoir', '/revues'],
      ['Revues à prévoir (page 2)', '/revues?page=2'],
      ['Revues à prévoir (une organisation)', `/revues?organisation=${revuesFiness ?? ''}`],

    ];
    // The anchor, first: the upload form, which reads no data (HTTP, routing, layout); each
    // page's ratio to it is what the data cost, on this machine at this moment.
    pages.unshift(['Valider un fichier (formulaire, ancre)', '/valider']);
    let anchor = 0;
    let lastBody = '';
    let revues = -1;
    let revuesTotal = '?';
    console.log(`\n${'page'.padEnd(40)} ${'first ms'.padStart(9)} ${'median ms'.padStart(10)} ${'max ms'.padStart(8)} ${'KiB'.padStart(6)} ${'× ancre'.padStart(8)}`);
    for (const [label, path] of pages) {
      const times: number[] = [];
      let size = 0;
      let first = 0;
      for (let i = 0; i <= ROUNDS; i++) {
        const t = performance.now();
        const res = await fetch(srv.url + path);
        const body = await res.text();
        const ms = performance.now() - t;
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        size = body.length;
        lastBody = body;
        if (i > 0) times.push(ms);
        else first = ms;
      }
      anchor ||= median(times);
      if (path === '/revues') {
        revues = (lastBody.match(/<tr data-careplan=/g) ?? []).length;
        revuesTotal = /\(([\d\s\u202f]+) projets? à réviser\)/.exec(lastBody)?.[1]?.replace(/\D/g, '') ?? '0';
      }
      console.log(`${label.padEnd(40)} ${first.toFixed(0).padStart(9)} ${median(times).toFixed(1).padStart(10)} ${Math.max(...times).toFixed(0).padStart(8)} ${(size / 1024).toFixed(0).padStart(6)} ${(median(times) / anchor).toFixed(1).padStart(8)}`);
    }
    console.log(`\nRevues à prévoir: ${revuesTotal} projets personnalisés due for review, ${revues} on its first page`);
    await explain(srv.repo.db, ppUsager ?? '');
    // The queries of the usager page with a projet and of Revues à prévoir, as the server runs
    // them (recorded during one fetch), explained.
    for (const [label, path] of [['Usager (projet personnalisé)', `/usagers/${ppUsager}`], ['Usager (plus grand projet)', `/usagers/${ppLargest}`], ['Revues à prévoir', '/revues'], ['Revues à prévoir (page 2)', '/revues?page=2'], ['Revues à prévoir (une organisation)', `/revues?organisation=${revuesFiness ?? ''}`]] as const) {
      await explainPage(srv.repo.db, label, async () => void (await (await fetch(srv.url + path)).text()));
    }
  } finally {
    await srv.close();
  }
}

/**
 * The plans of the queries behind those pages (EXPLAIN ANALYZE), reduced to their scan nodes:
 * every one must read an index, not a table (issue 19).
 */
async function explain(db: Queryable, patientId: string): Promise<void> {
  const local = await db.query<{ local_id: string | null }>(`SELECT local_id FROM usager_sort WHERE id = $1`, [patientId]);
  const localId = local.rows[0]?.local_id ?? '';
  // The page /usagers?page=ceil(TOTAL/25) times: skip and take within the named segment, as listUsagers computes them.
  const named = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usager_sort u WHERE u.name_key IS NOT NULL`);
  const lastSize = Number(named.rows[0]!.n);
  const lastSkip = Math.min(lastSize - 1, (Math.ceil(TOTAL / 25) - 1) * 25);
  const lastTake = Math.min(25, lastSize - lastSkip);
  const queries: [string, string, unknown[]][] = [
    ['Usagers, page 1 (nom)', `SELECT u.id FROM usager_sort u WHERE true AND u.name_key IS NOT NULL ORDER BY u.name_key ASC, u.id ASC LIMIT 25 OFFSET 0`, []],
    // The last page is read from the end of the index, in reverse (listUsagers: a page in the second half of a segment).
    ['Usagers, dernière page (nom)', `SELECT u.id FROM usager_sort u WHERE true AND u.name_key IS NOT NULL ORDER BY u.name_key DESC, u.id DESC LIMIT ${lastTake} OFFSET ${lastSize - lastSkip - lastTake}`, []],
    ['Usagers, total', `SELECT u.name_key IS NULL AS absent, count(*)::int AS n FROM usager_sort u WHERE true GROUP BY 1`, []],
    [
      'Usager: ses envois',
      `SELECT id FROM submission WHERE usagers @> jsonb_build_array(jsonb_build_object('id', $1::text))
          OR ($2::text IS NOT NULL AND usagers @> jsonb_build_array(jsonb_build_object('localId', $2::text))) ORDER BY received_at DESC, id DESC LIMIT 20`,
      [patientId, localId],
    ],
    [
      'Usager: actions du projet (Task)',
      `SELECT r.id FROM resource r WHERE r.resource_type = 'Task' AND r.deleted = false
          AND r.id IN (SELECT t.id FROM search_token t WHERE t.resource_type = 'Task' AND t.param = 'identifier' AND t.code LIKE $1) LIMIT 2000`,
      [localId.replace(/[\\%_]/g, (c) => `\\${c}`) + '-%'],
    ],
    ['Envois reçus, page 1', `SELECT id FROM submission ORDER BY received_at DESC, seq DESC LIMIT 25 OFFSET 0`, []],
    [
      'Pilotage (chiffres du jour)',
      `SELECT kind, finess, key, sum(n)::int AS n FROM pilotage_count
        WHERE kind IN ('evt', 'usager', 'pro', 'usagers') OR (kind IN ('stays', 'active', 'gir', 'eval') AND day <= $1::date) GROUP BY 1, 2, 3`,
      [new Date().toISOString().slice(0, 10)],
    ],
    [
      'Revues dues (Pilotage, par ESSMS)',
      `SELECT finess, to_char(validated_day, 'YYYY-MM-DD') AS day, count(*)::int AS n FROM ppa_validation WHERE validated_day <= $1::date GROUP BY 1, 2`,
      [new Date().toISOString().slice(0, 10)],
    ],
  ];
  const plans = await db.query<{ n: number; due: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE validated_day <= now()::date - 365)::int AS due FROM ppa_validation`);
  console.log(`\nppa_validation: ${plans.rows[0]!.n} validated projets personnalisés, ${plans.rows[0]!.due} validated over a year ago`);
  console.log('\nquery plans (EXPLAIN ANALYZE; scan nodes only)');
  for (const [label, sql, params] of queries) {
    const plan = await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, COSTS OFF) ${sql}`, params);
    const lines = plan.rows.map((r) => Object.values(r)[0]!);
    const scans = lines.filter((l) => /Scan|Execution Time/.test(l)).map((l) => l.trim().replace(/^->\s*/, ''));
    console.log(`${label}:\n  ${scans.join('\n  ')}`);
  }
}

/** The SELECTs run during `run()` (on `db`), each explained (EXPLAIN ANALYZE, scan nodes and time). */
async function explainPage(db: Queryable, label: string, run: () => Promise<void>): Promise<void> {
  const recorded: [string, readonly unknown[] | undefined][] = [];
  const query = db.query.bind(db);
  db.query = ((sql: string, params?: readonly unknown[]) => {
    recorded.push([sql, params ? [...params] : params]);
    return query(sql, params);
  }) as Queryable['query'];
  try {
    await run();
  } finally {
    db.query = query;
  }
  console.log(`\n${label}: ${recorded.length} statements`);
  for (const [sql, params] of recorded) {
    const text = sql.replace(/\s+/g, ' ').trim();
    if (!/^(SELECT|WITH)\b/i.test(text) || /\b(INSERT|UPDATE|DELETE)\b/i.test(text)) {
      console.log(`  (not explained) ${text.slice(0, 80)}`);
      continue;
    }
    const plan = await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, COSTS OFF) ${sql}`, params);
    const lines = plan.rows.map((r) => Object.values(r)[0]!);
    const scans = lines.filter((l) => /Scan|Execution Time/.test(l)).map((l) => l.trim().replace(/^->\s*/, '').replace(/ \(actual time=[\d.]+\.\.[\d.]+ /, ' ('));
    console.log(`  ${text.slice(0, 110)}…\n    ${scans.join('\n    ')}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
