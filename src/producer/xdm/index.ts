// EDS (CI-SIS *Échange de documents de santé*): IHE XDM (ITI-32) media of one usager's documents,
// the zip attached to an MSSanté message. `packXdm` makes it from DocumentReferences that carry
// their document inline (TDDUI's PP documents, a PPA PDF…): README.TXT, INDEX.HTM, and
// IHE_XDM/SUBSET01/ with METADATA.XML (an ebRS SubmitObjectsRequest: one XDS SubmissionSet, one
// DocumentEntry per document, HasMember associations) and the documents. `readXdm` reads such a
// zip back into DocumentReferences (document inline, metadata from METADATA.XML, size and hash
// checked against the bytes). The MSSanté mailbox itself stays outside (D-125).
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import yauzl from 'yauzl';
import yazl from 'yazl';
import type { FhirResource } from '../../fhir/json.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** XDS metadata identifiers (IHE ITI TF-3 4.2.5, 4.2.3.2). */
export const XDS = {
  documentEntry: 'urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1',
  submissionSet: 'urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd',
  classCode: 'urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a',
  typeCode: 'urn:uuid:f0306f51-975f-434e-a61c-c59651d33983',
  formatCode: 'urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d',
  contentTypeCode: 'urn:uuid:aa543740-bdda-424e-8c96-df4873be8500',
  dePatientId: 'urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427',
  deUniqueId: 'urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab',
  ssUniqueId: 'urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8',
  ssSourceId: 'urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832',
  ssPatientId: 'urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446',
  hasMember: 'urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember',
  approved: 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved',
} as const;

const NS = 'xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"';
/** The project's assigning authority of a patient id taken from a FHIR reference (no INS given). */
export const LOCAL_PATIENT_AUTHORITY = 'urn:tddui:patient';

export interface XdmDocument {
  /** The DocumentReference (its document inline in content[0].attachment.data). */
  reference: FhirResource;
  /** File name inside SUBSET01 (DOC0001.PDF…). */
  file: string;
  bytes: Buffer;
}

export interface PackOptions {
  /** XDS patientId (CX: `id^^^&oid&ISO`), e.g. from the INS; default: the documents' subject id under LOCAL_PATIENT_AUTHORITY. */
  patientId?: string;
  /** SubmissionSet.sourceId (an OID of the sending system). */
  sourceId?: string;
  /** Submission time (default now); also the zip entries' dates, so a pack is reproducible. */
  submissionTime?: Date;
  /** SubmissionSet title and author institution shown in INDEX.HTM. */
  title?: string;
}

const esc = (s: unknown) => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const slot = (name: string, values: string[]) => `<rim:Slot name="${esc(name)}"><rim:ValueList>${values.map((v) => `<rim:Value>${esc(v)}</rim:Value>`).join('')}</rim:ValueList></rim:Slot>`;
const localized = (tag: string, v: string | undefined) => (v ? `<rim:${tag}><rim:LocalizedString value="${esc(v)}"/></rim:${tag}>` : '');

