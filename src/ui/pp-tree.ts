// The projet personnalisé (PP) as a tree, rebuilt from the stored resources by following the
// TDDUI links: Goal (attente/objectif) → CarePlan by the tddui-careplan-reference extension;
// ServiceRequest (besoin) and Task (action, moyen, prestation, bilan) → CarePlan by basedOn;
// objectif → besoin by Goal.addresses; action → objectif by its `objectif` input; moyen /
// prestation → action by partOf; accords and documents by CarePlan.supportingInfo and the
// tddui-attachment extension.
// The official PA example has actions whose basedOn names another CarePlan (the IME one), so a
// resource whose own PP link does not resolve is attached through its parent, and as a last
// resort to the usager's only PP; what still hangs loose is listed as "non rattaché".
import {
  EXT,
  SYS,
  arr,
  codeText,
  codesText,
  extReference,
  frCompareNumeric,
  frDate,
  frStatus,
  hasProfile,
  hasSystem,
  isObj,
  keyOf,
  refOf,
  refsOf,
  str,
  displayOf,
  type Json,
} from './fhir-util.js';

export type PpKind = 'pp' | 'attente' | 'besoin' | 'objectif' | 'action' | 'moyen' | 'prestation' | 'bilan' | 'accord' | 'doc';

export interface PpNode {
  kind: PpKind;
  /** `Type/id` of the resource. */
  key: string;
  title: string;
  details: string[];
  children: PpNode[];
  /** Documents (kind `doc`): each content attachment, by its index in `content`. */
  attachments?: PpAttachment[];
}

export interface PpAttachment {
  /** Index in DocumentReference.content. */
  index: number;
  title?: string;
  contentType?: string;
  /** Bytes carried inline (`attachment.data`): the UI serves them. */
  inline: boolean;
  /** `attachment.url` when the document is elsewhere. */
  url?: string;
  size?: number;
}

/** How a CodeableConcept is read (the page passes one that knows the loaded code systems). */
export type ConceptLabel = (cc: unknown) => string | undefined;

export interface PpOptions {
  /** Practitioners, organisations, the usager… by `Type/id`, for the names of owners and signatories. */
  actors?: Map<string, Json>;
  concept?: ConceptLabel;
}

export const KIND_LABEL: Record<PpKind, string> = {
  pp: 'Projet personnalisé',
  attente: 'Attente',
  besoin: 'Besoin',
  objectif: 'Objectif',
  action: 'Action',
  moyen: 'Moyen / ressource',
  prestation: 'Prestation',
  bilan: 'Bilan',
  accord: 'Accord',
  doc: 'Document',
};

export function ppKind(r: Json): PpKind | undefined {
  switch (r.resourceType) {
    case 'CarePlan':
      return 'pp';
    case 'Goal':
      if (hasSystem(r, SYS.attente) || hasProfile(r, 'tddui-goal-attente')) return 'attente';
      if (hasSystem(r, SYS.objectif) || hasProfile(r, 'tddui-goal-objectif')) return 'objectif';
      return undefined;
    case 'ServiceRequest':
      return 'besoin';
    case 'Task':
      if (hasSystem(r, SYS.action) || hasProfile(r, 'tddui-task-action')) return 'action';
      if (hasSystem(r, SYS.moyen) || hasProfile(r, 'tddui-task-moyen-ressource')) return 'moyen';
      if (hasSystem(r, SYS.prestation) || hasProfile(r, 'tddui-task-prestation')) return 'prestation';
      if (hasSystem(r, SYS.bilan) || hasProfile(r, 'tddui-task-bilan')) return 'bilan';
      return undefined;
    case 'Consent':
      return 'accord';
    case 'DocumentReference':
      return 'doc';
    default:
      return undefined;
  }
}

function inputs(task: Json, code: string): Json[] {
  return arr(task.input).filter((i) => arr(isObj(i.type) ? i.type.coding : undefined).some((c) => c.code === code));
}

function inputString(task: Json, code: string): string | undefined {
  return str(inputs(task, code)[0]?.valueString);
}

function noteBy(goal: Json, code: string): string | undefined {
  const n = arr(goal.note).find((x) =>
    arr(x.extension).some((e) => e.url === EXT.discriminator && arr(isObj(e.valueCodeableConcept) ? e.valueCodeableConcept.coding : undefined).some((c) => c.code === code)),
  );
  return n ? str(n.text) : undefined;
}

