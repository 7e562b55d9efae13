// A version of the projet personnalisé d'accompagnement as a PDF in French: the usager's
// identity (with INS), the project, then its tree — expectations, needs, goals, actions, means,
// services, reviews, accords (who signed, when). Made with pdfkit, DejaVu Sans embedded (a subset:
// accents, « », ’ and → print on every reader), and **deterministic**: the same version gives the
// same bytes (creation date = the version's instant, no random ids), so a published PDF can be
// recognised again (tddui publish derives its masterIdentifier from the bytes).
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import { frDate, frInstant, frStatus, insStatus, isObj, patientNames, str, type Json } from './fhir-util.js';
import { KIND_LABEL, type PpNode } from './pp-tree.js';
import type { PpaVersion } from './ppa-versions.js';

const require = createRequire(import.meta.url);
const FONT = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
const FONT_BOLD = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf');


export interface PpaPdfInput {
  patient: Json;
  /** The project's tree at that version (buildPpTrees over stateAt). */
  tree: PpNode;
  version: PpaVersion;
  /** The ESSMS (its name) when known. */
  structure?: string;
}

/** The PDF bytes of one PPA version. */
export function ppaPdf(input: PpaPdfInput): Promise<Buffer> {
  const { patient, tree, version } = input;
  const when = new Date(version.instant);
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: 56, bottom: 56, left: 56, right: 56 },
    compress: true,
    info: {
      Title: `Projet personnalisé d’accompagnement — version ${version.number}`,
      Author: input.structure ?? 'ESSMS',
      Subject: tree.title,
      Creator: 'tddui',
      Producer: 'tddui (pdfkit)',
      CreationDate: when,
      ModDate: when,
    },
    lang: 'fr-FR',
    displayTitle: true,
  });
  doc.registerFont('text', FONT);
  doc.registerFont('bold', FONT_BOLD);
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const names = patientNames(patient);
  const ins = insStatus(patient);
  doc.font('bold').fontSize(17).text('Projet personnalisé d’accompagnement');
  doc.moveDown(0.3);
  doc.font('text').fontSize(10).fillColor('#444444');
  doc.text(`Version ${version.number} enregistrée le ${frInstant(version.instant)}${version.validated ? ` — validée (accord du ${frDate(version.validatedOn)})` : ' — non validée'}`);
  if (input.structure) doc.text(`Établissement ou service : ${input.structure}`);
  doc.fillColor('#000000').moveDown(0.8);

  section(doc, 'Usager');
  line(doc, 'Nom', `${names.shown}${names.birth ? ` (${names.birth})` : ''}`);
  line(doc, 'Date de naissance', frDate(patient.birthDate));
  line(doc, 'Sexe', ({ female: 'féminin', male: 'masculin', other: 'autre', unknown: 'inconnu' } as Record<string, string>)[String(patient.gender)] ?? '');
  line(doc, 'INS', ins.ins ? `${ins.ins.kind} ${ins.ins.value}${ins.reliabilityLabel ? ` (${ins.reliabilityLabel})` : ''}` : 'non renseigné');
  doc.moveDown(0.6);

  section(doc, 'Projet');
  doc.font('bold').fontSize(11).text(tree.title);
  doc.font('text').fontSize(10);
  for (const d of tree.details) doc.text(d);
  doc.moveDown(0.6);

  // The tree: accords first (signatures), then the content in the tree's order.
  const accords = tree.children.filter((c) => c.kind === 'accord');
  const content = tree.children.filter((c) => c.kind !== 'accord' && c.kind !== 'doc');
  section(doc, 'Contenu du projet');
  for (const n of content) node(doc, n, 0);
  doc.moveDown(0.6);
  section(doc, 'Accords et signatures');
  if (accords.length === 0) doc.font('text').fontSize(10).text('Aucun accord enregistré.');
  for (const a of accords) node(doc, a, 0);

  doc.end();
  return done;
}

function section(doc: PDFKit.PDFDocument, title: string): void {
  doc.font('bold').fontSize(13).fillColor('#1f3a5f').text(title);
  doc.fillColor('#000000').moveDown(0.2);
}

function line(doc: PDFKit.PDFDocument, label: string, value: string | undefined): void {
  doc.font('bold').fontSize(10).text(`${label} : `, { continued: true }).font('text').text(value || 'non renseigné');
}

function node(doc: PDFKit.PDFDocument, n: PpNode, depth: number): void {
  const indent = 56 + depth * 16;
  const width = doc.page.width - indent - 56;
  doc.font('bold').fontSize(10).text(`${KIND_LABEL[n.kind]} — ${n.title}`, indent, undefined, { width });
  doc.font('text').fontSize(9);
  for (const d of n.details) doc.text(d, indent + 10, undefined, { width: width - 10 });
  doc.moveDown(0.25);
  for (const c of n.children) if (c.kind !== 'doc') node(doc, c, depth + 1);
  doc.x = 56;
}

/** The status of a CarePlan in French (for titles). */
export function planStatus(plan: Json): string {
  return frStatus(isObj(plan) ? str(plan.status) : undefined);
}
