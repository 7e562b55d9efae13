// Business keys of resend matching ("the last data sent replaces what was sent before").
// Every TDDUI entry is a POST and the server assigns ids, so a resent object is recognised by
// its business identifier(s) within the submitting organisation (the owner), never by its id.
// See docs/storage.md ("Resend matching") for the table and the reasons.
import { createHash } from 'node:crypto';
import { checkIdNatSt, finessOfLocalId, SYSTEMS } from './rules/identifiers.js';
import { isObject as isObj } from '../fhir/json.js';

export interface BusinessKey {
  system: string;
  value: string;
}

type Json = Record<string, unknown>;


/** Systems that identify the business object, per resource type, in priority order. */
export const KEY_SYSTEMS: Record<string, string[]> = {
  // PI (local usager id) first: it is what the DUI resends; INS next (may be added later on).
  Patient: [SYSTEMS.LOCAL_USAGER, SYSTEMS.INS_NIR, SYSTEMS.INS_NIA, SYSTEMS.INS_NIR_TEST, SYSTEMS.INS_NIA_TEST],
  Encounter: ['https://identifiant-medicosocial-sejour.esante.gouv.fr', 'https://identifiant-medicosocial-evenement.esante.gouv.fr'],
  QuestionnaireResponse: ['https://identifiant-medicosocial-evaluation.esante.gouv.fr'],
  Task: [
    'https://identifiant-medicosocial-transportusager.esante.gouv.fr',
    'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr',
    'https://identifiant-medicosocial-action.esante.gouv.fr',
    'https://identifiant-medicosocial-moyenressource.esante.gouv.fr',
    'https://identifiant-medicosocial-prestation.esante.gouv.fr',
    'https://identifiant-medicosocial-bilan.esante.gouv.fr',
  ],
  Goal: ['https://identifiant-medicosocial-attente.esante.gouv.fr', 'https://identifiant-medicosocial-objectif.esante.gouv.fr'],
  ServiceRequest: ['https://identifiant-medicosocial-besoin.esante.gouv.fr'],
  CarePlan: ['https://identifiant-medicosocial-projetpersonnalise.esante.gouv.fr'],
  Organization: [SYSTEMS.ID_NAT_ST],
  Practitioner: [SYSTEMS.ID_NAT_PS],
};

/** System of a DocumentReference.masterIdentifier sent without one (the official examples). */
export const MASTER_IDENTIFIER_SYSTEM = 'urn:tddui:key:masterIdentifier';
/** Prefix of the system of composite keys (`urn:tddui:key:PractitionerRole`). */
export const COMPOSITE_SYSTEM_PREFIX = 'urn:tddui:key:';
/** System of an identifier sent with a value but no system. */
export const NO_SYSTEM = 'urn:tddui:key:no-system';

/**
 * Natural attributes of the types that carry no business identifier in the IG (rule R5 of the
 * business rules). The key is a hash of these attributes with every reference to an entry of
 * the Bundle already replaced by that entry's business key, so that a resend (whose
 * bundle-local ids may differ) finds the same object. Mutable attributes (status, free text)
 * are left out so that an update of the object is still matched.
 * - PractitionerRole = practitioner (its idNatPs) + organization (its idNatSt) + code;
 * - RelatedPerson = usager (`patient`, else the Bundle's usager) + name + relationship;
 * - Consent: see `consentBasis` (the referencing CarePlan + performer + dateTime);
 * - Location (not in R5's list of attributes): name, address, managing organisation, parent, type.
 */
const COMPOSITE_ATTRIBUTES: Record<string, string[]> = {
  PractitionerRole: ['practitioner', 'organization', 'code'],
  RelatedPerson: ['name', 'relationship'],
  Location: ['name', 'address', 'managingOrganization', 'partOf', 'type'],
};

export interface KeyContext {
  /** Reference to the bundle's usager (`Patient?key=…` or `Patient/<id>`), when the bundle has exactly one Patient. */
  usager?: string;
  /**
   * Consent only: the business keys (`CarePlan?key=…`) of the CarePlans of the Bundle whose
   * `supportingInfo` references this Consent (rule R5).
   */
  carePlans?: string[];
}

/** A reference as one comparable string (`reference`, else its logical identifier). */
function referenceText(v: unknown): string | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v.reference === 'string' && v.reference) return v.reference;
  if (isObj(v.identifier) && typeof v.identifier.value === 'string') return `${String(v.identifier.system ?? '')}|${v.identifier.value}`;
  return undefined;
}

/**
 * A dateTime with a time as the instant it names (`2024-01-15T09:00:00+01:00` and
 * `2024-01-15T08:00:00Z` are one signature time), a bare date as sent.
 */
function instantOf(v: unknown): unknown {
  if (typeof v !== 'string' || !v.includes('T')) return v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? v : new Date(t).toISOString();
}

