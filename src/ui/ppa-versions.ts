// The projet personnalisé d'accompagnement (PPA) over time: its versions and a readable French
// diff between two of them (Cadre d'urbanisation 2024, recommendation 1.1.6: every enrichment
// makes a new version).
//
// A PPA is not one resource but a CarePlan with its goals, needs, actions, means, services,
// reviews and accords, each versioned on its own by the write path. A **PPA version** is the
// state of all of them after one write that changed any of them (a TDDUI resend, an
// enrichment): the distinct `lastUpdated` instants of their versions — one plan writes all its
// versions at one instant, and an identical resend writes none (D-60), so it makes no version.
// The state at a version is, for each element, its latest version at or before that instant.
// A new yearly PPA is a new CarePlan: its versions follow the previous plan's in the usager's list.
import type { Repository, ResourceRecord } from '../storage/types.js';
import type { FhirResource } from '../fhir/json.js';
import { validatingAccords } from '../tddui/ppa-accord.js';
import { frCompareNumeric, frStatus, isObj, keyOf, str, type Json } from './fhir-util.js';
import { describePpElement, KIND_LABEL, ppKind, type PpKind, type PpOptions } from './pp-tree.js';

export interface PpaVersion {
  /** 1, 2, … in time order, for the usager. */
  number: number;
  /** The instant of the write that made it. */
  instant: string;
  /** The CarePlans present at that version (`CarePlan/id`), and their titles. */
  plans: { key: string; title?: string; status?: string }[];
  /** Elements written at that instant (`Type/id`). */
  changed: string[];
  /**
   * Validated: a CarePlan of the version is active with the usager's accord (an active Consent
   * of its supportingInfo signed by the usager or a relative: performer Patient or RelatedPerson).
   */
  validated: boolean;
  /** When validated: the date of the usager's accord (else the version's instant). */
  validatedOn?: string;
}

export interface PpaHistory {
  versions: PpaVersion[];
  /** Every version of every element, by `Type/id`, oldest first. */
  records: Map<string, ResourceRecord[]>;
}

/** The elements whose versions make the PPA's (documents are attached files, not PPA content). */
const TRACKED: ReadonlySet<PpKind> = new Set(['pp', 'attente', 'besoin', 'objectif', 'action', 'moyen', 'prestation', 'bilan', 'accord']);

/** Every version of the usager's PPA elements (`current`: their current versions, e.g. UsagerData.ppResources). */
export async function loadPpaHistory(repo: Repository, current: Json[]): Promise<PpaHistory> {
  const records = new Map<string, ResourceRecord[]>();
  for (const r of current) {
    const kind = ppKind(r);
    if (!kind || !TRACKED.has(kind) || !r.id) continue;
    const all: ResourceRecord[] = [];
    for (let offset = 0; ; offset += 100) {
      const h = await repo.history({ resourceType: String(r.resourceType), id: String(r.id), count: 100, offset });
      all.push(...h.entries);
      if (h.entries.length < 100) break;
    }
    all.sort((a, b) => a.versionId - b.versionId);
    records.set(keyOf(r), all);
  }
  return { versions: versionsOf(records), records };
}

/** The state of the elements at `instant` (their latest non-deleted version then). */
export function stateAt(records: Map<string, ResourceRecord[]>, instant: string): Json[] {
  const t = Date.parse(instant);
  const out: Json[] = [];
  for (const versions of records.values()) {
    let last: ResourceRecord | undefined;
    for (const v of versions) if (Date.parse(v.lastUpdated) <= t) last = v;
    if (last && !last.deleted) out.push(last.resource as Json);
  }
  return out;
}

