// bench/year: a year of weekly SSIAD resends (issue 19, "A year simulated"). U usagers of the
// project's generator (src/producer/generate, SSIAD ones), each sending every week the last five
// weeks of their history (the SSIAD window, 35 days), for W weeks, through ingestTransaction
// (validation, resend matching, versioned writes, index, submission log: what `POST /fhir`
// does minus HTTP) into a fresh PostgreSQL database — twice, side by side, week by week: with the
// no-op rule (D-60: an unchanged resent object writes nothing) and without it
// (`versionUnchanged`, every resent object a new version, as before issue 19).
//
// Week to week, what changes is what changes in a SSIAD: the window slides by a week (the new
// week's visits and professionals' journeys appear, the oldest week is no longer sent — it
// stays stored), the visits planned for the last day of last week's window are now done
// (status finished, usager present; their journeys completed), one visit in eight gets its
// compte rendu written a week late, and every 13 weeks a new AGGIR evaluation replaces the
// current one. The usager, the séjour, the facility, its professionals and the current
// evaluation are resent unchanged every week — what the no-op rule saves.
//
// Printed per week: Bundles/s and resources/s of each variant, versions written, database
// size; at the end, database size, versions stored (current and history), current resources,
// for both. Knobs: --usagers=N (default 1000), --weeks=N (52), --validation=off (storage
// alone), --seed=S, --concurrency=N (Bundles in flight per variant, default 4 as `tddui send`),
// --variant=on|off|both (one variant per process: two processes on two databases run the two
// side by side), --stop-at=TIME (no week started after it). SIGINT/SIGTERM, or --stop-at, ends
// the run after the current week and reports the weeks done.
import { performance } from 'node:perf_hooks';
import { ingestTransaction } from '../src/ingest/index.js';
import { buildBundle, generateUsagers, type PivotInput } from '../src/producer/index.js';
import { openRepository } from '../src/storage/index.js';
import type { Repository } from '../src/storage/types.js';
import { TdduiValidator } from '../src/tddui/validator.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { createTestDatabase } from '../src/storage/testing.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function flag(name: string, dflt: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : (process.env[`BENCH_YEAR_${name.toUpperCase()}`] ?? dflt);
}
function intFlag(name: string, dflt: number): number {
  const n = Number(flag(name, String(dflt)));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const USAGERS = intFlag('usagers', 1000);
const WEEKS = intFlag('weeks', 52);
const VALIDATION = flag('validation', 'on') !== 'off';
const SEED = flag('seed', 'year');
const CONCURRENCY = intFlag('concurrency', 4);
const VARIANT = flag('variant', 'both');
/** No week is started after this time (ISO 8601, e.g. 2026-12-06T19:30Z): a run cut to fit reports the weeks done. */
const STOP_AT = flag('stop-at', '') ? Date.parse(flag('stop-at', '')) : Infinity;
if (Number.isNaN(STOP_AT)) throw new Error('--stop-at must be an ISO 8601 time');
if (!['on', 'off', 'both'].includes(VARIANT)) throw new Error('--variant must be on, off or both');
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DAY = 86_400_000;
/** The first week's last day (a Sunday); week w ends 7w days later. */
const FIRST_END = '2026-01-04';

const dayOf = (iso: string) => Date.parse(`${iso.slice(0, 10)}T00:00:00Z`);
const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);
/** The same local time `days` later (the date part moved; the offset string kept). */
const shift = (iso: string, days: number) => `${isoDay(dayOf(iso) + days * DAY)}${iso.slice(10)}`;
/** A stable pseudo-random choice per id (which visits get a late compte rendu). */
const lateReport = (id: string) => [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 8 === 0;

interface SimUsager {
  base: Json;
  end0: number;
  /** The visits (and journeys) of the base history's last 7 days: the pattern of every later week. */
  pattern: { events: Json[]; transports: Json[] };
}

function simUsagers(): SimUsager[] {
  // About 60 % of generated usagers are SSIAD ones; generate enough, keep the SSIAD ones.
  const all = generateUsagers({ count: Math.ceil(USAGERS / 0.5) + 10, seed: SEED, endDate: FIRST_END }) as Json[];
  const ssiad = all.filter((u) => (u.evenements ?? []).length > 0 && !(u.projetsPersonnalises ?? []).length).slice(0, USAGERS);
  if (ssiad.length < USAGERS) throw new Error(`only ${ssiad.length} SSIAD usagers generated`);
  const end0 = dayOf(FIRST_END);
  return ssiad.map((base) => {
    // The evaluations stand alone (their visit leaves the window after five weeks).
    for (const e of base.evaluations ?? []) delete e.evenement;
    const inLastWeek = (x: Json) => dayOf(x.debut) > end0 - 7 * DAY;
    const events = (base.evenements as Json[]).filter(inLastWeek);
    const ids = new Set(events.map((e) => e.id));
    return { base, end0, pattern: { events, transports: (base.transports as Json[]).filter((t) => ids.has(t.evenement)) } };
  });
}

/** The pivot document the DUI sends in week `w`: the last 35 days of history, as they stand then. */
function weekDoc(u: SimUsager, w: number): PivotInput {
  const end = u.end0 + 7 * w * DAY;
  const from = end - 34 * DAY;
  const events: Json[] = [...u.base.evenements];
  const transports: Json[] = [...u.base.transports];
  for (let k = 1; k <= w; k++) {
    if (u.end0 + 7 * k * DAY < from) continue;
    const id = (x: string) => String(Number(x) + 1_000_000 * k);
    for (const e of u.pattern.events) events.push({ ...e, id: id(e.id), debut: shift(e.debut, 7 * k), fin: shift(e.fin, 7 * k) });
    for (const t of u.pattern.transports) transports.push({ ...t, id: id(t.id), evenement: id(t.evenement), debut: shift(t.debut, 7 * k), fin: shift(t.fin, 7 * k) });
  }
  const kept = events
    .filter((e) => dayOf(e.debut) >= from && dayOf(e.debut) <= end)
    .map((e) => {
      if (e.statut !== 'planned' || dayOf(e.debut) === end) return e;
      // Planned last week, done since; one visit in eight has its compte rendu written a week late.
      const done: Json = { ...e, statut: 'finished', usagerPresent: true };
      if (!done.compteRendu && lateReport(e.id) && dayOf(e.debut) < end - 6 * DAY) done.compteRendu = 'Complément saisi la semaine suivante';
      return done;
    });
  const status = new Map(kept.map((e) => [e.id, e.statut]));
  const keptTransports = transports.filter((t) => status.has(t.evenement)).map((t) => (t.statut === 'requested' && status.get(t.evenement) !== 'planned' ? { ...t, statut: 'completed' } : t));
  // Every 13 weeks a new AGGIR evaluation replaces the current one (only the current one is sent).
  const q = Math.floor(w / 13);
  const evaluations = (u.base.evaluations as Json[]).map((e) =>
    q > 0 && e.type !== 'situation-ssiad' ? { ...e, id: String(Number(e.id) + q), date: isoDay(u.end0 + 13 * q * 7 * DAY - 3 * DAY) } : e,
  );
  return { ...structuredClone(u.base), evenements: kept, transports: keptTransports, evaluations } as PivotInput;
}

/** A fresh database on the benchmark's PostgreSQL, dropped at the end. */
function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  return createTestDatabase({ adminUrl: PG_ADMIN_URL, prefix: 'tddui_bench_year' });
}