/** HL7 v2 DTM (YYYYMMDDhhmmss, UTC) of a FHIR dateTime; a date stays a date. */
export function dtm(v: string): string {
  if (/^\d{4}(-\d{2}(-\d{2})?)?$/.test(v)) return v.replace(/-/g, '');
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v.replace(/\D/g, '').slice(0, 14) : d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** A FHIR dateTime from a DTM (UTC). */
export function fromDtm(v: string): string {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?$/.exec(v);
  if (!m) return v;
  const [, y, mo, d, h, mi, s] = m;
  if (!h) return [y, mo, d].filter(Boolean).join('-');
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}Z`;
}

function coding(cc: unknown): Json | undefined {
  const c = (cc as Json | undefined)?.coding?.[0];
  return c && typeof c.code === 'string' ? c : undefined;
}

function classification(scheme: string, object: string, id: string, c: Json | undefined): string {
  if (!c) return '';
  return `<rim:Classification id="${id}" classificationScheme="${scheme}" classifiedObject="${object}" nodeRepresentation="${esc(c.code)}">${slot('codingScheme', [String(c.system ?? '')])}${localized('Name', c.display)}</rim:Classification>`;
}

const EXT: Record<string, string> = { 'application/pdf': 'PDF', 'text/xml': 'XML', 'application/xml': 'XML', 'text/plain': 'TXT', 'text/html': 'HTM', 'image/jpeg': 'JPG', 'image/png': 'PNG', 'application/json': 'JSN' };

/** The documents of DocumentReferences (or Bundles holding them) that carry their bytes inline. */
export function documentsOf(resources: FhirResource[]): XdmDocument[] {
  const refs: FhirResource[] = [];
  for (const r of resources) {
    if (r.resourceType === 'DocumentReference') refs.push(r);
    else if (r.resourceType === 'Bundle' && Array.isArray(r.entry)) for (const e of r.entry as Json[]) if (e?.resource?.resourceType === 'DocumentReference') refs.push(e.resource);
  }
  const out: XdmDocument[] = [];
  for (const ref of refs) {
    const att = (ref.content as Json[] | undefined)?.[0]?.attachment as Json | undefined;
    if (!att || typeof att.data !== 'string') continue;
    const n = out.length + 1;
    out.push({ reference: ref, file: `DOC${String(n).padStart(4, '0')}.${EXT[String(att.contentType)] ?? 'BIN'}`, bytes: Buffer.from(att.data, 'base64') });
  }
  return out;
}

const uuidOf = (seed: string) => {
  const h = createHash('sha256').update(seed).digest('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/** METADATA.XML of the documents: the SubmissionSet, one DocumentEntry each, HasMember associations. */
export function metadataXml(docs: XdmDocument[], o: PackOptions & { submissionTime: Date }): string {
  const subject = (docs[0]?.reference.subject as Json | undefined)?.reference as string | undefined;
  const patientId = o.patientId ?? `${String(subject ?? 'inconnu').split('/').pop()}^^^&${LOCAL_PATIENT_AUTHORITY}&URI`;
  const ss = uuidOf(`ss:${docs.map((d) => sha1(d.bytes)).join(',')}:${o.submissionTime.toISOString()}`);
  const entries = docs.map((d, i) => {
    const r = d.reference as Json;
    const att = r.content[0].attachment as Json;
    const id = uuidOf(`de:${i}:${sha1(d.bytes)}`);
    const uniqueId = String(r.masterIdentifier?.value ?? uuidOf(`uid:${sha1(d.bytes)}`));
    const created = att.creation ?? r.date;
    return `<rim:ExtrinsicObject id="${id}" mimeType="${esc(att.contentType ?? 'application/octet-stream')}" objectType="${XDS.documentEntry}" status="${XDS.approved}">
${created ? slot('creationTime', [dtm(String(created))]) : ''}
${slot('hash', [sha1(d.bytes)])}
${slot('size', [String(d.bytes.length)])}
${slot('languageCode', [String(att.language ?? 'fr-FR')])}
${slot('URI', [d.file])}
${subject ? slot('sourcePatientId', [patientId]) : ''}
${localized('Name', att.title)}
${localized('Description', r.description)}
${classification(XDS.classCode, id, `${id}-class`, coding(r.category?.[0]))}
${classification(XDS.typeCode, id, `${id}-type`, coding(r.type))}
${classification(XDS.formatCode, id, `${id}-format`, coding(r.content[0].format))}
<rim:ExternalIdentifier id="${id}-pid" registryObject="${id}" identificationScheme="${XDS.dePatientId}" value="${esc(patientId)}">${localized('Name', 'XDSDocumentEntry.patientId')}</rim:ExternalIdentifier>
<rim:ExternalIdentifier id="${id}-uid" registryObject="${id}" identificationScheme="${XDS.deUniqueId}" value="${esc(uniqueId)}">${localized('Name', 'XDSDocumentEntry.uniqueId')}</rim:ExternalIdentifier>
</rim:ExtrinsicObject>`;
  });
  const assoc = docs.map((_, i) => `<rim:Association id="${uuidOf(`as:${i}:${ss}`)}" associationType="${XDS.hasMember}" sourceObject="${ss}" targetObject="${uuidOf(`de:${i}:${sha1(docs[i]!.bytes)}`)}">${slot('SubmissionSetStatus', ['Original'])}</rim:Association>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest ${NS}>
<rim:RegistryObjectList>
${entries.join('\n')}
<rim:RegistryPackage id="${ss}" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage">
${slot('submissionTime', [dtm(o.submissionTime.toISOString())])}
${localized('Name', o.title ?? 'Documents de l’usager')}
<rim:ExternalIdentifier id="${ss}-uid" registryObject="${ss}" identificationScheme="${XDS.ssUniqueId}" value="${esc(uuidOf(`ssuid:${ss}`).replace('urn:uuid:', ''))}">${localized('Name', 'XDSSubmissionSet.uniqueId')}</rim:ExternalIdentifier>
<rim:ExternalIdentifier id="${ss}-src" registryObject="${ss}" identificationScheme="${XDS.ssSourceId}" value="${esc(o.sourceId ?? '1.2.250.1.213.1.1.1')}">${localized('Name', 'XDSSubmissionSet.sourceId')}</rim:ExternalIdentifier>
<rim:ExternalIdentifier id="${ss}-pid" registryObject="${ss}" identificationScheme="${XDS.ssPatientId}" value="${esc(patientId)}">${localized('Name', 'XDSSubmissionSet.patientId')}</rim:ExternalIdentifier>
</rim:RegistryPackage>
<rim:Classification id="${ss}-ss" classifiedObject="${ss}" classificationNode="${XDS.submissionSet}"/>
${assoc.join('\n')}
</rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
`;
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

function readme(o: PackOptions & { submissionTime: Date }, n: number): string {
  return [
    'Support IHE XDM (ITI-32) - Echange de documents de sante (CI-SIS EDS)',
    '',
    `Emetteur : ${o.sourceId ?? 'tddui'}`,
    `Date de constitution : ${o.submissionTime.toISOString()}`,
    `Documents : ${n}`,
    '',
    'Contenu : INDEX.HTM (sommaire lisible), IHE_XDM/SUBSET01/METADATA.XML (metadonnees XDS :',
    'lot de soumission et une fiche par document), IHE_XDM/SUBSET01/DOCnnnn.* (les documents).',
    'Produit par tddui xdm pack.',
    '',
  ].join('\r\n');
}

function indexHtm(docs: XdmDocument[], o: PackOptions & { submissionTime: Date }): string {
  const rows = docs
    .map((d) => {
      const att = (d.reference.content as Json[])[0]!.attachment as Json;
      return `<li><a href="IHE_XDM/SUBSET01/${d.file}">${esc(att.title ?? d.file)}</a> (${esc(att.contentType)}, ${d.bytes.length} octets)</li>`;
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>${esc(o.title ?? 'Documents de l’usager')}</title></head>
<body><h1>${esc(o.title ?? 'Documents de l’usager')}</h1>
<p>Support IHE XDM constitué le ${esc(o.submissionTime.toISOString())}. Métadonnées : <a href="IHE_XDM/SUBSET01/METADATA.XML">METADATA.XML</a>. Voir aussi <a href="README.TXT">README.TXT</a>.</p>
<ul>
${rows}
</ul></body></html>
`;
}

