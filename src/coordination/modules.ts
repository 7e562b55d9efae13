// The coordination volets on the server core, as IG modules (src/rest/modules.ts): what their
// Gestionnaire CapabilityStatements do not say. Registered only when the volet's IG is in use
// (`tddui serve --ig ans.fhir.fr.cds --ig ans.fhir.fr.cdl`).
//   - CDS (cercle de soins): the usager's authorisations of the circle's members, as Consent
//     (create, update, read, search): neither CDS nor CdL defines them (decisions.md D-53).
//   - CdL (cahier de liaison): a note's reply (`relatesTo.target`) and its correction stay within
//     one usager's notebook — checked by the rules below on what the write carries.
//   - Both: a circle or a note names a usager the server knows (checked inside the write's
//     transaction, the Bundle's own Patient included); a usager sent with a circle or a note
//     (the volets' Bundles carry one) is recognised by INS, else by their business identifiers
//     (the TDDUI `PI` local identifier among them): the Patient already stored — from a DUI's
//     TDDUI export or another volet — is used, not duplicated (decisions.md D-55).
//   - PDSm (partage de documents de santé en mobilité): the Gestionnaire de partage de
//     documents, ITI-65 / ITI-105 / ITI-67 / ITI-66 / ITI-68 and the metadata PATCH (pdsm.ts).
import type { EngineSet } from '../fhir/engine.js';
import { isObject, type FhirResource } from '../fhir/json.js';
import type { ValidationIssue } from '../fhir/outcome/issue.js';
import type { Finder, IgModule } from '../rest/modules.js';
import { READ_INTERACTIONS } from '../rest/served.js';
import { declare, patientOf, type EventDeclaration, type WrittenChange } from '../rest/events.js';
import type { Repository } from '../storage/types.js';
import { GAP_PACKAGE, gapModule } from './agenda/gap-module.js';
import type { FhirService } from '../rest/service.js';
import { PDSM_PACKAGE, pdsmModule } from './pdsm.js';

export const CDS_PACKAGE = 'ans.fhir.fr.cds';
export const CDL_PACKAGE = 'ans.fhir.fr.cdl';

/**
 * The modules of the coordination volets in use. `service`: the server's interactions service,
 * known once built (GAP reads the repository; PDSm stores its Provide Document Bundles and publications itself).
 */
export function coordinationModules(set: EngineSet | undefined, repo?: Repository, deps: { service?: () => FhirService } = {}): IgModule[] {
  const inUse = new Set((set?.engines ?? []).map((e) => e.ig?.name));
  const out: IgModule[] = [];
  if (inUse.has(CDS_PACKAGE)) out.push(cdsModule());
  if (inUse.has(CDL_PACKAGE)) out.push(cdlModule());
  if (inUse.has(GAP_PACKAGE) && repo) out.push(gapModule(repo));
  if (inUse.has(PDSM_PACKAGE) && deps.service) out.push(pdsmModule({ service: deps.service }));
  return out;
}

export function cdsModule(): IgModule {
  return {
    name: CDS_PACKAGE,
    served: () => [
      {
        type: 'Consent',
        interactions: [...READ_INTERACTIONS, 'create', 'update'],
        documentation:
          'Autorisations données par l’usager aux membres de son cercle (choix du projet, D-53) : provision.actor = le participant du CareTeam, provision.class = http://hl7.org/fhir/resource-types#DocumentReference (cahier de liaison) ou #CareTeam (cercle). Seul l’usager les gère.',
      },
    ],
    rules: (resource) => (resource.resourceType === 'CareTeam' ? careTeamRules(resource) : []),
    verify: async (resource, _ctx, find) => (resource.resourceType === 'CareTeam' ? [...(await usagerKnown(resource, 'CareTeam.subject', find)), ...(await oneCircle(resource, find))] : []),
    identity: usagerIdentity,
    events: circleEvents,
  };
}

/** The members (`Type/id`) active in a circle version at an instant: participant period covering it, circle active. */
function activeMembers(t: FhirResource | undefined, at: string): Set<string> {
  const out = new Set<string>();
  if (!t || (t.status !== undefined && t.status !== 'active')) return out;
  for (const p of Array.isArray(t.participant) ? t.participant : []) {
    if (!isObject(p)) continue;
    const member = refOf(p.member);
    const period = isObject(p.period) ? p.period : {};
    if (!member) continue;
    if (typeof period.start === 'string' && period.start > at) continue;
    if (typeof period.end === 'string' && period.end <= at) continue;
    out.add(member);
  }
  return out;
}

