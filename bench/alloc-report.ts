// bench/alloc-report: what a bench/alloc-sample profile says, per Bundle — the bytes the main
// thread allocated (collected or not) top-down by call path, start-up apart (package loading,
// profile compilation, module loading: frames matching START_UP), so that the figures are those of
// the requests.
//
//   node dist/bench/alloc-report.js <file.heapprofile> [--bundles=660] [--min=8]
//
// `--bundles`: how many Bundles the process received (ingest-http-ab: its warm-up 60 + n);
// `--min`: KB per Bundle below which a path is not shown.
import { readFileSync } from 'node:fs';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
  total?: number;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (!file) {
  console.error('usage: node dist/bench/alloc-report.js <file.heapprofile> [--bundles=660] [--min=8]');
  process.exit(2);
}
const BUNDLES = Number(option('bundles') ?? 660);
const MIN_KB = Number(option('min') ?? 8);
const START_UP = /createEngines|loadPackages|startServer|compileAll|resource-cache|coreResources|module_job|esm\/loader|Module\._load|bootstrap/;

const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: Node }).head;
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const kb = (bytes: number) => (bytes / BUNDLES / 1000).toFixed(1);
function total(n: Node): number {
  return (n.total ??= n.selfSize + n.children.reduce((s, c) => s + total(c), 0));
}
function startUp(n: Node): number {
  return START_UP.test(label(n)) ? total(n) : n.children.reduce((s, c) => s + startUp(c), 0);
}
console.log(`all ${kb(total(head))} KB per Bundle, start-up apart ${kb(total(head) - startUp(head))} KB (${BUNDLES} Bundles)`);
function show(n: Node, depth: number): void {
  if (START_UP.test(label(n)) || total(n) - startUp(n) < MIN_KB * 1000 * BUNDLES) return;
  console.log(`${' '.repeat(depth)}${kb(total(n) - startUp(n))} (self ${kb(n.selfSize)}) ${label(n)}`);
  for (const c of [...n.children].sort((a, b) => total(b) - total(a))) show(c, depth + 1);
}
show(head, 0);
