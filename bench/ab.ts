// bench/ab: compares two builds of the validator in ONE process, block by block, to tell a
// change of a few per cent from the host's noise (on a shared machine, two runs of
// `bench:validate` minutes apart can differ by 30 % or more; an A/A run of this tool stays
// within ~3 %). Each build is a checkout with its own `dist/`, e.g.:
//
//   git worktree add ../base HEAD~1 && (cd ../base && ln -s ../main/node_modules && npx tsc -p .)
//   npx tsc -p . && node dist/bench/ab.js ../base .   [--bundle=FILE.json] [--rounds=80]
//
// Both validators load the same packages and are warmed to steady state (2,000 runs of each
// Bundle); the blocks then alternate (A B, B A, ...) and the tool prints the median µs of
// each and the median of the per-block ratios B/A. It also checks that both builds report
// the same issues on every Bundle (a speed-up that changes findings is a bug).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXAMPLES_DIR, SHARED_FHIR } from '../src/testing/paths.js';

interface Subject {
  validate(resource: unknown): { issues: unknown[] };
}

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (dirs.length !== 2) {
  console.error('usage: node dist/bench/ab.js <checkout A> <checkout B> [--bundle=FILE.json]... [--rounds=N] [--igs=2.2.0,...]');
  process.exit(2);
}
const ROUNDS = Number(option('rounds') ?? 80);
const BLOCK = 20;
const bundleFiles = args.filter((a) => a.startsWith('--bundle=')).map((a) => a.slice('--bundle='.length));
const FILES = bundleFiles.length > 0 ? bundleFiles : ['Bundle-tddui-bundle-example.json', 'Bundle-tddui-pp-pa-bundle-example.json'];

// --igs=2.2.0 restricts both builds to these TDDUI versions (a build whose validator knows one
// version only ignores it); default: each build's receiver default.
const IGS = option('igs')?.split(',');

async function load(dir: string): Promise<Subject> {
  const url = pathToFileURL(join(resolve(dir), 'dist/src/tddui/validator.js')).href;
  const mod = (await import(url)) as { TdduiValidator: { create(o: { packages: string[]; igs?: string[] }): Promise<Subject> } };
  return mod.TdduiValidator.create({ packages: [SHARED_FHIR], ...(IGS ? { igs: IGS } : {}) });
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  const a = await load(dirs[0]);
  const b = await load(dirs[1]);
  const bundles = FILES.map((f) => JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as unknown);
  bundles.forEach((bundle, i) => {
    if (JSON.stringify(a.validate(bundle).issues) !== JSON.stringify(b.validate(bundle).issues)) {
      console.log(`DIFFERENT ISSUES on ${FILES[i]}: the two builds do not report the same findings`);
    }
  });
  for (let i = 0; i < 2000; i++) {
    for (const bundle of bundles) {
      a.validate(bundle);
      b.validate(bundle);
    }
  }
  // Wall clock and CPU time (process.cpuUsage: every thread of the process, so V8's garbage
  // collection and compilation for the block count too) per block. On a loaded host the wall
  // clock also counts the time the process waited for a core; the CPU time does not.
  const block = (s: Subject): [number, number] => {
    const c = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < BLOCK; i++) for (const bundle of bundles) s.validate(bundle);
    const wall = ((performance.now() - t) * 1000) / BLOCK;
    const cpu = process.cpuUsage(c);
    return [wall, (cpu.user + cpu.system) / BLOCK];
  };
  const ta: [number, number][] = [];
  const tb: [number, number][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which build goes first, so that neither always runs right after the other.
    if (r % 2) {
      ta.push(block(a));
      tb.push(block(b));
    } else {
      tb.push(block(b));
      ta.push(block(a));
    }
  }
  const col = (xs: [number, number][], k: 0 | 1) => xs.map((x) => x[k]);
  const ratios = (k: 0 | 1) => ta.map((x, i) => tb[i][k] / x[k]);
  console.log(`bundles: ${FILES.join(', ')}; ${ROUNDS} rounds of ${BLOCK} runs each; TDDUI versions: ${IGS ? IGS.join(', ') : "each build's default"}`);
  console.log(`A ${dirs[0]}: ${median(col(ta, 0)).toFixed(0)} µs per run of the bundles (CPU ${median(col(ta, 1)).toFixed(0)} µs)`);
  console.log(`B ${dirs[1]}: ${median(col(tb, 0)).toFixed(0)} µs per run of the bundles (CPU ${median(col(tb, 1)).toFixed(0)} µs)`);
  console.log(`b-over-a: ${median(ratios(0)).toFixed(3)}   (median of the per-block ratios; below 1: B is faster)`);
  console.log(`b-over-a CPU time: ${median(ratios(1)).toFixed(3)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
