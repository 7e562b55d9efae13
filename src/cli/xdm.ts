// `tddui xdm pack` / `tddui xdm read`: the IHE XDM (ITI-32) zip of CI-SIS EDS, ready to attach to
// an MSSanté message, and back to DocumentReferences (src/producer/xdm).
import { readFileSync, writeFileSync } from 'node:fs';
import type { FhirResource } from '../fhir/json.js';
import { publishReferences } from '../producer/publish/index.js';
import { documentsOf, packXdm, readXdm, XdmError } from '../producer/xdm/index.js';
import { Command } from './args.js';
import { deliver, deliveryHelp, deliveryOptions, parseDelivery, printLocations } from './delivery.js';
import { patientAndAuthors } from './publish.js';
import { pluralEn } from '../fhir/outcome/plural.js';

export const XDM_HELP = `Usage: tddui xdm pack --out FILE.zip [options] INPUT...
       tddui xdm read [--out FILE.json] [--url BASE --author REF [options]] FILE.zip

pack   Builds the IHE XDM zip (CI-SIS EDS) of one usager's documents: README.TXT, INDEX.HTM,
       IHE_XDM/SUBSET01/METADATA.XML (XDS SubmissionSet and one DocumentEntry per document)
       and the documents. INPUT: DocumentReference or Bundle JSON files; every DocumentReference
       whose document is inline (content[0].attachment.data) is packed.
         --out FILE.zip        Where to write the zip (required).
         --patient-id CX       XDS patientId (e.g. an INS: 1234567890123^^^&1.2.250.1.213.1.4.8&ISO);
                               default: the documents' subject id under urn:tddui:patient.
         --source-id OID       SubmissionSet.sourceId (the sending system).
         --title TEXT          Title of the submission (INDEX.HTM).
         --time ISO            Submission time (default now): the same inputs and time give the same zip.
read   Reads an XDM zip back: a Bundle (collection) of DocumentReferences with the documents
       inline, metadata from METADATA.XML; each document's size and SHA-1 are checked.
         --out FILE.json       Write the Bundle there (default: standard output, unless --url).
       With --url, each document is also published to a PDSm 3.1.1 / IHE MHD Gestionnaire de
       partage de documents by ITI-105 (POST [base]/DocumentReference, profile
       pdsm-simplified-publish, the document inline), with the retries, report and exit status
       of \`tddui publish\`. Its masterIdentifier is the XDS uniqueId, so publishing the same zip
       again is recognised by the Gestionnaire (answered with the stored document).
         --url BASE            FHIR base URL of the Gestionnaire.
         --patient REF         The patient on the Gestionnaire (Patient/123); default: each
                               document's own subject (a zip packed without --patient-id).
         --author REF          An author: Organization/…, PractitionerRole/…, Device/… (required
                               with --url; repeat).
${deliveryHelp(2, 'Documents', 'document').replace(/^ {2}(\S+(?: \S+)?)( +)/gm, '         $1$2 ')}
Exit status: 0 done, 1 unreadable or inconsistent zip, or a document rejected or not delivered,
2 usage error or unreadable input.
`;

const cli = new Command('xdm', XDM_HELP);

export async function runXdm(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help' || sub === undefined) return sub === undefined ? cli.usage('pack or read?') : cli.printHelp();
  if (sub === 'pack') {
    const args = cli.parse(rest, { out: { type: 'string' }, 'patient-id': { type: 'string' }, 'source-id': { type: 'string' }, title: { type: 'string' }, time: { type: 'string' } });
    if (typeof args === 'number') return args;
    const { values, positionals } = args;
    if (!values.out) return cli.usage('--out FILE.zip is required');
    if (positionals.length === 0) return cli.usage('no INPUT given');
    const time = values.time !== undefined ? new Date(values.time) : new Date();
    if (Number.isNaN(time.getTime())) return cli.usage(`--time must be an ISO date-time, not "${values.time}"`);
    const resources: FhirResource[] = [];
    for (const f of positionals) {
      try {
        resources.push(JSON.parse(readFileSync(f, 'utf8')) as FhirResource);
      } catch (e) {
        return cli.fail(`${f}: ${(e as Error).message}`);
      }
    }
    const docs = documentsOf(resources);
    if (docs.length === 0) return cli.fail('no DocumentReference with an inline document in the inputs');
    const zip = await packXdm(docs, { submissionTime: time, ...(values['patient-id'] ? { patientId: values['patient-id'] } : {}), ...(values['source-id'] ? { sourceId: values['source-id'] } : {}), ...(values.title ? { title: values.title } : {}) });
    writeFileSync(values.out, zip);
    process.stderr.write(`${values.out}: ${pluralEn(docs.length, 'document', 'documents')}, ${zip.length} bytes\n`);
    return 0;
  }
  if (sub === 'read') {
    const args = cli.parse(rest, { out: { type: 'string' }, ...deliveryOptions(2), patient: { type: 'string' }, author: { type: 'string', multiple: true } });
    if (typeof args === 'number') return args;
    const { values, positionals } = args;
    if (positionals.length !== 1) return cli.usage('one FILE.zip');
    const publish = values.url !== undefined;
    const d = publish ? parseDelivery(cli, values) : undefined;
    if (typeof d === 'number') return d;
    const who = publish ? patientAndAuthors(cli, values.patient, values.author as string[] | undefined, true) : undefined;
    if (typeof who === 'number') return who;
    if (!publish && (values.patient !== undefined || values.author !== undefined)) return cli.usage('--patient and --author go with --url');
    let bytes: Buffer;
    try {
      bytes = readFileSync(positionals[0]!);
    } catch (e) {
      return cli.fail(`${positionals[0]}: ${(e as Error).message}`);
    }
    let documents: FhirResource[];
    try {
      documents = (await readXdm(bytes)).documents;
    } catch (e) {
      process.stderr.write(`${positionals[0]}: ${e instanceof XdmError ? e.message : `unreadable zip (${(e as Error).message})`}\n`);
      return 1;
    }
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: documents.map((resource) => ({ resource })) };
    const text = JSON.stringify(bundle, null, 2) + '\n';
    if (values.out) writeFileSync(values.out, text);
    else if (!publish) process.stdout.write(text);
    process.stderr.write(`${positionals[0]}: ${documents.length} document(s)\n`);
    if (!d || !who) return 0;
    if (documents.length === 0) return cli.fail('the zip holds no document to publish');
    const metadata = { authors: who.authors, ...(who.patient ? { patient: who.patient } : {}) };
    return deliver(cli, d, documents.length, (onEvent) => publishReferences(documents, metadata, { ...d.options, onEvent }), ['document', 'documents'], printLocations);
  }
  return cli.usage(`unknown subcommand "${sub}" (pack or read)`);
}