function lineItems(text: string | undefined): string[] {
  return (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.replace(/^\s*[-*•]\s*/, '').trim())
    .filter(Boolean);
}

function period(p: unknown): string | undefined {
  if (!isObj(p)) return undefined;
  const s = frDate(p.start);
  const e = frDate(p.end);
  if (s && e) return `du ${s} au ${e}`;
  if (s) return `depuis le ${s}`;
  if (e) return `jusqu’au ${e}`;
  return undefined;
}

/** Title and detail lines of one PP element. `byKey` resolves owners and authors for display. */
function describe(kind: PpKind, r: Json, byKey: Map<string, Json>, concept: ConceptLabel): { title: string; details: string[] } {
  const codesOf = (v: unknown) =>
    arr(v)
      .map(concept)
      .filter(Boolean)
      .join(', ');
  const d: string[] = [];
  const push = (label: string, v: string | undefined) => {
    if (v) d.push(`${label} : ${v}`);
  };
  const ident = str(arr(r.identifier)[0]?.value) ?? (isObj(r.identifier) ? str(r.identifier.value) : undefined);
  const who = (ref: unknown) => {
    if (!isObj(ref)) return undefined;
    const k = refOf(ref);
    const target = k ? byKey.get(k) : undefined;
    return target ? displayOf(target) : (str(ref.display) ?? k);
  };
  let title: string;
  switch (kind) {
    case 'pp':
      title = str(r.title) ?? 'Projet personnalisé';
      push('Statut', frStatus(r.status));
      push('Catégorie', codesOf(r.category));
      push('Mise en œuvre', period(r.period));
      push('Description', str(r.description));
      break;
    case 'attente': {
      // The description is often a list ("- …" lines): one detail line per item.
      const origin = noteBy(r, 'origineAttente');
      const lines = lineItems(concept(r.description));
      title = origin ? `Attentes (origine : ${origin})` : lines.length > 1 ? 'Attentes' : (lines[0] ?? 'Attente');
      if (origin || lines.length > 1) d.push(...lines);
      push('Commentaire', noteBy(r, 'commentaireAttente'));
      break;
    }
    case 'besoin':
      title = concept(r.code) ?? 'Besoin';
      push('Type', codesOf(r.category));
      push('Analyse', concept(arr(r.orderDetail)[0]));
      push('Statut', frStatus(r.status));
      break;
    case 'objectif': {
      const t = noteBy(r, 'titreObjectif');
      const desc = concept(r.description);
      title = t ?? desc ?? 'Objectif';
      if (t && desc) d.push(desc);
      push('Domaine', codesOf(r.category));
      push('Début', frDate(r.startDate));
      const target = arr(r.target)[0];
      push('Résultat attendu', str(target?.detailString));
      push('Échéance', frDate(target?.dueDate));
      push('Avis de l’usager', noteBy(r, 'avisUsagerObjectif'));
      push('Statut', frStatus(r.lifecycleStatus));
      break;
    }
    case 'action':
    case 'moyen':
    case 'prestation': {
      const t = inputString(r, 'titre');
      title = t ?? str(r.description) ?? KIND_LABEL[kind];
      if (t && str(r.description)) d.push(str(r.description)!);
      if (kind === 'moyen') push('Type', concept(r.code));
      if (kind === 'prestation') push('Prestation', inputs(r, 'typePrestation').map((i) => concept(i.valueCodeableConcept)).filter(Boolean).join(', '));
      push('Référent', who(r.owner));
      push('Période', period(r.executionPeriod));
      push('Résultat attendu', inputString(r, 'resultatAttendu'));
      push('Avis de l’usager', inputString(r, 'avisUsager'));
      push('Statut', frStatus(r.status));
      break;
    }
    case 'bilan':
      title = `Bilan${concept(r.code) ? ` (${concept(r.code)})` : ''}${isObj(r.executionPeriod) && r.executionPeriod.start ? ` du ${frDate(r.executionPeriod.start)}` : ''}`;
      push('Périmètre', inputString(r, 'perimetre'));
      push('Problématique', inputString(r, 'problematique'));
      push('Invités', inputString(r, 'invite'));
      push('Prochain bilan', frDate(inputs(r, 'dateProchainBilan')[0]?.valueDateTime));
      push('Synthèse', str(arr(r.output).find((o) => arr(isObj(o.type) ? o.type.coding : undefined).some((c) => c.code === 'syntheseBilan'))?.valueString));
      push('Statut', frStatus(r.status));
      break;
    case 'accord':
      title = `Accord${r.dateTime ? ` signé le ${frDate(r.dateTime)}` : ''}`;
      push('Par', arr(r.performer).map(who).filter(Boolean).join(', '));
      push('Statut', frStatus(r.status));
      break;
    case 'doc': {
      const att = isObj(arr(r.content)[0]?.attachment) ? (arr(r.content)[0].attachment as Json) : undefined;
      title = str(att?.title) ?? str(r.description) ?? 'Document';
      push('Type', concept(r.type));
      push('Date', frDate(r.date ?? att?.creation));
      break;
    }
  }
  if (ident && kind !== 'accord' && kind !== 'doc') d.push(`Identifiant : ${ident}`);
  return { title, details: d };
}