/**
 * "Member added to / removed from a circle" (issue 15's outbox, project codes D-100): the members
 * active in the circle after the write, compared with those of the version it replaces, at the
 * write's instant. A participant given a period end, a circle withdrawn (status other than
 * active) or deleted: removed; a new participant entry, a return, a new circle: added. A period
 * that starts or ends later than the write is announced by the write that is current then, not
 * ahead of time.
 */
export function circleEvents(change: WrittenChange): EventDeclaration[] {
  if (change.resourceType !== 'CareTeam') return [];
  const at = change.lastUpdated;
  const now = activeMembers(change.resource, at);
  const before = activeMembers(change.previous, at);
  const patient = patientOf((change.resource ?? change.previous)?.subject);
  const out: EventDeclaration[] = [];
  for (const m of now) if (!before.has(m)) out.push(declare('circleMemberAdded', change, patient, CDS_PACKAGE, { member: m }));
  for (const m of before) if (!now.has(m)) out.push(declare('circleMemberRemoved', change, patient, CDS_PACKAGE, { member: m }));
  return out;
}

export function cdlModule(): IgModule {
  return {
    name: CDL_PACKAGE,
    rules: (resource) => (resource.resourceType === 'DocumentReference' ? noteRules(resource) : []),
    events: noteEvents,
    verify: async (resource, _ctx, find) => (resource.resourceType === 'DocumentReference' ? noteVerify(resource, find) : []),
    identity: usagerIdentity,
  };
}

const CDL_NOTE_PROFILE = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-document-reference';

/**
 * A new note of the liaison notebook (NdE `NOT`): a CdL DocumentReference created (a reply or a
 * correction is a new note too; an update of a note is not).
 */
export function noteEvents(change: WrittenChange): EventDeclaration[] {
  const r = change.resource;
  if (!r || change.resourceType !== 'DocumentReference' || change.outcome !== 'created') return [];
  const profiles = isObject(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile : [];
  if (!profiles.some((p) => typeof p === 'string' && p.startsWith(CDL_NOTE_PROFILE))) return [];
  const title = typeof r.description === 'string' ? r.description : undefined;
  return [declare('note', change, patientOf(r.subject), CDL_PACKAGE, title ? { title } : undefined)];
}

function issue(rule: string, expression: string, en: string, fr: string): ValidationIssue {
  return { severity: 'error', code: 'business-rule', rule, message: en, messageFr: fr, expression, source: 'coordination' };
}

/** A circle is one usager's: its subject is a Patient; a participant is a person or a structure, with a period that does not end before it starts. */
function careTeamRules(t: FhirResource): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const subject = isObject(t.subject) && typeof t.subject.reference === 'string' ? t.subject.reference : '';
  if (!/(^|\/)Patient\/[^/]+$/.test(subject) && !subject.startsWith('urn:uuid:')) {
    out.push(issue('cds-circle-subject', 'CareTeam.subject', 'A circle of care is the circle of one usager: CareTeam.subject must refer to a Patient', 'Un cercle de soins est celui d’un usager : CareTeam.subject doit désigner un Patient'));
  }
  return out;
}

/** A note has a type (JDV J23) and is about one usager. */
function noteRules(d: FhirResource): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!isObject(d.type)) {
    out.push(issue('cdl-note-type', 'DocumentReference.type', 'A note of the liaison notebook needs its type (JDV J23)', 'Une note du cahier de liaison doit avoir un type (JDV J23)'));
  }
  return out;
}

/** INS systems (NIR, NIA and their test OIDs): the usager's national identity, preferred for matching. */
export const INS_SYSTEMS = new Set(['urn:oid:1.2.250.1.213.1.4.8', 'urn:oid:1.2.250.1.213.1.4.9', 'urn:oid:1.2.250.1.213.1.4.10', 'urn:oid:1.2.250.1.213.1.4.11']);

/**
 * The criteria that find a usager already stored: their INS when they carry one, else every
 * business identifier (system|value) they carry (TDDUI's local identifier `3+FINESS/…` among
 * them). Undefined for a Patient without a usable identifier (then a plain create).
 */
