// The shared option parser of the `tddui` commands, in process (the commands themselves are
// tested through the real binary in cli.test.ts and producer-cli.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command, parseOptions } from './args.js';

const OPTIONS = {
  out: { type: 'string' },
  packages: { type: 'string', multiple: true },
  pretty: { type: 'boolean', default: false },
} as const;

function capture() {
  const io = { out: '', err: '', stdout: { write: (s: string) => (io.out += s) }, stderr: { write: (s: string) => (io.err += s) } };
  return io;
}

test('--x v and --x=v forms, booleans, defaults, positionals in any place', () => {
  const r = parseOptions(['a.json', '--out', 'dir', '--pretty', 'b.json'], OPTIONS);
  assert.ok(!('error' in r));
  assert.deepEqual({ ...r.values }, { out: 'dir', pretty: true, help: false });
  assert.deepEqual(r.positionals, ['a.json', 'b.json']);
  const eq = parseOptions(['--out=dir=x'], OPTIONS);
  assert.ok(!('error' in eq));
  assert.equal(eq.values.out, 'dir=x');
  assert.equal(eq.values.pretty, false);
  assert.equal(eq.values.packages, undefined);
});

test('repeated options: a repeatable one collects every value, another keeps the last', () => {
  const r = parseOptions(['--packages', 'a', '--packages=b', '--out', 'x', '--out', 'y'], OPTIONS);
  assert.ok(!('error' in r));
  assert.deepEqual(r.values.packages, ['a', 'b']);
  assert.equal(r.values.out, 'y');
});

test('-- ends the options: what follows is positional even when it starts with -', () => {
  const r = parseOptions(['--pretty', '--', '--out', '-h', 'f.json'], OPTIONS);
  assert.ok(!('error' in r));
  assert.equal(r.values.out, undefined);
  assert.equal(r.values.help, false);
  assert.deepEqual(r.positionals, ['--out', '-h', 'f.json']);
});

test('usage errors: unknown option, missing value, value given to a boolean, positional where none is allowed', () => {
  const unknown = parseOptions(['--bogus'], OPTIONS);
  assert.ok('error' in unknown);
  assert.match(unknown.error, /Unknown option '--bogus'/);
  const missing = parseOptions(['f.json', '--out'], OPTIONS);
  assert.ok('error' in missing);
  assert.match(missing.error, /--out <value>' argument missing/);
  const bool = parseOptions(['--pretty=yes'], OPTIONS);
  assert.ok('error' in bool);
  assert.match(bool.error, /'--pretty' does not take an argument/);
  const positional = parseOptions(['extra'], OPTIONS, { positionals: false });
  assert.ok('error' in positional);
  assert.match(positional.error, /Unexpected argument 'extra'/);
});

test('Command.parse: exit 2 with the message and the help on stderr; --help and -h exit 0 with the help on stdout', () => {
  const io = capture();
  const cli = new Command('demo', 'Usage: tddui demo FILE...\n', io);
  assert.equal(cli.parse(['--bogus', 'f.json'], OPTIONS), 2);
  assert.match(io.err, /^tddui demo: Unknown option '--bogus'.*\n\nUsage: tddui demo FILE\.\.\.\n$/s);
  assert.equal(io.out, '');
  for (const flag of ['--help', '-h']) {
    const h = capture();
    assert.equal(new Command('demo', 'HELP\n', h).parse(['f.json', flag], OPTIONS), 0);
    assert.equal(h.out, 'HELP\n');
    assert.equal(h.err, '');
  }
  const ok = capture();
  const parsed = new Command('demo', 'HELP\n', ok).parse(['--out', 'd', 'f.json'], OPTIONS);
  assert.ok(typeof parsed !== 'number');
  assert.equal(parsed.values.out, 'd');
  assert.deepEqual(parsed.positionals, ['f.json']);
  assert.equal(ok.out + ok.err, '');
});

test('Command.usage appends the help, Command.fail does not; both exit 2', () => {
  const io = capture();
  const cli = new Command('demo', 'HELP\n', io);
  assert.equal(cli.usage('no FILE given'), 2);
  assert.equal(io.err, 'tddui demo: no FILE given\n\nHELP\n');
  io.err = '';
  assert.equal(cli.fail('cannot read x.json: ENOENT'), 2);
  assert.equal(io.err, 'tddui demo: cannot read x.json: ENOENT\n');
});
