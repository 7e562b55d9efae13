// Unit tests of the .tgz reader. The archives are built here, byte by byte, by a small tar
// writer (ustar headers, prefix field, pax `path` records, GNU `L` long names, base-256 sizes,
// directories and links), then gzip'd with node:zlib — so each format feature is exercised
// on its own, independently of whatever `tar` the machine has.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readTgz, untar } from './tgz.js';
import { loadPackages } from './loader.js';

const BLOCK = 512;

interface Entry {
  name: string;
  data?: Buffer | string;
  /** tar type flag: '0' file (default), '5' directory, '2' symlink, 'x' pax, 'L' GNU long name, 'g' global pax. */
  type?: string;
  /** ustar prefix field (name = prefix + '/' + name). */
  prefix?: string;
  /** Encode the size in GNU base-256 instead of octal. */
  base256?: boolean;
  /** Write no ustar magic (old v7 tar header). */
  v7?: boolean;
}

function header(e: Entry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(e.name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii'); // mode
  h.write('0000000\0', 108, 'ascii'); // uid
  h.write('0000000\0', 116, 'ascii'); // gid
  if (e.base256) {
    h[124] = 0x80;
    let n = size;
    for (let i = 135; i > 124; i--) {
      h[i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii'); // mtime
  h.write('        ', 148, 'ascii'); // checksum placeholder
  h.write(e.type ?? '0', 156, 'ascii');
  if (!e.v7) {
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    if (e.prefix) h.write(e.prefix, 345, 155, 'utf8');
  }
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function tar(entries: Entry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    parts.push(header(e, data.length), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  if (end) parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** A pax extended header record: "<len> key=value\n" where len counts the whole record in bytes. */
function paxRecord(key: string, value: string): string {
  const body = Buffer.byteLength(` ${key}=${value}\n`);
  let len = body + 1;
  while (String(len).length + body !== len) len = String(len).length + body;
  return `${len} ${key}=${value}\n`;
}

const tmp = mkdtempSync(join(tmpdir(), 'tddui-tgz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ustar files, directories skipped, ./ removed, content exact (multi-block, empty)', () => {
  const big = Buffer.alloc(BLOCK * 3 + 17, 7);
  const files = untar(
    tar([
      { name: 'package/', type: '5' },
      { name: './package/package.json', data: '{"name":"x"}' },
      { name: 'package/big.bin', data: big },
      { name: 'package/empty.txt', data: '' },
      { name: 'package/link', type: '2' },
    ]),
  );
  assert.deepEqual([...files.keys()].sort(), ['package/big.bin', 'package/empty.txt', 'package/package.json']);
  assert.equal(files.get('package/package.json')!.toString(), '{"name":"x"}');
  assert.ok(files.get('package/big.bin')!.equals(big));
  assert.equal(files.get('package/empty.txt')!.length, 0);
});

test('long names: ustar prefix, pax path, GNU L (each applies to the next entry only)', () => {
  const long = `package/${'d'.repeat(120)}/StructureDefinition-é-${'x'.repeat(40)}.json`;
  const files = untar(
    tar([
      { name: 'StructureDefinition-a.json', prefix: 'package/deep/dir', data: 'A' },
      { name: 'PaxHeader', type: 'x', data: paxRecord('mtime', '0') + paxRecord('path', long) },
      { name: 'truncated-name-ignored', data: 'B' },
      { name: 'after-pax.json', data: 'C' },
      { name: '././@LongLink', type: 'L', data: `${long}.gnu\0` },
      { name: 'truncated-too', data: 'D' },
      { name: 'GlobalHead', type: 'g', data: paxRecord('comment', 'hello') },
      { name: 'plain.json', data: 'E' },
    ]),
  );
  assert.equal(files.get('package/deep/dir/StructureDefinition-a.json')?.toString(), 'A');
  assert.equal(files.get(long)?.toString(), 'B', 'pax path, UTF-8');
  assert.equal(files.get('after-pax.json')?.toString(), 'C', 'a pax header applies to one entry');
  assert.equal(files.get(`${long}.gnu`)?.toString(), 'D');
  assert.equal(files.get('plain.json')?.toString(), 'E', 'a global pax header is not a file');
  assert.equal(files.size, 5);
});

test('old v7 headers (no magic) and GNU base-256 sizes', () => {
  const files = untar(tar([{ name: 'v7.txt', v7: true, data: 'old' }, { name: 'b256.txt', base256: true, data: 'x'.repeat(600) }]));
  assert.equal(files.get('v7.txt')?.toString(), 'old');
  assert.equal(files.get('b256.txt')?.length, 600);
});

test('an archive without end-of-archive blocks still reads; truncated data is a clear error', () => {
  assert.equal(untar(tar([{ name: 'a', data: 'abc' }], { end: false })).get('a')?.toString(), 'abc');
  const whole = tar([{ name: 'package/a.json', data: 'x'.repeat(2000) }]);
  const cut = whole.subarray(0, BLOCK + 1000);
  assert.throws(() => untar(cut, 'cut.tgz'), /cut\.tgz is truncated or corrupt \(entry "package\/a\.json"/);
  // Trailing garbage shorter than a block is ignored.
  assert.equal(untar(Buffer.concat([tar([{ name: 'a', data: '1' }], { end: false }), Buffer.from('zz')])).get('a')?.toString(), '1');
});

test('readTgz: gzip + tar from disk; a non-gzip file is a clear error', async () => {
  const good = join(tmp, 'good.tgz');
  writeFileSync(good, gzipSync(tar([{ name: 'package/x.json', data: '{}' }])));
  assert.equal((await readTgz(good)).get('package/x.json')?.toString(), '{}');
  const bad = join(tmp, 'bad.tgz');
  writeFileSync(bad, 'not gzip at all');
  await assert.rejects(readTgz(bad), /bad\.tgz is not a readable gzip archive/);
  const truncatedGzip = join(tmp, 'truncated.tgz');
  const gz = gzipSync(tar([{ name: 'package/x.json', data: 'y'.repeat(5000) }]));
  writeFileSync(truncatedGzip, gz.subarray(0, gz.length - 20));
  await assert.rejects(readTgz(truncatedGzip), /truncated\.tgz/);
});

test('a FHIR package built in memory loads through the package loader', async () => {
  const url = 'http://example.org/fhir/StructureDefinition/test-patient';
  const pkg = join(tmp, 'example.pkg-0.1.0.tgz');
  writeFileSync(
    pkg,
    gzipSync(
      tar([
        { name: 'package/package.json', data: JSON.stringify({ name: 'example.pkg', version: '0.1.0', canonical: 'http://example.org/fhir', dependencies: {} }) },
        {
          name: 'PaxHeader',
          type: 'x',
          data: paxRecord('path', `package/StructureDefinition-${'long-'.repeat(30)}test-patient.json`),
        },
        {
          name: 'ignored',
          data: JSON.stringify({ resourceType: 'StructureDefinition', id: 'test-patient', url, version: '0.1.0', name: 'TestPatient', type: 'Patient', kind: 'resource', derivation: 'constraint', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient', differential: { element: [{ id: 'Patient', path: 'Patient' }] } }),
        },
      ]),
    ),
  );
  const reg = await loadPackages({ paths: [pkg], useCache: false, core: false });
  assert.equal(reg.packages[0].name, 'example.pkg');
  assert.equal(reg.resolve(url)?.id, 'test-patient');
});
