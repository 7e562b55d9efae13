// The circle of care prefilled from what the DUI already sent (TDDUI): members *proposed*, never
// written until a person accepts one (then it is a plain CareTeam write, checked like any other).
// Sources, for the usager Patient/<id>:
//   - the usager's contacts (TDDUI RelatedPerson, `patient` = the usager): the relationship as role;
//   - the professionals of the agenda events (Encounter.participant.individual) and of the
//     projet personnalisé (Task.owner of the usager's Tasks), as PractitionerRole — CDS's
//     circle names a professional by their situation of practice; a Practitioner given alone is
//     proposed through a PractitionerRole of theirs when one is known;
//   - the ESSMS of the current séjour (Encounter.serviceProvider of a stay still open).
// Members already active in one of the usager's CareTeams are not proposed again.
import { isObject } from '../fhir/json.js';
import type { Repository, SearchParam } from '../storage/types.js';
import { refKey } from './circle-access.js';

type Json = Record<string, unknown>;

export interface Proposal {
  /** `RelatedPerson/…`, `PractitionerRole/…` or `Organization/…`; a `Practitioner/…` whose situation of practice is not known (to be given a PractitionerRole on acceptance). */
  member: string;
  /** What to call them (name, else the reference). */
  display: string;
  /** The role in the circle, in words (relationship, profession, ESSMS). */
  role: string;
  /** Since when the DUI data show them around the usager (YYYY-MM-DD), if known. */
  start?: string;
  /** Where the proposal comes from, in French (contact, évènement, projet personnalisé, séjour). */
  source: string;
}

async function all(repo: Repository, type: string, params: SearchParam[]): Promise<Json[]> {
  const r = await repo.search({ resourceType: type, params, count: 1000, offset: 0, total: 'none' });
  return r.matches.map((m) => m.resource as Json);
}

async function read(repo: Repository, key: string): Promise<Json | undefined> {
  const [type, id] = key.split('/');
  if (!type || !id) return undefined;
  return repo.read(type, id).then((r) => r.resource as Json, () => undefined);
}

function text(cc: unknown): string | undefined {
  const c = Array.isArray(cc) ? cc[0] : cc;
  if (!isObject(c)) return undefined;
  if (typeof c.text === 'string') return c.text;
  const coding = Array.isArray(c.coding) ? c.coding.find((x) => isObject(x) && (typeof x.display === 'string' || typeof x.code === 'string')) : undefined;
  return isObject(coding) ? String(coding.display ?? coding.code) : undefined;
}

/** A resource's name for people: `name` as text (Organization) or its first HumanName. */
export function nameOf(r: Json | undefined): string | undefined {
  if (!r) return undefined;
  if (typeof r.name === 'string') return r.name;
  const n = Array.isArray(r.name) ? r.name[0] : undefined;
  if (!isObject(n)) return undefined;
  if (typeof n.text === 'string') return n.text;
  return [...(Array.isArray(n.given) ? n.given : []), n.family].filter((x) => typeof x === 'string').join(' ') || undefined;
}

const day = (v: unknown): string | undefined => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : undefined);