/** The XDM zip of the documents (reproducible: fixed entry order and dates). */
export function packXdm(docs: XdmDocument[], options: PackOptions = {}): Promise<Buffer> {
  if (docs.length === 0) return Promise.reject(new Error('no document with inline content to pack'));
  const o = { ...options, submissionTime: options.submissionTime ?? new Date() };
  const zip = new yazl.ZipFile();
  const mtime = o.submissionTime;
  const add = (name: string, data: Buffer | string) => zip.addBuffer(Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'), name, { mtime, mode: 0o100644 });
  add('README.TXT', readme(o, docs.length));
  add('INDEX.HTM', indexHtm(docs, o));
  add('IHE_XDM/SUBSET01/METADATA.XML', metadataXml(docs, o));
  for (const d of docs) add(`IHE_XDM/SUBSET01/${d.file}`, d.bytes);
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** The entries of a zip (name → bytes); entry names that leave the archive are refused. */
export function unzip(bytes: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('unreadable zip'));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        if (/\/$/.test(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error(`cannot read ${entry.fileName}`));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

export class XdmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdmError';
  }
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Reads an XDM zip: every DocumentEntry of every SUBSET as a DocumentReference with its document inline. */
export async function readXdm(bytes: Buffer): Promise<{ documents: FhirResource[]; submissionSets: { id: string; patientId?: string; sourceId?: string; submissionTime?: string; members: string[] }[] }> {
  const files = await unzip(bytes);
  const metas = [...files.keys()].filter((k) => /^IHE_XDM\/[^/]+\/METADATA\.XML$/i.test(k));
  if (metas.length === 0) throw new XdmError('not an XDM medium: no IHE_XDM/<subset>/METADATA.XML');
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, processEntities: true, isArray: (name) => ['ExtrinsicObject', 'Slot', 'Value', 'Classification', 'ExternalIdentifier', 'Association', 'RegistryPackage', 'LocalizedString'].includes(name) });
  const documents: FhirResource[] = [];
  const submissionSets: { id: string; patientId?: string; sourceId?: string; submissionTime?: string; members: string[] }[] = [];
  for (const meta of metas) {
    const dir = meta.slice(0, meta.lastIndexOf('/') + 1);
    const xml = parser.parse(files.get(meta)!.toString('utf8')) as Json;
    const list = xml.SubmitObjectsRequest?.RegistryObjectList;
    if (!list) throw new XdmError(`${meta}: no SubmitObjectsRequest/RegistryObjectList`);
    const slots = (o: Json) => new Map<string, string[]>(asArray<Json>(o.Slot).map((s) => [String(s['@name']), asArray<Json>(s.ValueList?.Value).map((v) => String(typeof v === 'object' ? (v['#text'] ?? '') : v))]));
    const name = (o: Json, tag = 'Name') => asArray<Json>(o[tag]?.LocalizedString)[0]?.['@value'] as string | undefined;
    const ext = (o: Json, scheme: string) => asArray<Json>(o.ExternalIdentifier).find((x) => x['@identificationScheme'] === scheme)?.['@value'] as string | undefined;
    const cls = (o: Json, scheme: string) => {
      const c = asArray<Json>(o.Classification).find((x) => x['@classificationScheme'] === scheme);
      if (!c) return undefined;
      const system = slots(c).get('codingScheme')?.[0];
      return { coding: [{ ...(system ? { system } : {}), code: String(c['@nodeRepresentation']), ...(name(c) ? { display: name(c) } : {}) }] };
    };
    for (const eo of asArray<Json>(list.ExtrinsicObject)) {
      if (eo['@objectType'] !== XDS.documentEntry) continue;
      const s = slots(eo);
      const uri = s.get('URI')?.join('');
      if (!uri || uri.includes('..') || uri.startsWith('/')) throw new XdmError(`${meta}: DocumentEntry ${eo['@id']} has no usable URI slot`);
      const file = files.get(dir + uri);
      if (!file) throw new XdmError(`${meta}: the document ${uri} of DocumentEntry ${eo['@id']} is not in the zip`);
      const hash = s.get('hash')?.[0];
      const size = s.get('size')?.[0];
      if (hash && hash.toLowerCase() !== sha1(file)) throw new XdmError(`${dir}${uri}: SHA-1 ${sha1(file)} is not the hash slot's ${hash}`);
      if (size && Number(size) !== file.length) throw new XdmError(`${dir}${uri}: ${file.length} bytes, the size slot says ${size}`);
      const patientId = ext(eo, XDS.dePatientId);
      const localPatient = patientId?.endsWith(`^^^&${LOCAL_PATIENT_AUTHORITY}&URI`) ? `Patient/${patientId.split('^')[0]}` : undefined;
      const created = s.get('creationTime')?.[0];
      const type = cls(eo, XDS.typeCode);
      const category = cls(eo, XDS.classCode);
      const format = cls(eo, XDS.formatCode);
      const description = name(eo, 'Description');
      const title = name(eo);
      documents.push({
        resourceType: 'DocumentReference',
        masterIdentifier: { system: 'urn:ietf:rfc:3986', value: ext(eo, XDS.deUniqueId) ?? String(eo['@id']) },
        status: 'current',
        ...(type ? { type } : {}),
        ...(category ? { category: [category] } : {}),
        ...(localPatient ? { subject: { reference: localPatient } } : patientId ? { subject: { identifier: { value: patientId } } } : {}),
        ...(description ? { description } : {}),
        content: [
          {
            attachment: {
              contentType: String(eo['@mimeType'] ?? 'application/octet-stream'),
              ...(s.get('languageCode')?.[0] ? { language: s.get('languageCode')![0] } : {}),
              data: file.toString('base64'),
              size: file.length,
              hash: createHash('sha1').update(file).digest('base64'),
              ...(title ? { title } : {}),
              ...(created ? { creation: fromDtm(created) } : {}),
            },
            ...(format ? { format: format.coding[0] } : {}),
          },
        ],
      });
    }
    for (const rp of asArray<Json>(list.RegistryPackage)) {
      const id = String(rp['@id']);
      const isSet = asArray<Json>(list.Classification).some((c) => c['@classifiedObject'] === id && c['@classificationNode'] === XDS.submissionSet);
      if (!isSet) continue;
      const members = asArray<Json>(list.Association).filter((a) => a['@sourceObject'] === id && a['@associationType'] === XDS.hasMember).map((a) => String(a['@targetObject']));
      const pid = ext(rp, XDS.ssPatientId);
      const src = ext(rp, XDS.ssSourceId);
      const time = slots(rp).get('submissionTime')?.[0];
      submissionSets.push({ id, ...(pid ? { patientId: pid } : {}), ...(src ? { sourceId: src } : {}), ...(time ? { submissionTime: time } : {}), members });
    }
  }
  return { documents, submissionSets };
}