/** Title and detail lines of one PP element (the tree's own wording; the PPA diff compares them). */
export function describePpElement(r: Json, options: PpOptions = {}): { kind: PpKind; title: string; details: string[] } | undefined {
  const kind = ppKind(r);
  if (!kind) return undefined;
  return { kind, ...describe(kind, r, options.actors ?? new Map(), options.concept ?? codeText) };
}

export interface PpForest {
  trees: PpNode[];
  /** PP elements whose projet could not be determined. */
  orphans: PpNode[];
}

/** Builds one tree per CarePlan found in `resources` (current versions of one usager's data). */
/** The attachments of a DocumentReference, as the tree shows them. */
export function attachmentsOf(doc: Json): PpAttachment[] {
  return arr(doc.content).flatMap((c, index) => {
    const a = isObj(c.attachment) ? c.attachment : undefined;
    if (!a) return [];
    const data = typeof a.data === 'string' && a.data.length > 0;
    const size = typeof a.size === 'number' ? a.size : data ? Math.floor(((a.data as string).replace(/\s+/g, '').length * 3) / 4) : undefined;
    return [{ index, title: str(a.title), contentType: str(a.contentType), inline: data, url: str(a.url), size }];
  });
}

/** DocumentReferences an element points to: tddui-attachment extensions, and Task inputs `pieceJointe`. */
function documentRefs(r: Json): string[] {
  const refs = extReference(r, EXT.attachment).map((x) => refOf({ reference: x }));
  if (r.resourceType === 'Task') for (const i of inputs(r, 'pieceJointe')) refs.push(refOf(i.valueReference));
  return [...new Set(refs.filter((x): x is string => !!x && x.startsWith('DocumentReference/')))];
}

