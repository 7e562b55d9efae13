// PDSm 3.1.1 (Partage de documents de santé en mobilité, on IHE MHD 4.2.0): this server as the
// *Gestionnaire de partage de documents*, registered as an IG module (src/rest/modules.ts) when
// the volet's IG is in use (`tddui serve --ig ans.fhir.fr.pdsm`).
//   - ITI-105 Simplified Publish: `POST DocumentReference` with the document inline
//     (`attachment.data`). The document becomes a Binary, the DocumentReference points to it
//     (`attachment.url` = `Binary/<id>`, size and SHA-1 hash stated), both in one plan (D-121).
//   - ITI-65 Provide Document Bundle: a transaction of one SubmissionSet List, its
//     DocumentReferences, their Binaries and any Folder Lists, stored all or nothing; each
//     attachment's stated size and hash must be those of its Binary (XDS's rule, D-122).
//   - ITI-67 / ITI-66: the generic search, with what the transactions require (DocumentReference:
//     patient and status; List: patient) — 400 otherwise.
//   - ITI-68: `attachment.url` is a Binary read; the HTTP layer answers its bytes
//     (src/server/format.ts wantsRawBinary).
//   - Metadata update: a PATCH (instance or conditional) of a DocumentReference may change only
//     status, securityLabel and the isArchived extension (422 otherwise); every other write the
//     Gestionnaire statement does not list is a 405 (the core's rule).
import { createHash } from 'node:crypto';
import { BundleResolver, rewriteReferences, type EntryRef } from '../fhir/bundle/references.js';
import { isObject, isResource, sameJson, type FhirResource, type Json } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { hasErrors, sortAndDedupe, toOperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import type { IgModule, WriteContext } from '../rest/modules.js';
import { READ_INTERACTIONS } from '../rest/served.js';
import type { FhirService, Guard, WriteAnswer } from '../rest/service.js';
import type { OpResult, ResourceRecord, WriteOp } from '../storage/types.js';

export const PDSM_PACKAGE = 'ans.fhir.fr.pdsm';
const PDSM_SD = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/';
const MHD_SD = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/';
export const PDSM_PROFILES = {
  simplifiedPublish: `${PDSM_SD}pdsm-simplified-publish`,
  document: `${PDSM_SD}pdsm-comprehensive-document-reference`,
  submissionSet: `${PDSM_SD}pdsm-submissionset-comprehensive`,
  folder: `${PDSM_SD}pdsm-folder-comprehensive`,
  provideBundle: `${PDSM_SD}pdsm-comprehensive-provide-document-bundle`,
} as const;
export const IS_ARCHIVED_URL = `${PDSM_SD}pdsm-ext-is-archived`;
const MHD_LIST_TYPES = 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes';
const PROVIDE_RESPONSE_PROFILE = `${MHD_SD}IHE.MHD.ProvideDocumentBundleResponse`;
const SOURCE = 'PDSm 3.1.1 / IHE MHD 4.2.0';

/** The DocumentReference elements a metadata update (PATCH) may change, besides meta. */
const PATCHABLE = new Set(['status', 'securityLabel', 'extension', 'meta', 'id', 'resourceType']);

function profilesOf(r: unknown): string[] {
  return isObject(r) && isObject(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile.filter((p): p is string => typeof p === 'string') : [];
}

const isVoletProfile = (p: string): boolean => p.startsWith(PDSM_SD) || p.startsWith(MHD_SD);

/** `pdsm-…` or `IHE.MHD.…` profiles (a `|version` suffix ignored). */
function declaresVoletProfile(r: unknown): boolean {
  return profilesOf(r).some((p) => isVoletProfile(p.split('|')[0]!));
}

/** A List's MHD type: `submissionset`, `folder`, or undefined. */
export function listKind(list: Json): 'submissionset' | 'folder' | undefined {
  const codings = isObject(list.code) && Array.isArray(list.code.coding) ? list.code.coding : [];
  for (const c of codings) {
    if (!isObject(c) || c.system !== MHD_LIST_TYPES) continue;
    if (c.code === 'submissionset' || c.code === 'folder') return c.code;
  }
  return undefined;
}

function issue(rule: string, expression: string, en: string, fr: string, severity: 'error' | 'warning' = 'error'): ValidationIssue {
  return { severity, code: severity === 'error' ? 'business-rule' : 'informational', rule, message: en, messageFr: fr, expression, source: SOURCE };
}

function rejected(type: string, profile: string, issues: ValidationIssue[]): FhirError {
  return new FhirError(HTTP_ERRORS.VALIDATION_FAILED, { type, profile }, { outcome: toOperationOutcome(issues) as unknown as FhirResource });
}

/** Base64 SHA-1, as `Attachment.hash` states it. */
export function sha1Base64(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('base64');
}

/** The stated size and hash of an attachment against the bytes (XDS: the repository checks both). */
function attachmentIssues(att: Json, bytes: Buffer, at: string): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (att.size !== undefined && Number(att.size) !== bytes.length) {
    out.push(issue('pdsm-attachment-size', `${at}.size`, `The stated size ${String(att.size)} is not the document's size (${bytes.length} bytes)`, `La taille indiquée ${String(att.size)} n’est pas celle du document (${bytes.length} octets)`));
  }
  if (typeof att.hash === 'string' && att.hash !== sha1Base64(bytes)) {
    out.push(issue('pdsm-attachment-hash', `${at}.hash`, `The stated SHA-1 hash ${att.hash} is not the document's (${sha1Base64(bytes)})`, `L’empreinte SHA-1 indiquée ${att.hash} n’est pas celle du document (${sha1Base64(bytes)})`));
  }
  return out;
}

/** Base64 text to bytes, or undefined when it is not base64. */
function decodeBase64(data: unknown): Buffer | undefined {
  if (typeof data !== 'string') return undefined;
  const clean = data.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) return undefined;
  return Buffer.from(clean, 'base64');
}