/**
 * R5: a Consent (the agreement of a projet personnalisé) is the CarePlan that references it
 * (`CarePlan.supportingInfo`) + performer + dateTime, so that the structure's agreement and
 * the usager's agreement of one PP are two objects. Without a referencing CarePlan in the
 * Bundle (fallback), the usager (`patient`, else the Bundle's usager), scope and category
 * stand in for the PP: two usagers' consents, or two kinds of consent, never merge.
 */
function consentBasis(resource: Json, context: KeyContext): Json {
  const basis: Json = { performer: resource.performer, dateTime: instantOf(resource.dateTime) };
  if (context.carePlans?.length) {
    basis.carePlan = [...new Set(context.carePlans)].sort();
  } else {
    basis.usager = referenceText(resource.patient) ?? context.usager;
    basis.scope = resource.scope;
    basis.category = resource.category;
  }
  return basis;
}
/** Types whose key depends on resolved references (they are keyed after the others). */
export function keyNeedsReferences(resource: Json): boolean {
  return identifierKeys(resource).length === 0;
}

function identifierKeys(resource: Json): BusinessKey[] {
  const type = String(resource.resourceType);
  if (type === 'DocumentReference') {
    const mi = resource.masterIdentifier;
    if (isObj(mi) && typeof mi.value === 'string' && mi.value) {
      return [{ system: typeof mi.system === 'string' && mi.system ? mi.system : MASTER_IDENTIFIER_SYSTEM, value: mi.value }];
    }
  }
  const ids = (Array.isArray(resource.identifier) ? resource.identifier : [resource.identifier]).filter(
    (i): i is Json => isObj(i) && typeof i.value === 'string' && i.value !== '',
  );
  const preferred = KEY_SYSTEMS[type];
  if (preferred) {
    const out: BusinessKey[] = [];
    for (const system of preferred) {
      for (const i of ids) if (i.system === system) out.push({ system, value: i.value as string });
    }
    if (out.length) return out;
  }
  // Any other identifier still names the object (an identifier without system counts too:
  // the key is scoped by owner and resource type anyway).
  return ids.map((i) => ({ system: typeof i.system === 'string' && i.system ? i.system : NO_SYSTEM, value: i.value as string }));
}

/** Canonical JSON: sorted keys, so equal content hashes equally whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => k !== 'display' && k !== 'extension' && v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'string') return JSON.stringify(v.normalize('NFC').trim().toLowerCase());
  return JSON.stringify(v);
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 40);
}

/**
 * The business keys of a resource, in priority order (the first one that is already known
 * wins on resend). Identifier-less types get one composite key; call it with references
 * already rewritten to server ids. Any other type without identifier gets a content hash
 * (id, meta and narrative excluded), so that an identical resend is not duplicated.
 */
export function businessKeys(resource: Json, context: KeyContext = {}): BusinessKey[] {
  const ids = identifierKeys(resource);
  if (ids.length) return ids;
  const type = String(resource.resourceType);
  const attributes = COMPOSITE_ATTRIBUTES[type];
  let basis: Json;
  if (type === 'Consent') {
    basis = consentBasis(resource, context);
  } else if (attributes) {
    basis = {};
    for (const a of attributes) if (resource[a] !== undefined) basis[a] = resource[a];
    if (type === 'RelatedPerson') basis.usager = referenceText(resource.patient) ?? context.usager;
  } else {
    basis = { ...resource };
    delete basis.id;
    delete basis.meta;
    delete basis.text;
    // Per-usager objects that may not name their usager: the usager of the bundle is part of
    // the key, or two usagers' identical objects would merge.
    if (context.usager) basis.__usager = context.usager;
  }
  return [{ system: COMPOSITE_SYSTEM_PREFIX + type, value: hash(canonical(basis)) }];
}

/**
 * The submitting organisation (owner of the keys): the FINESS of the Bundle's Organization
 * (idNatSt = `1` + FINESS), else the FINESS prefix of the local identifiers (`3<FINESS>/…`).
 */