export function buildPpTrees(input: Json[], options: PpOptions | Map<string, Json> = {}): PpForest {
  const opts: PpOptions = options instanceof Map ? { actors: options } : options;
  const actors = opts.actors ?? new Map<string, Json>();
  const concept: ConceptLabel = opts.concept ?? codeText;
  // Stable order: by business identifier (…-BESO-1234 before …-BESO-1235), numbers as numbers.
  const ident = (r: Json) => str(arr(r.identifier)[0]?.value) ?? String(r.id ?? '');
  const resources = input.map((r) => ({ r, k: ident(r) })).sort((a, b) => frCompareNumeric(a.k, b.k)).map((x) => x.r);
  const byKey = new Map<string, Json>(actors);
  for (const r of resources) if (r.id) byKey.set(keyOf(r), r);
  const kindOf = new Map<string, PpKind>();
  for (const r of resources) {
    const k = ppKind(r);
    if (k && r.id) kindOf.set(keyOf(r), k);
  }
  // Each kind's elements, in the order above (read once: a projet may hold hundreds of moyens).
  const lists = new Map<PpKind, Json[]>();
  for (const r of resources) {
    const k = r.id ? kindOf.get(keyOf(r)) : undefined;
    if (!k) continue;
    const list = lists.get(k);
    if (list) list.push(r);
    else lists.set(k, [r]);
  }
  const ofKind = (k: PpKind): Json[] => lists.get(k) ?? [];
  const plans = ofKind('pp');
  const planKeys = new Set(plans.map(keyOf));
  const known = (ref: string | undefined, kind: PpKind) => (ref && kindOf.get(ref) === kind ? ref : undefined);

  // Structural links.
  const objectifsOf = (r: Json) => inputs(r, 'objectif').map((i) => known(refOf(i.valueReference), 'objectif')).filter((x): x is string => !!x);
  const besoinsOf = (r: Json) => refsOf(r.addresses).filter((x) => kindOf.get(x) === 'besoin');
  const actionsOf = (r: Json) => refsOf(r.partOf).filter((x) => kindOf.get(x) === 'action');
  /** The children of each parent by one link, in the order of `children` (each child once per parent). */
  const childrenBy = (children: Json[], parentsOf: (r: Json) => string[]) => {
    const out = new Map<string, Json[]>();
    for (const c of children) {
      for (const parent of new Set(parentsOf(c))) {
        const list = out.get(parent);
        if (list) list.push(c);
        else out.set(parent, [c]);
      }
    }
    return out;
  };
  const meansByAction = childrenBy([...ofKind('moyen'), ...ofKind('prestation')], actionsOf);
  const actionsByObjectif = childrenBy(ofKind('action'), objectifsOf);
  const objectifsByBesoin = childrenBy(ofKind('objectif'), besoinsOf);

  // The PP of each element: its own link, else through its parents, else the only PP.
  const ownPlan = (r: Json): string | undefined => {
    const k = kindOf.get(keyOf(r));
    const refs = k === 'attente' || k === 'objectif' ? extReference(r, EXT.careplanReference).map((x) => refOf({ reference: x })) : refsOf(r.basedOn);
    return refs.find((x) => x && planKeys.has(x));
  };
  const planOf = new Map<string, string | undefined>();
  const resolvePlan = (r: Json, depth = 0): string | undefined => {
    const key = keyOf(r);
    if (planOf.has(key)) return planOf.get(key);
    let p = ownPlan(r);
    if (!p && depth < 4) {
      const parents = [...objectifsOf(r), ...besoinsOf(r), ...actionsOf(r)];
      for (const parent of parents) {
        const pr = byKey.get(parent);
        p = pr ? resolvePlan(pr, depth + 1) : undefined;
        if (p) break;
      }
    }
    if (!p && plans.length === 1) p = keyOf(plans[0]);
    planOf.set(key, p);
    return p;
  };

  const node = (r: Json, children: PpNode[] = []): PpNode => {
    const kind = kindOf.get(keyOf(r))!;
    const { title, details } = describe(kind, r, byKey, concept);
    if (kind === 'doc') return { kind, key: keyOf(r), title, details, children, attachments: attachmentsOf(r) };
    // The documents attached to this element come first among its children.
    const docs = kind === 'pp' ? [] : documentRefs(r).flatMap((k) => (byKey.get(k) && kindOf.get(k) === 'doc' ? [node(byKey.get(k)!)] : []));
    return { kind, key: keyOf(r), title, details, children: [...docs, ...children] };
  };
  const subMeans = (actionKey: string) => (meansByAction.get(actionKey) ?? []).map((m) => node(m));
  const actionNode = (a: Json) => node(a, subMeans(keyOf(a)));
  const objectifNode = (o: Json) => node(o, (actionsByObjectif.get(keyOf(o)) ?? []).map(actionNode));

  const trees: PpNode[] = plans.map((plan) => {
    const pk = keyOf(plan);
    const mine = (k: PpKind) => ofKind(k).filter((r) => resolvePlan(r) === pk);
    const children: PpNode[] = [];
    for (const c of refsOf(plan.supportingInfo)) {
      const r = byKey.get(c);
      if (r && kindOf.get(c) === 'accord') children.push(node(r));
    }
    for (const k of documentRefs(plan)) {
      const r = byKey.get(k);
      if (r && kindOf.get(k) === 'doc') children.push(node(r));
    }
    children.push(...mine('attente').map((r) => node(r)));
    children.push(...mine('besoin').map((b) => node(b, (objectifsByBesoin.get(keyOf(b)) ?? []).map(objectifNode))));
    children.push(...mine('objectif').filter((o) => besoinsOf(o).length === 0).map(objectifNode));
    children.push(...mine('action').filter((a) => objectifsOf(a).length === 0).map(actionNode));
    children.push(...[...mine('moyen'), ...mine('prestation')].filter((m) => actionsOf(m).length === 0).map((m) => node(m)));
    children.push(...mine('bilan').map((r) => node(r)));
    return node(plan, children);
  });
  const orphans = (['attente', 'besoin', 'objectif', 'action', 'moyen', 'prestation', 'bilan'] as PpKind[])
    .flatMap((k) => ofKind(k))
    .filter((r) => !resolvePlan(r))
    .map((r) => node(r));
  return { trees, orphans };
}
