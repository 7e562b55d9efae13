// The PDF of the official TDDUI PA projet personnalisé (Bundle-tddui-pp-pa-bundle-example,
// stored through POST /fhir): Mozilla's PDF.js (pdfjs-dist) extracts its text, which holds the
// usager, every goal and every action of the tree; its fonts are embedded; the same version
// gives the same bytes twice (and over HTTP).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { http, startTestServer, type TestServer } from '../server/test-support.js';
import { tdduiExamplesDir } from '../testing/paths.js';
import { buildPpTrees, type PpNode } from './pp-tree.js';
import { ppaPdfOf, usagerPpa } from './pages/projet-versions.js';
import { stateAt } from './ppa-versions.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The text of every page (PDF.js, the reference reader), and the fonts it found. */
export async function pdfText(bytes: Uint8Array): Promise<{ text: string; fonts: Set<string>; pages: number }> {
  const pdf = await getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, disableFontFace: true, verbosity: 0 }).promise;
  let text = '';
  const fonts = new Set<string>();
  for (let i = 1; i <= pdf.numPages; i++) {
    const page = await pdf.getPage(i);
    const content = await page.getTextContent();
    for (const item of content.items as { str?: string; hasEOL?: boolean; fontName?: string }[]) {
      text += (item.str ?? '') + (item.hasEOL ? '\n' : '');
      if (item.fontName) fonts.add(item.fontName);
    }
    text += '\n';
  }
  const pages = pdf.numPages;
  await pdf.destroy();
  return { text, fonts, pages };
}

const flat = (n: PpNode): PpNode[] => [n, ...n.children.flatMap(flat)];
const squash = (s: string) => s.replace(/\s+/g, ' ');

describe('PDF of a PPA version (official PA projet personnalisé)', { concurrency: false }, () => {
  let s: TestServer;
  let patient: string;
  before(async () => {
    s = await startTestServer('embedded');
    const bundle = readFileSync(join(tdduiExamplesDir('2.2.0'), 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8');
    const r = await http(s.base, { body: bundle });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    patient = r.json.entry.map((e: Json) => e.response.location).find((l: string) => l.startsWith('Patient/')).split('/')[1];
  });
  after(async () => s?.stop());

  it('holds the usager, every goal and every action; fonts embedded; the same bytes twice', async () => {
    const one = await ppaPdfOf(s.repo, undefined, patient, 1);
    const two = await ppaPdfOf(s.repo, undefined, patient, 1);
    assert.ok(one && two);
    assert.equal(createHash('sha256').update(one.bytes).digest('hex'), createHash('sha256').update(two.bytes).digest('hex'));
    assert.equal(one.bytes.subarray(0, 5).toString(), '%PDF-');
    // Embedded TrueType subsets (FontFile2), no reliance on the reader's fonts.
    const raw = one.bytes.toString('latin1');
    assert.match(raw, /\/FontFile2 /);
    assert.match(raw, /\/BaseFont \/[A-Z]{6}\+DejaVuSans/);
    const { text, pages } = await pdfText(one.bytes);
    const all = squash(text);
    assert.ok(pages >= 1);
    // The expected content, from the same tree the UI shows.
    const found = (await usagerPpa(s.repo, patient))!;
    const state = stateAt(found.history.records, found.history.versions[0]!.instant);
    const tree = buildPpTrees(state, { actors: found.actors }).trees[0]!;
    const nodes = flat(tree);
    const goals = nodes.filter((n) => n.kind === 'objectif');
    const actions = nodes.filter((n) => n.kind === 'action');
    assert.ok(goals.length > 0 && actions.length > 0, 'the PA example has goals and actions');
    for (const n of [...goals, ...actions]) assert.ok(all.includes(squash(n.title)), `${n.kind} « ${n.title} » in the PDF`);
    const family = String((found.patient as Json).name?.[0]?.family ?? '');
    assert.ok(family && all.toUpperCase().includes(family.toUpperCase()), `usager ${family}`);
    assert.match(all, /Projet personnalisé d’accompagnement/);
    assert.match(all, /INS : /);
    assert.match(all, /Accords et signatures/);
  });

  it('over HTTP: application/pdf, the same bytes; an unknown version is a 404', async () => {
    const a = await fetch(`${s.url}/usagers/${patient}/projet/versions/1/pdf`);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('content-type'), 'application/pdf');
    const b = await fetch(`${s.url}/usagers/${patient}/projet/versions/1/pdf`);
    assert.deepEqual(Buffer.from(await a.arrayBuffer()), Buffer.from(await b.arrayBuffer()));
    assert.equal((await fetch(`${s.url}/usagers/${patient}/projet/versions/9/pdf`)).status, 404);
  });
});