function versionsOf(records: Map<string, ResourceRecord[]>): PpaVersion[] {
  const byInstant = new Map<string, string[]>();
  for (const [key, versions] of records) for (const v of versions) byInstant.set(v.lastUpdated, [...(byInstant.get(v.lastUpdated) ?? []), key]);
  const instants = [...byInstant.keys()].sort((a, b) => Date.parse(a) - Date.parse(b));
  return instants.map((instant, i) => {
    const state = stateAt(records, instant);
    const plans = state.filter((r) => r.resourceType === 'CarePlan');
    const byKey = new Map(state.map((r) => [keyOf(r), r]));
    const accords = plans.flatMap((p) => validatingAccords(p as FhirResource, (k) => byKey.get(k) as FhirResource | undefined) as Json[]);
    const validated = accords.length > 0;
    const signed = accords.map((c) => str(c.dateTime)).filter((d): d is string => !!d).sort().pop();
    return {
      ...(validated ? { validatedOn: signed ?? instant } : {}),
      number: i + 1,
      instant,
      plans: plans.map((p) => ({ key: keyOf(p), ...(str(p.title) ? { title: str(p.title)! } : {}), ...(str(p.status) ? { status: str(p.status)! } : {}) })),
      changed: [...new Set(byInstant.get(instant) ?? [])].sort(),
      validated,
    };
  });
}


// --- the diff --------------------------------------------------------------------------------

export type PpaChangeKind = 'ajout' | 'retrait' | 'cloture' | 'reformulation' | 'statut' | 'modification';

export interface PpaChange {
  /** The element's PP kind (objectif, action, besoin, moyen, prestation, bilan, attente, accord, pp). */
  element: PpKind;
  /** `Type/id`. */
  key: string;
  change: PpaChangeKind;
  /** The element's title after the change (before it for a removal). */
  title: string;
  before?: string;
  after?: string;
  /** The change in one French sentence. */
  text: string;
}

/** Statuses that close an element: a goal, an action, a mean… (FHIR Goal.lifecycleStatus, Task.status, ServiceRequest.status, CarePlan.status). */
const CLOSED = new Set(['completed', 'cancelled', 'rejected', 'entered-in-error', 'revoked', 'stopped', 'failed']);

function statusOf(r: Json): string | undefined {
  return str(r.resourceType === 'Goal' ? r.lifecycleStatus : r.status);
}

/** An element's free-text description (a Goal's is a CodeableConcept). */
function descriptionOf(r: Json): string | undefined {
  return str(isObj(r.description) ? r.description.text : r.description);
}

/** The wording of an element: what a reformulation changes (title and description). */
function wordingOf(r: Json, title: string): string {
  return [title, descriptionOf(r) ?? ''].join('\u0000');
}

const feminine = new Set<PpKind>(['attente', 'action', 'prestation']);
const label = (k: PpKind) => KIND_LABEL[k];
const agreed = (k: PpKind, masc: string, fem: string) => (feminine.has(k) ? fem : masc);

/**
 * The changes from the PPA state `a` to the state `b` (element resources of each version), in
 * the order of the tree: project, expectations, needs, goals, actions, means, services, reviews,
 * accords. Technical differences (references, meta, identifiers) are not changes.
 */
