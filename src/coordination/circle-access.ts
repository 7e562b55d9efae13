// Access to a usager's liaison notebook (CdL notes: DocumentReference), circle of care (CDS:
// CareTeam) and the consents that authorise it, restricted to the circle (Cadre d'urbanisation
// du secteur médico-social 2024, recommendation 1.1.11: "only the members of the circle
// authorised by the usager may read or write the notebook"). An access rule of src/rest/access.ts.
//
// It decides for *persons* (a token whose `fhirUser` names a Practitioner, PractitionerRole,
// RelatedPerson or Patient); a system client (the DUI itself, no `fhirUser`) keeps the rules of
// its scopes and FINESS. For a person, on a usager's data:
//   - the usager (fhirUser = that Patient) reads and writes their notebook and circle, and alone
//     manages the consents;
//   - anyone else must be an *active* participant of one of the usager's active CareTeams
//     (participant.period covering now; a Practitioner counts through a PractitionerRole of
//     theirs that is the participant) AND be named by an active Consent of the usager that
//     permits the block: provision.actor.reference = that participant, provision.class =
//     `http://hl7.org/fhir/resource-types#DocumentReference` for the notebook, `#CareTeam` for the
//     circle (decisions.md D-53: neither volet defines the authorisation; this is a project choice);
//   - a note whose securityLabel (CdL J110) is INVISIBLE_PATIENT is not shown to the usager,
//     INVISIBLE_REPRESENTANTS_LEGAUX not to related persons, MASQUE_PS not to professionals
//     (its author excepted).
// Membership is read from the database at each request: a member whose period has ended is
// refused at the next request.
import { isObject, type FhirResource } from '../fhir/json.js';
import type { Actor, AccessRule, Refusal } from '../rest/access.js';
import type { Repository, SearchParam } from '../storage/types.js';

type Json = Record<string, unknown>;

export const RESOURCE_TYPES_SYSTEM = 'http://hl7.org/fhir/resource-types';
/** The blocks a Consent can open, by provision.class code. */
export type Block = 'DocumentReference' | 'CareTeam';

const GOVERNED = new Set(['DocumentReference', 'CareTeam', 'Consent']);

/** J110 visibility codes and who they hide a note from. */
const HIDDEN_FROM: Record<string, PersonKind> = {
  INVISIBLE_PATIENT: 'usager',
  INVISIBLE_REPRESENTANTS_LEGAUX: 'related',
  MASQUE_PS: 'professional',
};

type PersonKind = 'usager' | 'related' | 'professional';

function kindOf(fhirUser: string): PersonKind | undefined {
  const type = fhirUser.split('/')[0];
  if (type === 'Patient') return 'usager';
  if (type === 'RelatedPerson') return 'related';
  if (type === 'Practitioner' || type === 'PractitionerRole') return 'professional';
  return undefined;
}