interface Variant {
  label: string;
  repo: Repository;
  drop: () => Promise<void>;
  weeks: { seconds: number; bundles: number; resources: number; versions: number; size: number; data: number; log: number }[];
}

/** Versions stored: every version is kept and numbered 1..n (the current one in `resource`, the others in `resource_history`). */
const VERSIONS = 'SELECT coalesce(sum(version_id), 0) AS n FROM resource';
/** Bytes of the resources (current, history, search index, keys) and of the submission log (every accepted Bundle kept whole, D-85). */
const DATA_TABLES = ['resource', 'resource_history', 'search_token', 'search_string', 'search_date', 'search_reference', 'search_number', 'search_composite', 'business_key'];
// With their partitions: `resource_history` is partitioned by month (D-223), its rows are in
// `resource_history_default` and `resource_history_yYYYYmMM`, the parent itself holds nothing.
const relSize = (tables: string[]) => {
  const names = `'{${tables.join(',')}}'::text[]`;
  return `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c WHERE c.relkind = 'r' AND (c.relname = ANY(${names})
    OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent WHERE pc.relname = ANY(${names})))`;
};
const count = async (repo: Repository, sql: string) => Number((await repo.db.query<{ n: string | number }>(sql)).rows[0]!.n);

/** Sends the week's Bundles, `CONCURRENCY` in flight (one per usager: none of them about the same usager). */
async function sendAll(v: Variant, validator: TdduiValidator, bundles: Json[], w: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < bundles.length) {
      const b = bundles[next++]!;
      const res = await ingestTransaction({ repo: v.repo, validator }, b);
      if (res.status !== 200) throw new Error(`week ${w + 1}, ${v.label}: rejected ${res.status} ${JSON.stringify(res.body).slice(0, 600)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, bundles.length) }, worker));
}

/** Set by SIGINT/SIGTERM: no new week is started, the weeks done are reported. */
let stopping = false;

async function main(): Promise<void> {
  const t0 = performance.now();
  const validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  const validatorOff = Object.create(validator, { validate: { value: () => ({ valid: true, issues: [], profiles: [] }) } }) as TdduiValidator;
  const usagers = simUsagers();
  process.stderr.write(`${usagers.length} SSIAD usagers × ${WEEKS} weeks, validation ${VALIDATION ? 'on' : 'off'}, ${CONCURRENCY} Bundles in flight, variant ${VARIANT} (ready in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  const variants: Variant[] = [];
  for (const [label, versionUnchanged] of [
    ['no-op rule on', false],
    ['no-op rule off', true],
  ] as const) {
    if (VARIANT !== 'both' && (VARIANT === 'on') === versionUnchanged) continue;
    const db = await createDatabase();
    variants.push({ label, repo: await openRepository({ url: db.url, versionUnchanged }), drop: db.drop, weeks: [] });
  }
  const onStop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('stopping after the current week (signal again to abort)\n');
  };
  process.on('SIGINT', onStop).on('SIGTERM', onStop);
  let weeksDone = 0;
  try {
    for (let w = 0; w < WEEKS && !stopping && Date.now() < STOP_AT; w++) {
      // The same Bundles for both variants, built once per week.
      const tb = performance.now();
      const bundles = usagers.map((u) => {
        const r = buildBundle(weekDoc(u, w)) as Json;
        return (r.bundle ?? r) as Json;
      });
      const built = (performance.now() - tb) / 1000;
      const resources = bundles.reduce((n, b) => n + b.entry.length, 0);
      for (const v of w % 2 ? [...variants].reverse() : variants) {
        const before = await count(v.repo, VERSIONS);
        const t = performance.now();
        await sendAll(v, VALIDATION ? validator : validatorOff, bundles, w);
        const seconds = (performance.now() - t) / 1000;
        const versions = (await count(v.repo, VERSIONS)) - before;
        const size = await count(v.repo, 'SELECT pg_database_size(current_database()) AS n');
        const data = await count(v.repo, relSize(DATA_TABLES));
        const log = await count(v.repo, relSize(['submission']));
        v.weeks.push({ seconds, bundles: bundles.length, resources, versions, size, data, log });
      }
      weeksDone = w + 1;
      const show = (x: Variant['weeks'][number], label: string) =>
        `${label} ${(x.bundles / x.seconds).toFixed(1)} Bundles/s (${(x.resources / x.seconds).toFixed(0)} resources/s, ${x.seconds.toFixed(0)} s), ${x.versions} versions written, database ${(x.size / 2 ** 20).toFixed(0)} MiB (data ${(x.data / 2 ** 20).toFixed(0)}, log ${(x.log / 2 ** 20).toFixed(0)})`;
      process.stderr.write(
        `week ${String(w + 1).padStart(2)}: ${resources} resources sent (built in ${built.toFixed(1)} s); ${variants.map((v) => show(v.weeks[w]!, v.label.endsWith(' on') ? 'on' : 'off')).join('; ')} [${new Date().toISOString().slice(11, 19)}]\n`,
      );
    }
    const lines: string[] = [];
    console.log(`\nA year of weekly SSIAD resends: ${usagers.length} usagers × ${weeksDone} weeks${weeksDone < WEEKS ? ` (stopped; ${WEEKS} asked)` : ''} (5-week window), PostgreSQL, validation ${VALIDATION ? 'on' : 'off'}, ${CONCURRENCY} Bundles in flight`);
    console.log(`week  resources-sent  ${variants.map((v) => `| ${v.label.endsWith(' on') ? 'on' : 'off'}: Bundles/s  resources/s  versions  database-MiB`).join(' ')}`);
    for (let w = 0; w < weeksDone; w++) {
      const show = w < 3 || w % 13 === 12 || w === weeksDone - 1;
      if (show) console.log(`${String(w + 1).padStart(4)}  ${String(variants[0]!.weeks[w]!.resources).padStart(14)}  ${variants.map((v) => { const a = v.weeks[w]!; return `| ${(a.bundles / a.seconds).toFixed(1).padStart(13)}  ${(a.resources / a.seconds).toFixed(0).padStart(11)}  ${String(a.versions).padStart(8)}  ${(a.size / 2 ** 20).toFixed(0).padStart(12)}`; }).join(' ')}`);
    }
    for (const v of weeksDone ? variants : []) {
      await v.repo.db.query('VACUUM ANALYZE');
      const size = await count(v.repo, 'SELECT pg_database_size(current_database()) AS n');
      const versions = await count(v.repo, VERSIONS);
      const current = await count(v.repo, 'SELECT count(*) AS n FROM resource');
      // Where the bytes are: the resources (current, history, search index, keys) and the
      // submission log (every accepted Bundle is kept whole, D-85), the rest (catalog, outbox…).
      const data = await count(v.repo, relSize(DATA_TABLES));
      const log = await count(v.repo, relSize(['submission']));
      const rates = v.weeks.map((x) => x.resources / x.seconds).sort((p, q) => p - q);
      const key = v.label.endsWith(' on') ? 'on' : 'off';
      console.log(
        `${v.label}: database ${(size / 2 ** 20).toFixed(1)} MiB (${((size / usagers.length) / 1024).toFixed(0)} KiB per usager; resources, history and index ${(data / 2 ** 20).toFixed(1)} MiB, submission log ${(log / 2 ** 20).toFixed(1)} MiB), ${versions} versions stored for ${current} resources, resources/s per week median ${rates[Math.floor(rates.length / 2)]!.toFixed(0)} (min ${rates[0]!.toFixed(0)}, max ${rates.at(-1)!.toFixed(0)}), total ${(v.weeks.reduce((n, x) => n + x.seconds, 0)).toFixed(0)} s`,
      );
      lines.push(`year-db-mib-noop-${key}: ${(size / 2 ** 20).toFixed(1)}`, `year-data-mib-noop-${key}: ${(data / 2 ** 20).toFixed(1)}`, `year-versions-noop-${key}: ${versions}`, `year-resources-per-second-noop-${key}: ${rates[Math.floor(rates.length / 2)]!.toFixed(0)}`);
    }
    console.log('');
    for (const l of lines) console.log(l);
  } finally {
    for (const v of variants) {
      await v.repo.close();
      await v.drop();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
