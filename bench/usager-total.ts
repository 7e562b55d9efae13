// bench/usager-total: the "Usagers" list's total at USAGER_TOTAL_N usagers (default 20,000), D-347.
// Before: the segments' sizes (and so the total) by a grouped count(*) over usager_sort; after: sums
// over usager_count (migration 0198), which triggers on usager_sort keep. Both statements timed
// alternately (client side, round trip included, USAGER_TOTAL_ROUNDS each, median), with their
// EXPLAIN ANALYZE; then the write side: a usager's row rewritten as the refresh does it (DELETE then
// INSERT, in a transaction), with the count triggers and with them disabled, in alternating blocks.
// PGlite in memory, or PostgreSQL with USAGER_TOTAL_DATABASE=postgres://… (a scratch database: its
// usager_sort is replaced, and the writes with the triggers disabled leave its counts wrong).
import { performance } from 'node:perf_hooks';
import { openRepository } from '../src/storage/index.js';

const N = Number(process.env.USAGER_TOTAL_N ?? 20_000);
const ROUNDS = Number(process.env.USAGER_TOTAL_ROUNDS ?? 300);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const url = process.env.USAGER_TOTAL_DATABASE;
  const repo = await openRepository(url ? { url } : { dataDir: 'memory://' });
  const db = repo.db;
  try {
    await db.query(`DELETE FROM usager_sort`);
    // 40 facilities (owner = FINESS), a birth date missing for 1 in 50, a gender for 1 in 30.
    await db.query(
      `INSERT INTO usager_sort (id, name_key, finess, local_id, birth_date, gender, last_updated, owner)
       SELECT 'b' || i, 'nom' || (i * 7919 % ${N}), f, '3' || f || '/' || i,
              CASE WHEN i % 50 <> 0 THEN (DATE '1930-01-01' + i % 20000)::text END,
              CASE WHEN i % 30 <> 0 THEN (ARRAY['female', 'male'])[1 + i % 2] END, now(), f
         FROM generate_series(1, ${N}) AS i, LATERAL (SELECT (290000000 + i % 40)::text AS f) x`,
    );
    await db.query(`VACUUM ANALYZE usager_sort`);
    await db.query(`VACUUM ANALYZE usager_count`);
    const before = `SELECT u.birth_date IS NULL AS key, count(*)::int AS n FROM usager_sort u WHERE true GROUP BY 1`;
    const after = `SELECT c.no_birth AS key, sum(c.n)::int AS n FROM usager_count c WHERE true GROUP BY 1 HAVING sum(c.n) <> 0`;
    const a = await db.query<{ key: boolean; n: number }>(before);
    const b = await db.query<{ key: boolean; n: number }>(after);
    const sorted = (rows: { key: boolean; n: number }[]) => JSON.stringify([...rows].map((r) => [r.key, Number(r.n)]).sort());
    if (sorted(a.rows) !== sorted(b.rows)) throw new Error(`counts differ: ${sorted(a.rows)} vs ${sorted(b.rows)}`);
    const rows = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usager_count`)).rows[0]!.n);
    console.log(`${db.kind}, ${N} usagers in usager_sort, ${rows} rows in usager_count; the counts agree: ${sorted(b.rows)}`);
    for (const [label, sql] of [['before (count over usager_sort)', before], ['after (sum over usager_count)', after]] as const) {
      const plan = (await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, COSTS OFF) ${sql}`)).rows.map((r) => Object.values(r)[0]);
      console.log(`\n${label}:\n  ${plan.join('\n  ')}`);
    }
    const times: Record<'before' | 'after', number[]> = { before: [], after: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const [k, sql] of (i % 2 ? [['after', after], ['before', before]] : [['before', before], ['after', after]]) as ['before' | 'after', string][]) {
        const t = performance.now();
        await db.query(sql);
        times[k].push(performance.now() - t);
      }
    }
    const mb = median(times.before);
    const ma = median(times.after);
    console.log(`\ncount statement, ${ROUNDS} runs each alternated, median ms (round trip): before ${mb.toFixed(3)}, after ${ma.toFixed(3)}, ratio ${(ma / mb).toFixed(3)}`);

    // The write side: one usager's row rewritten (DELETE + INSERT in a transaction), triggers on / off.
    const write = async (i: number) =>
      db.transaction(async (tx) => {
        await tx.query(`DELETE FROM usager_sort WHERE id = $1`, [`b${i}`]);
        await tx.query(
          `INSERT INTO usager_sort (id, name_key, finess, local_id, birth_date, gender, last_updated, owner) VALUES ($1, 'x', '290000001', $2, NULL, 'male', now(), '290000001')`,
          [`b${i}`, `3290000001/${i}`],
        );
      });
    // Wall time, and this process's CPU time (the embedded database's work, run here; on PostgreSQL only the client's).
    const w: Record<'on' | 'off', number[]> = { on: [], off: [] };
    const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
    let next = 1;
    for (let block = 0; block < 10; block++) {
      for (const mode of (block % 2 ? ['off', 'on'] : ['on', 'off']) as ('on' | 'off')[]) {
        await db.query(`ALTER TABLE usager_sort ${mode === 'on' ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
        for (let j = 0; j < 30; j++) {
          const t = performance.now();
          const c = process.cpuUsage();
          await write(next++);
          const u = process.cpuUsage(c);
          w[mode].push(performance.now() - t);
          cpu[mode].push((u.user + u.system) / 1000);
        }
      }
    }
    await db.query(`ALTER TABLE usager_sort ENABLE TRIGGER USER`);
    const on = median(w.on);
    const off = median(w.off);
    console.log(`usager row rewritten (DELETE + INSERT, one transaction), 10 alternated blocks of 30, median ms: counts kept ${on.toFixed(3)}, triggers disabled ${off.toFixed(3)} (+${(on - off).toFixed(3)} ms)`);
    console.log(`  process CPU, median ms: counts kept ${median(cpu.on).toFixed(3)}, triggers disabled ${median(cpu.off).toFixed(3)} (+${(median(cpu.on) - median(cpu.off)).toFixed(3)} ms)`);
  } finally {
    await repo.close();
  }
}

void main();