export function ownerOf(bundle: unknown): string | undefined {
  const resources = (isObj(bundle) && Array.isArray(bundle.entry) ? bundle.entry : [])
    .map((e) => (isObj(e) && isObj(e.resource) ? e.resource : undefined))
    .filter((r): r is Json => r !== undefined);
  for (const r of resources) {
    if (r.resourceType !== 'Organization' || !Array.isArray(r.identifier)) continue;
    for (const i of r.identifier) {
      if (isObj(i) && i.system === SYSTEMS.ID_NAT_ST && typeof i.value === 'string') {
        const f = checkIdNatSt(i.value).finess;
        if (f) return f;
      }
    }
  }
  // Patients first (their PI is the reference local id), then every other business id.
  const ordered = [...resources.filter((r) => r.resourceType === 'Patient'), ...resources.filter((r) => r.resourceType !== 'Patient')];
  for (const r of ordered) {
    const ids = [...(Array.isArray(r.identifier) ? r.identifier : [r.identifier]), r.masterIdentifier];
    for (const i of ids) {
      if (isObj(i) && typeof i.value === 'string') {
        const f = finessOfLocalId(i.value);
        if (f) return f;
      }
    }
  }
  return undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/**
 * The submitting organisation named by one resource sent on its own (v1 `POST
 * /DocumentReference`): the FINESS of its custodian / author Organization (contained, or the
 * idNatSt identifier of the reference), else the FINESS prefix of its local identifiers
 * (masterIdentifier, identifier, subject.identifier) — what a transaction carrying it would
 * give as owner, so that both find the same keys.
 */
export function ownerOfResource(resource: Json): string | undefined {
  const contained = list(resource.contained).filter(isObj);
  const parts: Json[] = [];
  for (const ref of [...list(resource.custodian), ...list(resource.author)].filter(isObj)) {
    const r = typeof ref.reference === 'string' ? ref.reference : '';
    if (r.startsWith('#')) {
      const c = contained.find((x) => x.resourceType === 'Organization' && x.id === r.slice(1));
      if (c) parts.push(c);
    } else if (isObj(ref.identifier)) {
      parts.push({ resourceType: 'Organization', identifier: [ref.identifier] });
    }
  }
  parts.push(resource);
  if (isObj(resource.subject) && isObj(resource.subject.identifier)) parts.push({ resourceType: 'Patient', identifier: [resource.subject.identifier] });
  return ownerOf({ entry: parts.map((r) => ({ resource: r })) });
}

/**
 * Business keys of plain creates and updates (`Repository.create`/`update`, see
 * src/storage/types.ts `BusinessKeyPolicy`): identifier keys only. Composite keys are not
 * registered there: they hash references rewritten to the Bundle entries' keys, which a
 * resource sent on its own (server ids) cannot reproduce, so they would never match.
 */
export const TDDUI_KEY_POLICY = {
  ownerOf: (resource: Json): string | undefined => ownerOfResource(resource),
  keysOf: (resource: Json): BusinessKey[] => identifierKeys(resource),
};

/** A FINESS named by the data, and where (a FHIRPath location in what was sent). */
export interface FinessMention {
  finess: string;
  expression: string;
}

/**
 * Every FINESS the written data are filed under, for the writer's binding (issue 21): the
 * `idNatSt` (1 + FINESS) of each Organization, and the FINESS prefix of each business
 * identifier with the local layout (3 + FINESS + `/…`: usagers' PI, séjours, évaluations, the
 * other `identifiant-medicosocial-*` systems, document master identifiers), in the resources and
 * what they contain. A professional's idNatPs (`3+FINESS/…` for one without RPPS) names the
 * structure that registered the person, not the owner of the data: it is not a mention.
 * `root`: the FHIRPath of the resource or Bundle given.
 */
export function finessMentions(data: unknown, root?: string): FinessMention[] {
  const out: FinessMention[] = [];
  const visit = (r: unknown, path: string) => {
    if (!isObj(r) || typeof r.resourceType !== 'string') return;
    if (r.resourceType === 'Bundle') {
      const entries = Array.isArray(r.entry) ? r.entry : [];
      entries.forEach((e, i) => {
        if (isObj(e)) visit(e.resource, `${path}.entry[${i}].resource`);
      });
      return;
    }
    const ids = Array.isArray(r.identifier) ? r.identifier : r.identifier === undefined ? [] : [r.identifier];
    ids.forEach((id, i) => {
      if (!isObj(id) || typeof id.value !== 'string') return;
      const at = Array.isArray(r.identifier) ? `${path}.identifier[${i}]` : `${path}.identifier`;
      if (id.system === SYSTEMS.ID_NAT_ST) {
        const f = r.resourceType === 'Organization' ? checkIdNatSt(id.value).finess : undefined;
        if (f) out.push({ finess: f, expression: at });
        return;
      }
      if (id.system === SYSTEMS.ID_NAT_PS) return;
      const f = finessOfLocalId(id.value);
      if (f) out.push({ finess: f, expression: at });
    });
    if (isObj(r.masterIdentifier) && typeof r.masterIdentifier.value === 'string') {
      const f = finessOfLocalId(r.masterIdentifier.value);
      if (f) out.push({ finess: f, expression: `${path}.masterIdentifier` });
    }
    if (Array.isArray(r.contained)) r.contained.forEach((c, i) => visit(c, `${path}.contained[${i}]`));
  };
  visit(data, root ?? (isObj(data) && typeof data.resourceType === 'string' ? data.resourceType : ''));
  return out;
}