export interface PdsmModuleOptions {
  /** The interactions service of the server (its repository and engines), known once built. */
  service: () => FhirService;
}

/** The PDSm Gestionnaire de partage de documents. */
export function pdsmModule(opts: PdsmModuleOptions): IgModule {
  const svc = opts.service;

  /** Validation by the PDSm engine against the declared profiles and `required` ones. */
  const validateAs = (resource: FhirResource, required: string[]): ValidationIssue[] => {
    const claim = svc().dispatch.claim(resource, [PDSM_PACKAGE], required);
    return claim.engine.validator.validate(resource, claim.profiles.length ? { profiles: claim.profiles } : {});
  };

  /** What a written List or DocumentReference of an ITI-65 Bundle must satisfy. */
  const requiredProfiles = (r: FhirResource): string[] => {
    if (r.resourceType === 'DocumentReference') return [PDSM_PROFILES.document];
    if (r.resourceType === 'List') return [listKind(r) === 'folder' ? PDSM_PROFILES.folder : PDSM_PROFILES.submissionSet];
    return [];
  };

  const module: IgModule = {
    name: PDSM_PACKAGE,
    served: () => [
      {
        type: 'DocumentReference',
        interactions: [...READ_INTERACTIONS, 'create', 'patch'],
        documentation:
          'ITI-105 (publication simplifiée) : POST d’une DocumentReference pdsm-simplified-publish, document dans attachment.data ; le document est conservé comme Binary et attachment.url le désigne (ITI-68). PATCH : status, securityLabel et l’extension isArchived seulement.',
      },
    ],
    owns: (resource) => declaresVoletProfile(resource),
    // Writes other than ITI-65 / ITI-105 (a PATCH): the declared profiles only — a document
    // published by ITI-105 declares none once stored (its inline form's profile no longer holds).
    validate: (resource) => validateAs(resource, []),
    rules: (resource: FhirResource, ctx: WriteContext) => {
      if (ctx.interaction !== 'patch' || ctx.type !== 'DocumentReference' || !ctx.current) return [];
      return patchIssues(ctx.current.resource, resource);
    },
    create: {
      // ITI-105: a DocumentReference declaring a PDSm / MHD profile, or none (TDDUI's v1 documents declare TDDUI's).
      claims: (resource) => resource.resourceType === 'DocumentReference' && (declaresVoletProfile(resource) || profilesOf(resource).length === 0),
      handle: (resource, ctx) => simplifiedPublish(resource, ctx.guard),
    },
    searchRequires: (type, params) => {
      const names = new Set(params.map((p) => p.name));
      const patient = ['patient', 'patient.identifier', 'subject', 'subject.identifier'].some((n) => names.has(n)) || [...names].some((n) => /^(patient|subject)(:Patient)?\./.test(n));
      if (type === 'DocumentReference') {
        const missing = [...(patient ? [] : ['patient']), ...(names.has('status') ? [] : ['status'])];
        return missing.length ? { transaction: 'PDSm ITI-67 (DocumentReference)', missing } : undefined;
      }
      if (type === 'List') return patient ? undefined : { transaction: 'PDSm ITI-66 (List)', missing: ['patient'] };
      return undefined;
    },
    bundle: {
      // ITI-65: a Bundle declaring a Provide Document Bundle profile, or a transaction holding a SubmissionSet.
      claims: (bundle) =>
        profilesOf(bundle).some((p) => /ProvideBundle|provide-document-bundle/.test(p) && isVoletProfile(p.split('|')[0]!)) ||
        (bundle.type === 'transaction' && Array.isArray(bundle.entry) && bundle.entry.some((e) => isObject(e) && isObject(e.resource) && e.resource.resourceType === 'List' && listKind(e.resource) === 'submissionset')),
      handle: async (bundle) => ({ status: 200, body: await provideDocumentBundle(bundle as FhirResource) }),
    },
  };

  // --- ITI-105 ---------------------------------------------------------------------------
  async function simplifiedPublish(resource: FhirResource, guard?: Guard): Promise<WriteAnswer> {
    const issues = [...validateAs(resource, [PDSM_PROFILES.simplifiedPublish])];
    const content = Array.isArray(resource.content) ? resource.content : [];
    const documents: { index: number; bytes: Buffer; contentType: string }[] = [];
    content.forEach((c, i) => {
      const att = isObject(c) && isObject(c.attachment) ? c.attachment : undefined;
      if (!att) return;
      const at = `DocumentReference.content[${i}].attachment`;
      const bytes = decodeBase64(att.data);
      if (!bytes) {
        if (att.data !== undefined) issues.push(issue('pdsm-attachment-data', `${at}.data`, 'The document is not base64', 'Le document n’est pas en base64'));
        return;
      }
      // (Stated size and hash against the data: the profile validation above checks them.)
      documents.push({ index: i, bytes, contentType: typeof att.contentType === 'string' ? att.contentType : 'application/octet-stream' });
    });
    if (documents.length === 0 && !hasErrors(issues)) {
      issues.push(issue('pdsm-attachment-data', 'DocumentReference.content', 'ITI-105 publishes the document inline: content.attachment.data is required', 'ITI-105 publie le document en ligne : content.attachment.data est obligatoire'));
    }
    if (hasErrors(issues)) throw rejected('DocumentReference', PDSM_PROFILES.simplifiedPublish, issues);

    // A resend of a published document (same masterIdentifier, same bytes) is answered with
    // the stored one: ITI-105 retries (tddui publish) do not duplicate it (D-121).
    const same = await alreadyPublished(resource, documents.map((d) => d.bytes));
    if (same) return { status: 200, outcome: 'unchanged', record: same, issues: sortAndDedupe(issues) };

    const stored = storedForm(resource, documents);
    const ops: WriteOp[] = documents.map((d) => ({
      method: 'create',
      resourceType: 'Binary',
      resource: { resourceType: 'Binary', contentType: d.contentType, data: d.bytes.toString('base64'), ...(isObject(resource.subject) ? { securityContext: resource.subject } : {}) },
    }));
    ops.push({ method: 'create', resourceType: 'DocumentReference', resource: stored, ...(guard ? { check: guard } : {}) });
    const results = await svc().repo.execute({
      ops,
      resolve: (rc) => {
        const doc = structuredClone(rc.resourceOf(documents.length)!);
        const c = doc.content as Json[];
        documents.forEach((d, k) => ((c[d.index]!.attachment as Json).url = `Binary/${rc.targets[k]!.id}`));
        rc.setResource(documents.length, doc);
      },
    });
    const r = results[documents.length]!;
    return { status: r.status, outcome: r.outcome, ...(r.record ? { record: r.record } : {}), issues: sortAndDedupe(issues) };
  }

  /** The stored DocumentReference of ITI-105: no inline data; size and hash stated; the simplified profile dropped. */
  function storedForm(resource: FhirResource, documents: { index: number; bytes: Buffer }[]): FhirResource {
    const out = structuredClone(resource) as FhirResource;
    delete out.id;
    const profiles = profilesOf(out).filter((p) => p.split('|')[0] !== PDSM_PROFILES.simplifiedPublish && !/SimplifiedPublish/.test(p));
    if (isObject(out.meta)) {
      const meta: Json = { ...out.meta };
      delete meta.versionId;
      delete meta.lastUpdated;
      if (profiles.length) meta.profile = profiles;
      else delete meta.profile;
      if (Object.keys(meta).length) out.meta = meta;
      else delete out.meta;
    }
    const content = out.content as Json[];
    for (const d of documents) {
      const att = content[d.index]!.attachment as Json;
      delete att.data;
      att.size = d.bytes.length;
      att.hash = sha1Base64(d.bytes);
    }
    return out;
  }

  /** The stored DocumentReference with this masterIdentifier and these documents, if any; 422 when it holds other bytes. */
  async function alreadyPublished(resource: FhirResource, documents: Buffer[]): Promise<ResourceRecord | undefined> {
    const mi = isObject(resource.masterIdentifier) ? resource.masterIdentifier : undefined;
    if (!mi || typeof mi.value !== 'string') return undefined;
    const token = typeof mi.system === 'string' ? `${mi.system}|${mi.value}` : mi.value;
    const found = await svc().repo.search({ resourceType: 'DocumentReference', params: [{ name: 'identifier', values: [token] }], count: 2, offset: 0, handling: 'lenient' });
    const match = found.matches.find((m) => isObject(m.resource.masterIdentifier) && m.resource.masterIdentifier.value === mi.value);
    if (!match) return undefined;
    const hashes = (Array.isArray(match.resource.content) ? match.resource.content : []).map((c) => (isObject(c) && isObject(c.attachment) ? c.attachment.hash : undefined));
    if (documents.length === hashes.length && documents.every((b, i) => hashes[i] === sha1Base64(b))) return match;
    throw rejected('DocumentReference', PDSM_PROFILES.simplifiedPublish, [
      issue('pdsm-unique-id', 'DocumentReference.masterIdentifier', `A document with masterIdentifier ${mi.value} is already published (DocumentReference/${match.id}) with other content: a new document needs its own masterIdentifier (a replacement names the old one in relatesTo)`, `Un document de masterIdentifier ${mi.value} est déjà publié (DocumentReference/${match.id}) avec un autre contenu : un nouveau document a son propre masterIdentifier (un remplacement désigne l’ancien dans relatesTo)`),
    ]);
  }

  // --- ITI-65 ----------------------------------------------------------------------------
  async function provideDocumentBundle(bundle: FhirResource): Promise<FhirResource> {
    if (bundle.type !== 'transaction') {
      throw new FhirError(HTTP_ERRORS.BUNDLE_TYPE, { expected: '"transaction" (ITI-65)', found: JSON.stringify(bundle.type ?? null) }, { expression: 'Bundle.type' });
    }
    // The Bundle's own profiles (PDSm's or MHD's Provide Document Bundle).
    const bundleIssues = validateAs(bundle, []);
    if (hasErrors(bundleIssues)) throw rejected('Bundle', profilesOf(bundle).join(', ') || 'Bundle', bundleIssues);
    const entries = (Array.isArray(bundle.entry) ? bundle.entry : []) as Json[];
    const issues: ValidationIssue[] = [];
    const parsed = entries.map((e, i) => {
      const at = `Bundle.entry[${i}]`;
      const resource = isObject(e) && isResource(e.resource) ? (e.resource as FhirResource) : undefined;
      const request = isObject(e) && isObject(e.request) ? e.request : {};
      if (!resource) throw new FhirError(HTTP_ERRORS.ENTRY_INVALID, { index: i, detail: 'no resource', detailFr: 'pas de ressource' }, { expression: at });
      if (request.method !== 'POST') {
        issues.push(issue('pdsm-entry-post', `${at}.request.method`, `ITI-65 entries are creates (POST); this Gestionnaire does not update ${resource.resourceType} in a Provide Document Bundle`, `Les entrées d’ITI-65 sont des créations (POST) ; ce Gestionnaire ne met pas à jour de ${resource.resourceType} dans un lot de documents`));
      }
      if (!['List', 'DocumentReference', 'Binary'].includes(String(resource.resourceType))) {
        issues.push(issue('pdsm-entry-type', `${at}.resource`, `A Gestionnaire de partage de documents stores SubmissionSets, Folders, DocumentReferences and Binaries, not ${resource.resourceType} (the patient is the one the documents name)`, `Un Gestionnaire de partage de documents conserve lots de soumission, classeurs, fiches et documents (Binary), pas ${resource.resourceType} (le patient est celui que désignent les documents)`));
      }
      return { index: i, resource, fullUrl: isObject(e) && typeof e.fullUrl === 'string' ? e.fullUrl : undefined };
    });
    const submissionSets = parsed.filter((p) => p.resource.resourceType === 'List' && listKind(p.resource) === 'submissionset');
    if (submissionSets.length !== 1) {
      issues.push(issue('pdsm-one-submissionset', 'Bundle.entry', `An ITI-65 Bundle holds exactly one SubmissionSet List (found ${submissionSets.length})`, `Un lot ITI-65 contient exactement un lot de soumission (List submissionset) ; ${submissionSets.length < 2 ? 'trouvé' : 'trouvés'} : ${submissionSets.length}`));
    }
    const resolver = new BundleResolver(parsed.map((p): EntryRef => ({ index: p.index, resourceType: String(p.resource.resourceType), ...(p.fullUrl ? { fullUrl: p.fullUrl } : {}), ...(typeof p.resource.id === 'string' ? { localId: p.resource.id } : {}) })));
    // Each document's stated size and hash against its Binary in the Bundle.
    for (const p of parsed) {
      if (p.resource.resourceType !== 'DocumentReference') continue;
      (Array.isArray(p.resource.content) ? p.resource.content : []).forEach((c, k) => {
        const att = isObject(c) && isObject(c.attachment) ? c.attachment : undefined;
        const at = `Bundle.entry[${p.index}].resource.content[${k}].attachment`;
        if (!att) return;
        const target = typeof att.url === 'string' ? resolver.resolve(att.url, p.index) : undefined;
        const binary = target !== undefined ? parsed[target]!.resource : undefined;
        const bytes = binary?.resourceType === 'Binary' ? decodeBase64(binary.data) : att.data !== undefined ? decodeBase64(att.data) : undefined;
        if (bytes) issues.push(...attachmentIssues(att, bytes, at));
        else if (binary && binary.resourceType !== 'Binary') issues.push(issue('pdsm-attachment-url', `${at}.url`, 'attachment.url names an entry that is not a Binary', 'attachment.url désigne une entrée qui n’est pas un Binary'));
      });
    }
    if (hasErrors(issues)) throw rejected('Bundle', PDSM_PROFILES.provideBundle, issues);

    const sink = new Map<number, ValidationIssue[]>();
    const ops: WriteOp[] = parsed.map((p) => ({
      method: 'create',
      resourceType: String(p.resource.resourceType),
      resource: withoutServerFields(p.resource),
      check: (resource: FhirResource) => {
        const prefix = `Bundle.entry[${p.index}].resource`;
        const type = String(resource.resourceType);
        const found = validateAs(resource, requiredProfiles(resource)).map((i) => ({ ...i, expression: i.expression === type ? prefix : i.expression.startsWith(`${type}.`) ? prefix + i.expression.slice(type.length) : `${prefix}.${i.expression}` }));
        if (hasErrors(found)) throw rejected(type, requiredProfiles(resource).join(', ') || type, found);
        sink.set(p.index, found);
      },
    }));
    const results = await svc().repo.execute({
      ops,
      resolve: (rc) => {
        const serverRef = (k: number) => (rc.targets[k] ? `${rc.targets[k]!.resourceType}/${rc.targets[k]!.id}` : undefined);
        for (let k = 0; k < parsed.length; k++) {
          const content = rc.resourceOf(k);
          if (!content) continue;
          const fixed = rewriteReferences(content, k, resolver, serverRef) as FhirResource;
          // Attachment URLs naming a Binary entry (FHIR R4 transaction rules rewrite URLs too).
          if (fixed.resourceType === 'DocumentReference' && Array.isArray(fixed.content)) {
            for (const c of fixed.content) {
              const att = isObject(c) && isObject(c.attachment) ? c.attachment : undefined;
              const target = att && typeof att.url === 'string' ? resolver.resolve(att.url, k) : undefined;
              if (att && target !== undefined && serverRef(target)) att.url = serverRef(target);
            }
          }
          rc.setResource(k, fixed);
        }
      },
    });
    return provideResponse(results, sink);
  }

  return module;
}

