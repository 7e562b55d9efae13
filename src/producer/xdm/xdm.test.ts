// EDS / XDM round trip: the documents of the official TDDUI PA projet personnalisé Bundle packed
// by the real `tddui xdm pack`, then read back by `tddui xdm read`: the same documents (SHA-256 of
// the bytes) and metadata; METADATA.XML well-formed, declaring one XDS SubmissionSet and one
// DocumentEntry per document with HasMember associations; INDEX.HTM and README.TXT present. A
// zip whose document no longer matches its hash slot is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import yazl from 'yazl';
import { REPO_ROOT, tdduiExamplesDir } from '../../testing/paths.js';
import { documentsOf, packXdm, readXdm, unzip, XDS } from './index.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const PA = join(tdduiExamplesDir('2.2.0'), 'Bundle-tddui-pp-pa-bundle-example.json');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'tddui-xdm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('tddui xdm pack / read on the official PA documents', () => {
  const bundle = JSON.parse(readFileSync(PA, 'utf8'));
  const originals = documentsOf([bundle]);

  it('packs them, reads them back: same bytes and metadata', () => {
    assert.ok(originals.length >= 2, 'the PA Bundle carries documents');
    const zip = join(dir, 'pa.zip');
    const packed = run('xdm', 'pack', '--out', zip, '--time', '2026-01-15T10:00:00Z', '--title', 'Projet personnalisé de Mme Jeanne L.', PA);
    assert.equal(packed.code, 0, packed.err);
    const back = run('xdm', 'read', '--out', join(dir, 'back.json'), zip);
    assert.equal(back.code, 0, back.err);
    const docs = JSON.parse(readFileSync(join(dir, 'back.json'), 'utf8')).entry.map((e: Json) => e.resource);
    assert.equal(docs.length, originals.length);
    originals.forEach((o, i) => {
      const r = o.reference as Json;
      const d = docs[i];
      const a0 = r.content[0].attachment;
      const a1 = d.content[0].attachment;
      assert.equal(sha256(Buffer.from(a1.data, 'base64')), sha256(o.bytes), 'same bytes');
      assert.equal(d.masterIdentifier.value, r.masterIdentifier.value);
      assert.equal(a1.contentType, a0.contentType);
      assert.equal(a1.title, a0.title);
      assert.equal(a1.language ?? 'fr-FR', a0.language ?? 'fr-FR');
      assert.equal(a1.size, o.bytes.length);
      assert.equal(a1.hash, createHash('sha1').update(o.bytes).digest('base64'));
      assert.deepEqual(d.type?.coding?.[0]?.code, r.type?.coding?.[0]?.code);
      assert.deepEqual(d.category?.[0]?.coding?.[0]?.code, r.category?.[0]?.coding?.[0]?.code);
      assert.equal(d.description, r.description);
      // The subject, by its id under the project's assigning authority.
      assert.equal(d.subject.reference.split('/').pop(), String(r.subject.reference).split('/').pop());
    });
    // Same inputs and time: the same zip.
    const again = join(dir, 'pa2.zip');
    assert.equal(run('xdm', 'pack', '--out', again, '--time', '2026-01-15T10:00:00Z', '--title', 'Projet personnalisé de Mme Jeanne L.', PA).code, 0);
    assert.equal(sha256(readFileSync(again)), sha256(readFileSync(zip)));
  });

  it('the zip has README.TXT, INDEX.HTM and a well-formed METADATA.XML with one SubmissionSet and one DocumentEntry per document', async () => {
    const files = await unzip(await packXdm(originals, { submissionTime: new Date('2026-01-15T10:00:00Z') }));
    assert.deepEqual([...files.keys()].slice(0, 3), ['README.TXT', 'INDEX.HTM', 'IHE_XDM/SUBSET01/METADATA.XML']);
    const xml = files.get('IHE_XDM/SUBSET01/METADATA.XML')!.toString('utf8');
    assert.equal(XMLValidator.validate(xml), true);
    const p = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, isArray: (n) => ['ExtrinsicObject', 'Association', 'RegistryPackage', 'Classification'].includes(n) }).parse(xml);
    const list = p.SubmitObjectsRequest.RegistryObjectList;
    const entries = list.ExtrinsicObject.filter((e: Json) => e['@objectType'] === XDS.documentEntry);
    assert.equal(entries.length, originals.length);
    assert.equal(list.RegistryPackage.length, 1);
    const ss = list.RegistryPackage[0]['@id'];
    assert.ok(list.Classification.some((c: Json) => c['@classifiedObject'] === ss && c['@classificationNode'] === XDS.submissionSet));
    assert.deepEqual(list.Association.map((a: Json) => a['@targetObject']).sort(), entries.map((e: Json) => e['@id']).sort());
    for (const d of originals) assert.ok(files.get(`IHE_XDM/SUBSET01/${d.file}`)?.equals(d.bytes));
    assert.match(files.get('INDEX.HTM')!.toString('utf8'), /METADATA\.XML/);
    const read = await readXdm(await packXdm(originals, { submissionTime: new Date('2026-01-15T10:00:00Z') }));
    assert.equal(read.submissionSets.length, 1);
    assert.equal(read.submissionSets[0]!.members.length, originals.length);
  });

  it('a document that does not match its hash slot, or a zip without METADATA.XML, is refused (exit 1)', async () => {
    const files = await unzip(await packXdm(originals, { submissionTime: new Date('2026-01-15T10:00:00Z') }));
    const z = new yazl.ZipFile();
    for (const [name, data] of files) z.addBuffer(name === `IHE_XDM/SUBSET01/${originals[0]!.file}` ? Buffer.concat([data, Buffer.from('x')]) : data, name);
    z.end();
    const chunks: Buffer[] = [];
    await new Promise<void>((ok) => z.outputStream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => ok()));
    writeFileSync(join(dir, 'bad.zip'), Buffer.concat(chunks));
    const r = run('xdm', 'read', join(dir, 'bad.zip'));
    assert.equal(r.code, 1);
    assert.match(r.err, /SHA-1 .* is not the hash slot/);
    const plain = new yazl.ZipFile();
    plain.addBuffer(Buffer.from('x'), 'README.TXT');
    plain.end();
    const c2: Buffer[] = [];
    await new Promise<void>((ok) => plain.outputStream.on('data', (c: Buffer) => c2.push(c)).on('end', () => ok()));
    writeFileSync(join(dir, 'plain.zip'), Buffer.concat(c2));
    assert.match(run('xdm', 'read', join(dir, 'plain.zip')).err, /not an XDM medium/);
    assert.equal(run('xdm', 'pack', PA).code, 2);
  });
});