export function usagerIdentity(r: FhirResource): string | undefined {
  if (r.resourceType !== 'Patient') return undefined;
  const ids = (Array.isArray(r.identifier) ? r.identifier : []).filter(
    (i): i is { system: string; value: string } => isObject(i) && typeof i.system === 'string' && typeof i.value === 'string' && i.system !== '' && i.value !== '' && !/[|,\\]/.test(i.system + i.value),
  );
  const ins = ids.filter((i) => INS_SYSTEMS.has(i.system));
  const use = ins.length ? ins : ids;
  if (use.length === 0) return undefined;
  // (An identifier holding a search separator, `|` `,` `\\`, is left out: it could not be matched exactly.)
  return `identifier=${use.map((i) => encodeURIComponent(`${i.system}|${i.value}`)).join(',')}`;
}

const refOf = (x: unknown): string | undefined => (isObject(x) && typeof x.reference === 'string' ? x.reference : undefined);

/** The usager a circle or a note names is one the server knows (a stored Patient, or one the same Bundle creates). */
async function usagerKnown(r: FhirResource, at: string, find: Finder): Promise<ValidationIssue[]> {
  const ref = refOf(r.subject);
  const m = ref ? /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref) : null;
  if (!m) return []; // the rules say what is wrong with the reference itself
  if ((await find('Patient', [{ name: '_id', values: [m[1]!] }])).length > 0) return [];
  return [
    issue(
      r.resourceType === 'CareTeam' ? 'cds-circle-usager-unknown' : 'cdl-note-usager-unknown',
      at,
      `${ref} is not a usager known to this server: ${r.resourceType === 'CareTeam' ? 'a circle of care' : 'a note of the liaison notebook'} is about a stored Patient (send the usager first, or in the same Bundle)`,
      `${ref} n’est pas un usager connu de ce serveur : ${r.resourceType === 'CareTeam' ? 'un cercle de soins' : 'une note du cahier de liaison'} concerne un Patient enregistré (envoyez l’usager d’abord, ou dans le même Bundle)`,
    ),
  ];
}

/**
 * One circle per usager (issue 14, CDS): an active CareTeam is refused when the usager already
 * has another active one — the DUI updates that circle (a member who leaves gets a period end, a
 * new member a participant entry). Circles proposed, inactive or withdrawn do not count.
 */
async function oneCircle(t: FhirResource, find: Finder): Promise<ValidationIssue[]> {
  if (t.status !== undefined && t.status !== 'active') return [];
  const subject = refOf(t.subject);
  if (!subject || !/(^|\/)Patient\/[^/]+$/.test(subject)) return [];
  const others = (await find('CareTeam', [{ name: 'subject', values: [subject] }, { name: 'status', values: ['active'] }])).filter((id) => id !== t.id);
  if (others.length === 0) return [];
  return [
    issue(
      'cds-one-circle',
      'CareTeam',
      `The usager ${subject} already has an active circle of care (CareTeam/${others[0]}): update it rather than create another (one circle per usager)`,
      `L’usager ${subject} a déjà un cercle de soins actif (CareTeam/${others[0]}) : mettez-le à jour plutôt que d’en créer un autre (un cercle par usager)`,
    ),
  ];
}

/** A note's usager is known; a reply (or correction) relates to a note of the same usager's notebook. */
async function noteVerify(d: FhirResource, find: Finder): Promise<ValidationIssue[]> {
  const out = await usagerKnown(d, 'DocumentReference.subject', find);
  const subject = refOf(d.subject);
  const related = Array.isArray(d.relatesTo) ? d.relatesTo : [];
  for (const [i, rel] of related.entries()) {
    const target = isObject(rel) ? refOf(rel.target) : undefined;
    const m = target ? /^(?:.*\/)?DocumentReference\/([A-Za-z0-9\-.]{1,64})$/.exec(target) : null;
    if (!m || !subject) continue;
    const at = `DocumentReference.relatesTo[${i}].target`;
    if ((await find('DocumentReference', [{ name: '_id', values: [m[1]!] }])).length === 0) {
      out.push(issue('cdl-reply-target-unknown', at, `The note ${target} this one relates to is not stored on this server`, `La note ${target} à laquelle celle-ci se rapporte n’est pas enregistrée sur ce serveur`));
    } else if ((await find('DocumentReference', [{ name: '_id', values: [m[1]!] }, { name: 'subject', values: [subject] }])).length === 0) {
      out.push(
        issue(
          'cdl-reply-other-usager',
          at,
          `The note ${target} belongs to another usager's liaison notebook: a reply or a correction stays in the notebook of ${subject}`,
          `La note ${target} appartient au cahier de liaison d’un autre usager : une réponse ou une correction reste dans le cahier de ${subject}`,
        ),
      );
    }
  }
  return out;
}