/** The ITI-65 answer (IHE.MHD.ProvideDocumentBundleResponse): one created entry per entry, with its warnings. */
function provideResponse(results: OpResult[], warnings: Map<number, ValidationIssue[]>): FhirResource {
  const entry = results.map((r, i) => {
    const response: Json = { status: r.status === 201 ? '201 Created' : String(r.status) };
    if (r.record) {
      response.location = `${r.resourceType}/${r.id}/_history/${r.record.versionId}`;
      response.etag = `W/"${r.record.versionId}"`;
      response.lastModified = r.record.lastUpdated;
    }
    const warned = (warnings.get(i) ?? []).filter((w) => w.severity === 'warning');
    if (warned.length) response.outcome = toOperationOutcome(warned);
    return { fullUrl: `${r.resourceType}/${r.id}`, response };
  });
  return { resourceType: 'Bundle', meta: { profile: [PROVIDE_RESPONSE_PROFILE] }, type: 'transaction-response', entry };
}

function withoutServerFields(resource: FhirResource): FhirResource {
  const copy = structuredClone(resource) as FhirResource;
  delete copy.id;
  if (isObject(copy.meta)) {
    delete copy.meta.versionId;
    delete copy.meta.lastUpdated;
    if (Object.keys(copy.meta).length === 0) delete copy.meta;
  }
  return copy;
}

/** A metadata update changes only status, securityLabel and the isArchived extension. */
export function patchIssues(stored: FhirResource, patched: FhirResource): ValidationIssue[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(patched)]);
  const changed = new Set<string>();
  for (const k of keys) {
    const name = k.replace(/^_/, '');
    if (name === 'extension') {
      const other = (r: FhirResource) => (Array.isArray(r[k]) ? (r[k] as Json[]).filter((x) => !(isObject(x) && x.url === IS_ARCHIVED_URL)) : []);
      if (!sameJson(other(stored), other(patched))) changed.add('extension');
      continue;
    }
    if (!PATCHABLE.has(name) && !sameJson(stored[k], patched[k])) changed.add(name);
  }
  return [...changed].sort().map((name) =>
    issue(
      'pdsm-patch-metadata-only',
      `DocumentReference.${name}`,
      `A PDSm metadata update (PATCH) may change only status, securityLabel and the isArchived extension; this one changes DocumentReference.${name} (publish a replacement document instead)`,
      `Une mise à jour de métadonnées PDSm (PATCH) ne peut modifier que status, securityLabel et l’extension isArchived ; celle-ci modifie DocumentReference.${name} (publiez plutôt un document de remplacement)`,
    ),
  );
}