/** `Type/id` of a reference (relative or absolute), or undefined. */
export function refKey(ref: unknown): string | undefined {
  const r = isObject(ref) && typeof ref.reference === 'string' ? ref.reference : typeof ref === 'string' ? ref : undefined;
  if (!r) return undefined;
  const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(r);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/** The usager (`Patient/id`) a governed resource is about. */
export function patientOf(resource: FhirResource): string | undefined {
  const ref = resource.resourceType === 'Consent' ? resource.patient : resource.subject;
  const key = refKey(ref);
  return key?.startsWith('Patient/') ? key : undefined;
}

function within(period: unknown, now: string): boolean {
  const p = isObject(period) ? period : {};
  if (typeof p.start === 'string' && p.start > now) return false;
  if (typeof p.end === 'string' && p.end <= now) return false;
  return true;
}

const NO_PATIENT: Refusal = {
  en: 'This resource names no usager (Patient): the circle of care cannot allow access to it',
  fr: 'Cette ressource ne désigne aucun usager (Patient) : le cercle de soins ne peut pas y donner accès',
};

export class CircleAccess implements AccessRule {
  readonly name = 'circle-of-care';
  constructor(
    private readonly repo: Repository,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  governsType(actor: Actor, type: string): boolean {
    return actor.fhirUser !== undefined && GOVERNED.has(type);
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private async all(type: string, params: SearchParam[]): Promise<Json[]> {
    const r = await this.repo.search({ resourceType: type, params, count: 1000, offset: 0, total: 'none' });
    return r.matches.map((m) => m.resource as Json);
  }

  /** The references that stand for the actor in a circle: themself, and for a Practitioner their PractitionerRoles. */
  async actorRefs(fhirUser: string): Promise<string[]> {
    const refs = [fhirUser];
    if (fhirUser.startsWith('Practitioner/')) {
      for (const role of await this.all('PractitionerRole', [{ name: 'practitioner', values: [fhirUser] }])) refs.push(`PractitionerRole/${String(role.id)}`);
    }
    return refs;
  }

  /** Why `fhirUser` may not use `block` of the usager `patient`, or undefined when they may. */
  async refusal(fhirUser: string, patient: string, block: Block): Promise<Refusal | undefined> {
    if (fhirUser === patient) return undefined;
    const kind = kindOf(fhirUser);
    if (!kind || kind === 'usager') {
      return { en: `${fhirUser} is not this usager (${patient})`, fr: `${fhirUser} n’est pas cet usager (${patient})` };
    }
    const refs = new Set(await this.actorRefs(fhirUser));
    const now = this.now();
    const teams = await this.all('CareTeam', [{ name: 'patient', values: [patient] }]);
    let ended: string | undefined;
    const active = new Set<string>();
    for (const t of teams) {
      if (t.status !== 'active' && t.status !== undefined) continue;
      for (const p of Array.isArray(t.participant) ? t.participant : []) {
        const member = isObject(p) ? refKey(p.member) : undefined;
        if (!member || !refs.has(member)) continue;
        if (within(p.period, now)) active.add(member);
        else if (isObject(p.period) && typeof p.period.end === 'string') ended = p.period.end;
      }
    }
    if (active.size === 0) {
      return ended
        ? { en: `${fhirUser} left the circle of care of ${patient} on ${ended.slice(0, 10)}`, fr: `${fhirUser} a quitté le cercle de soins de ${patient} le ${ended.slice(0, 10)}` }
        : { en: `${fhirUser} is not an active member of the circle of care of ${patient}`, fr: `${fhirUser} n’est pas membre actif du cercle de soins de ${patient}` };
    }
    const consents = await this.all('Consent', [{ name: 'patient', values: [patient] }]);
    for (const c of consents) {
      if (c.status !== 'active' || !isObject(c.provision)) continue;
      const prov = c.provision;
      if (prov.type !== undefined && prov.type !== 'permit') continue;
      if (!within(prov.period, now)) continue;
      const names = (Array.isArray(prov.actor) ? prov.actor : []).some((a) => isObject(a) && active.has(refKey(a.reference) ?? ''));
      const opens = (Array.isArray(prov.class) ? prov.class : []).some((k) => isObject(k) && k.system === RESOURCE_TYPES_SYSTEM && k.code === block);
      if (names && opens) return undefined;
    }
    const what = block === 'DocumentReference' ? ['the liaison notebook', 'au cahier de liaison'] : ['the circle of care', 'au cercle de soins'];
    return {
      en: `The usager ${patient} has not authorised ${fhirUser} to access ${what[0]} (no active Consent naming them for it)`,
      fr: `L’usager ${patient} n’a pas autorisé ${fhirUser} à accéder ${what[1]} (aucun consentement actif le désignant)`,
    };
  }

  private hiddenFrom(resource: FhirResource, fhirUser: string): Refusal | undefined {
    if (resource.resourceType !== 'DocumentReference') return undefined;
    const kind = kindOf(fhirUser);
    for (const l of Array.isArray(resource.securityLabel) ? resource.securityLabel : []) {
      for (const c of isObject(l) && Array.isArray(l.coding) ? l.coding : []) {
        const code = isObject(c) && typeof c.code === 'string' ? c.code : '';
        if (HIDDEN_FROM[code] && HIDDEN_FROM[code] === kind) {
          const author = (Array.isArray(resource.author) ? resource.author : []).some((a) => refKey(a) === fhirUser);
          if (!author) return { en: `This note's visibility (${code}) does not allow your role to see it`, fr: `La visibilité de cette note (${code}) ne permet pas à votre rôle de la voir` };
        }
      }
    }
    return undefined;
  }

  async readRefusal(actor: Actor, resource: FhirResource): Promise<Refusal | undefined> {
    const me = actor.fhirUser!;
    const patient = patientOf(resource);
    if (!patient) return NO_PATIENT;
    if (resource.resourceType === 'Consent') {
      if (me === patient) return undefined;
      const refs = new Set(await this.actorRefs(me));
      const prov = isObject(resource.provision) ? resource.provision : {};
      const named = (Array.isArray(prov.actor) ? prov.actor : []).some((a) => isObject(a) && refs.has(refKey(a.reference) ?? ''));
      return named ? undefined : { en: 'Only the usager and the persons a consent names may read it', fr: 'Seuls l’usager et les personnes qu’un consentement désigne peuvent le lire' };
    }
    const block: Block = resource.resourceType === 'CareTeam' ? 'CareTeam' : 'DocumentReference';
    return (await this.refusal(me, patient, block)) ?? this.hiddenFrom(resource, me);
  }

  async writeRefusal(actor: Actor, resource: FhirResource | undefined, current: FhirResource | undefined): Promise<Refusal | undefined> {
    const me = actor.fhirUser!;
    for (const r of [current, resource]) {
      if (!r) continue;
      const patient = patientOf(r);
      if (!patient) return NO_PATIENT;
      if (r.resourceType === 'Consent') {
        if (me !== patient) return { en: 'Only the usager manages their consents', fr: 'Seul l’usager gère ses consentements' };
        continue;
      }
      const no = await this.refusal(me, patient, r.resourceType === 'CareTeam' ? 'CareTeam' : 'DocumentReference');
      if (no) return no;
      if (r === current) {
        const hidden = this.hiddenFrom(r, me);
        if (hidden) return hidden;
      }
    }
    return undefined;
  }

  async searchRestriction(actor: Actor, type: string): Promise<SearchParam[]> {
    const me = actor.fhirUser!;
    const kind = kindOf(me);
    const nothing = [{ name: '_id', values: ['-no-access-'] }];
    if (type === 'Consent') {
      if (kind === 'usager') return [{ name: 'patient', values: [me] }];
      return [{ name: 'actor', values: await this.actorRefs(me) }];
    }
    const block: Block = type === 'CareTeam' ? 'CareTeam' : 'DocumentReference';
    let patients: string[];
    if (kind === 'usager') patients = [me];
    else {
      const teams = await this.all('CareTeam', [{ name: 'participant', values: await this.actorRefs(me) }]);
      const candidates = [...new Set(teams.map((t) => refKey(t.subject)).filter((p): p is string => !!p?.startsWith('Patient/')))];
      patients = [];
      for (const p of candidates) if (!(await this.refusal(me, p, block))) patients.push(p);
    }
    if (patients.length === 0) return nothing;
    const out: SearchParam[] = [{ name: type === 'CareTeam' ? 'patient' : 'patient', values: patients }];
    if (type === 'DocumentReference' && kind) {
      const hidden = Object.entries(HIDDEN_FROM).filter(([, k]) => k === kind).map(([code]) => code);
      for (const code of hidden) out.push({ name: 'security-label', modifier: 'not', values: [code] });
    }
    return out;
  }

  historyRefusal(actor: Actor, type: string | undefined): Refusal | undefined {
    if (!actor.fhirUser) return undefined;
    return type === undefined
      ? { en: 'The history of the whole server is not open to a person’s token', fr: 'L’historique de tout le serveur n’est pas ouvert au jeton d’une personne' }
      : { en: `The history of every ${type} is not open to a person’s token: ask for one resource’s history`, fr: `L’historique de toutes les ressources ${type} n’est pas ouvert au jeton d’une personne : demandez celui d’une ressource` };
  }
}