/** The members proposed for the usager's circle, from their TDDUI data. */
export async function circleProposals(repo: Repository, patientId: string, now: Date = new Date()): Promise<Proposal[]> {
  const me = `Patient/${patientId}`;
  const [contacts, encounters, ownTasks, plans, consents, teams] = await Promise.all([
    all(repo, 'RelatedPerson', [{ name: 'patient', values: [me] }]),
    all(repo, 'Encounter', [{ name: 'subject', values: [me] }]),
    all(repo, 'Task', [{ name: 'subject', values: [me] }]),
    all(repo, 'CarePlan', [{ name: 'subject', values: [me] }]),
    all(repo, 'Consent', [{ name: 'patient', values: [me] }]),
    all(repo, 'CareTeam', [{ name: 'patient', values: [me] }]),
  ]);
  // The projet personnalisé's actions: Tasks of the usager, and those based on their plans.
  const planTasks = plans.length ? await all(repo, 'Task', [{ name: 'based-on', values: plans.map((p) => `CarePlan/${String(p.id)}`) }]) : [];
  const tasks = [...ownTasks, ...planTasks.filter((t) => !ownTasks.some((o) => o.id === t.id))];
  const today = now.toISOString();
  const already = new Set<string>();
  for (const t of teams) {
    if (t.status !== 'active' && t.status !== undefined) continue;
    for (const p of Array.isArray(t.participant) ? t.participant : []) {
      const period = isObject(p) && isObject(p.period) ? p.period : {};
      if (typeof period.end === 'string' && period.end <= today) continue;
      const k = isObject(p) ? refKey(p.member) : undefined;
      if (k) already.add(k);
    }
  }
  const out = new Map<string, Proposal>();
  const propose = (p: Proposal) => {
    if (already.has(p.member)) return;
    const seen = out.get(p.member);
    if (!seen) out.set(p.member, p);
    else if (p.start && (!seen.start || p.start < seen.start)) seen.start = p.start;
  };
  for (const c of contacts) {
    propose({ member: `RelatedPerson/${String(c.id)}`, display: nameOf(c) ?? `RelatedPerson/${String(c.id)}`, role: text(c.relationship) ?? 'proche', source: 'contact de l’usager (DUI)', ...(day(isObject(c.period) ? c.period.start : undefined) ? { start: day((c.period as Json).start)! } : {}) });
  }
  // Professionals: PractitionerRole as given, or through a role of the Practitioner given.
  const roleOf = async (key: string): Promise<Json | undefined> => {
    if (key.startsWith('PractitionerRole/')) return read(repo, key);
    if (key.startsWith('Practitioner/')) return (await all(repo, 'PractitionerRole', [{ name: 'practitioner', values: [key] }]))[0];
    return undefined;
  };
  const professional = async (ref: unknown, start: string | undefined, source: string) => {
    const key = refKey(ref);
    if (!key) return;
    const role = await roleOf(key);
    if (!role) {
      // A Practitioner with no known situation of practice: proposed as such; accepting it
      // means giving them a PractitionerRole first (CDS's circle names roles).
      if (!key.startsWith('Practitioner/')) return;
      const practitioner = await read(repo, key);
      if (!practitioner) return;
      propose({ member: key, display: nameOf(practitioner) ?? key, role: 'professionnel (situation d’exercice à préciser)', source, ...(start ? { start } : {}) });
      return;
    }
    const practitioner = await read(repo, refKey(role.practitioner) ?? '');
    const member = `PractitionerRole/${String(role.id)}`;
    propose({ member, display: nameOf(practitioner) ?? (isObject(ref) && typeof ref.display === 'string' ? ref.display : member), role: text(role.code) ?? 'professionnel', source, ...(start ? { start } : {}) });
  };
  for (const e of encounters) {
    const period = isObject(e.period) ? e.period : {};
    const isStay = isSejour(e);
    for (const p of Array.isArray(e.participant) ? e.participant : []) if (isObject(p)) await professional(p.individual, day(period.start), 'évènement de l’agenda (DUI)');
    // The ESSMS of a séjour still open.
    const open = e.status === 'in-progress' || (period.start !== undefined && period.end === undefined) || (typeof period.end === 'string' && period.end > today);
    if (isStay && open) {
      const key = refKey(e.serviceProvider);
      if (key?.startsWith('Organization/')) {
        const org = await read(repo, key);
        propose({ member: key, display: nameOf(org) ?? key, role: 'ESSMS du séjour en cours', source: 'séjour en cours (DUI)', ...(day(period.start) ? { start: day(period.start)! } : {}) });
      }
    }
  }
  for (const t of tasks) {
    const start = day(isObject(t.executionPeriod) ? t.executionPeriod.start : t.authoredOn);
    await professional(t.owner, start, 'projet personnalisé (DUI)');
  }
  // The professionals who signed the projet personnalisé's accord (TDDUI Consent.performer; the
  // accord is the plan's supportingInfo, it names no patient itself).
  const accords = [...consents];
  for (const p of plans) {
    for (const info of Array.isArray(p.supportingInfo) ? p.supportingInfo : []) {
      const key = refKey(info);
      if (key?.startsWith('Consent/') && !accords.some((c) => `Consent/${String(c.id)}` === key)) {
        const c = await read(repo, key);
        if (c) accords.push(c);
      }
    }
  }
  for (const c of accords) {
    for (const p of Array.isArray(c.performer) ? c.performer : []) if (refKey(p) !== me) await professional(p, day(c.dateTime), 'projet personnalisé (DUI)');
  }
  return [...out.values()].sort((a, b) => a.source.localeCompare(b.source) || a.display.localeCompare(b.display));
}

/** A TDDUI séjour (not an agenda event): its profile, or its séjour identifier. */
function isSejour(e: Json): boolean {
  const profiles = isObject(e.meta) && Array.isArray(e.meta.profile) ? e.meta.profile : [];
  if (profiles.some((p) => typeof p === 'string' && p.includes('tddui-encounter-sejour'))) return true;
  return (Array.isArray(e.identifier) ? e.identifier : []).some((i) => isObject(i) && i.system === 'https://identifiant-medicosocial-sejour.esante.gouv.fr');
}