export function diffPpa(a: Json[], b: Json[], options: PpOptions = {}): PpaChange[] {
  const index = (xs: Json[]) => new Map(xs.filter((r) => r.id && ppKind(r) && TRACKED.has(ppKind(r)!)).map((r) => [keyOf(r), r]));
  const before = index(a);
  const after = index(b);
  const out: PpaChange[] = [];
  const order: PpKind[] = ['pp', 'attente', 'besoin', 'objectif', 'action', 'moyen', 'prestation', 'bilan', 'accord'];
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const describe = (r: Json) => describePpElement(r, options)!;
  for (const kind of order) {
    // In the tree's order: by business identifier (…-OBJE-1234 before …-OBJE-1235), numbers as numbers.
    const ident = (k: string) => {
      const r = (after.get(k) ?? before.get(k))!;
      return str(Array.isArray(r.identifier) ? (r.identifier[0] as Json | undefined)?.value : undefined) ?? k;
    };
    for (const key of keys.filter((k) => ppKind((after.get(k) ?? before.get(k))!) === kind).sort((x, y) => frCompareNumeric(ident(x), ident(y)) || x.localeCompare(y))) {
      const old = before.get(key);
      const now = after.get(key);
      if (!old && now) {
        const d = describe(now);
        out.push({ element: kind, key, change: 'ajout', title: d.title, after: d.title, text: `${label(kind)} ${agreed(kind, 'ajouté', 'ajoutée')} : « ${d.title} »` });
        continue;
      }
      if (old && !now) {
        const d = describe(old);
        out.push({ element: kind, key, change: 'retrait', title: d.title, before: d.title, text: `${label(kind)} ${agreed(kind, 'retiré', 'retirée')} : « ${d.title} »` });
        continue;
      }
      const d0 = describe(old!);
      const d1 = describe(now!);
      const s0 = statusOf(old!);
      const s1 = statusOf(now!);
      if (wordingOf(old!, d0.title) !== wordingOf(now!, d1.title)) {
        const reworded = d0.title !== d1.title ? [d0.title, d1.title] : [descriptionOf(old!) ?? '', descriptionOf(now!) ?? ''];
        out.push({ element: kind, key, change: 'reformulation', title: d1.title, before: reworded[0], after: reworded[1], text: `${label(kind)} ${agreed(kind, 'reformulé', 'reformulée')} : « ${reworded[0]} » devient « ${reworded[1]} »` });
      }
      if (s0 !== s1) {
        const closing = !!s1 && CLOSED.has(s1) && !(s0 && CLOSED.has(s0));
        out.push({
          element: kind,
          key,
          change: closing ? 'cloture' : 'statut',
          title: d1.title,
          ...(s0 ? { before: frStatus(s0) } : {}),
          ...(s1 ? { after: frStatus(s1) } : {}),
          text: closing
            ? `${label(kind)} ${agreed(kind, 'clôturé', 'clôturée')} : « ${d1.title} » (${frStatus(s0) || 'sans statut'} → ${frStatus(s1)})`
            : `${label(kind)} « ${d1.title} » : statut ${frStatus(s0) || 'absent'} → ${frStatus(s1) || 'absent'}`,
        });
      }
      // Any other detail the tree shows (dates, référent, résultat attendu, avis de l'usager…);
      // the status and the wording are said above.
      const said = new Set([descriptionOf(old!), descriptionOf(now!)].filter((x): x is string => !!x));
      const other = (xs: string[]) => xs.filter((x) => !x.startsWith('Statut : ') && !said.has(x));
      const g = other(d0.details).filter((x) => !d1.details.includes(x));
      const n = other(d1.details).filter((x) => !d0.details.includes(x));
      if (g.length || n.length) {
        out.push({
          element: kind,
          key,
          change: 'modification',
          title: d1.title,
          ...(g.length ? { before: g.join(' ; ') } : {}),
          ...(n.length ? { after: n.join(' ; ') } : {}),
          text: `${label(kind)} « ${d1.title} » ${agreed(kind, 'modifié', 'modifiée')} : ${[...(g.length ? [`avant ${g.join(' ; ')}`] : []), ...(n.length ? [`après ${n.join(' ; ')}`] : [])].join(', ')}`,
        });
      }
    }
  }
  return out;
}

/** The diff between two versions of the usager's PPA (by number). */
export function diffVersions(h: PpaHistory, from: number, to: number, options: PpOptions = {}): PpaChange[] {
  const v = (n: number) => h.versions.find((x) => x.number === n);
  const a = v(from);
  const b = v(to);
  if (!a || !b) throw new RangeError(`version ${!a ? from : to} does not exist (1..${h.versions.length})`);
  return diffPpa(stateAt(h.records, a.instant), stateAt(h.records, b.instant), options);
}

/** Changes grouped for display, in the tree's order (section title → changes). */
export function groupChanges(changes: PpaChange[]): { section: string; changes: PpaChange[] }[] {
  const sections: [string, PpKind[]][] = [
    ['Projet', ['pp']],
    ['Attentes', ['attente']],
    ['Besoins', ['besoin']],
    ['Objectifs', ['objectif']],
    ['Actions', ['action']],
    ['Moyens et ressources', ['moyen']],
    ['Prestations', ['prestation']],
    ['Bilans (revues)', ['bilan']],
    ['Accords', ['accord']],
  ];
  return sections.map(([section, kinds]) => ({ section, changes: changes.filter((c) => kinds.includes(c.element)) })).filter((s) => s.changes.length);
}

