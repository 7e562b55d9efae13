// TDDUI transaction Bundle → pivot documents (`tddui read`, readBundle()). The inverse of the
// builder: a Bundle built from a pivot reads back to the very same pivot. Bundles from other
// producers are read on a best-effort basis: references may be urn:uuid, absolute or relative
// (`Type/id`, resolved against the entry's fullUrl base or the entries' `Type/id`).
import { AGGIR_PA_ITEMS, AGGIR_PH_ITEMS, BID, EXT, GIR_CODES, PROFILE, QUESTIONNAIRE, SYS, type EvaluationType } from '../pivot/constants.js';
import { PIVOT_FORMAT, parsePivot, type Adresse, type Pivot } from '../pivot/schema.js';
import { localIdOf } from '../build/ids.js';

type R = Record<string, any>;

export class ReadError extends Error {
  constructor(
    message: string,
    /** The same in French. */
    readonly messageFr: string,
  ) {
    super(message);
    this.name = 'ReadError';
  }
}

interface Entry {
  fullUrl?: string;
  resource: R;
  index: number;
}

class Index {
  readonly entries: Entry[];
  private readonly byUrl = new Map<string, Entry>();

  /** The TDDUI version the Bundle pins in its meta.profile (`…/tddui-bundle|2.3.0`), if any. */
  readonly igVersion: string | undefined;

  constructor(bundle: R) {
    if (!bundle || bundle.resourceType !== 'Bundle') throw new ReadError('not a FHIR Bundle (resourceType must be "Bundle")', 'ce n’est pas un Bundle FHIR (resourceType doit valoir « Bundle »)');
    const pin = (bundle.meta?.profile ?? []).find((p: unknown) => typeof p === 'string' && p.startsWith(`${PROFILE.bundle}|`)) as string | undefined;
    this.igVersion = pin?.slice(PROFILE.bundle.length + 1);
    this.entries = (Array.isArray(bundle.entry) ? bundle.entry : [])
      .map((e: R, index: number) => ({ fullUrl: e?.fullUrl, resource: e?.resource, index }))
      .filter((e: Entry) => e.resource && typeof e.resource.resourceType === 'string');
    for (const e of this.entries) {
      if (e.fullUrl) this.byUrl.set(e.fullUrl, e);
      if (e.resource.id) this.byUrl.set(`${e.resource.resourceType}/${e.resource.id}`, e);
    }
  }

  resolve(from: Entry | undefined, reference: unknown): Entry | undefined {
    if (typeof reference !== 'string') return undefined;
    const direct = this.byUrl.get(reference);
    if (direct) return direct;
    // Relative reference against the absolute fullUrl base of the referencing entry.
    const m = from?.fullUrl ? /^(.*\/)[A-Za-z]+\/[^/]+$/.exec(from.fullUrl) : null;
    if (m && /^[A-Za-z]+\/[^/]+$/.test(reference)) return this.byUrl.get(m[1] + reference);
    return undefined;
  }

  ofProfile(profile: string, fallback?: (r: R) => boolean): Entry[] {
    return this.entries.filter((e) => {
      const profiles: unknown[] = e.resource.meta?.profile ?? [];
      return profiles.includes(profile) || (profiles.length === 0 && fallback?.(e.resource));
    });
  }
}

const hasSystem = (system: string) => (r: R) =>
  [].concat(r.identifier ?? []).some((i: R) => i?.system === system);
const extOf = (r: R | undefined, url: string): R[] => (Array.isArray(r?.extension) ? r!.extension.filter((x: R) => x?.url === url) : []);
const ext1 = (r: R | undefined, url: string): R | undefined => extOf(r, url)[0];
const codeOf = (c: R | undefined) => {
  const x = c?.coding?.[0];
  return x ? (x.display !== undefined ? { code: x.code, display: x.display } : { code: x.code }) : undefined;
};
const codingOf = (x: R | undefined) =>
  x ? (x.display !== undefined ? { system: x.system, code: x.code, display: x.display } : { system: x.system, code: x.code }) : undefined;
/** Drops undefined members: the pivot reads back exactly as it was written. */
function clean<T extends R>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined || (Array.isArray(o[k]) && o[k].length === 0)) delete o[k];
  return o;
}

function addressOf(a: R | undefined): Adresse | undefined {
  if (!a) return undefined;
  return clean({ lignes: a.line, codePostal: a.postalCode, commune: a.city, pays: a.country, texte: a.text });
}

/**
 * Reads every usager of a TDDUI transaction Bundle into pivot documents (one per Patient entry;
 * usually one). The result is validated with the pivot schema.
 */
export function readBundle(bundle: unknown): Pivot[] {
  const ix = new Index(bundle as R);
  const patients = ix.entries.filter((e) => e.resource.resourceType === 'Patient');
  if (patients.length === 0) throw new ReadError('the Bundle holds no Patient entry: nothing to read', 'le Bundle n’a aucune entrée Patient : rien à lire');
  return patients.map((p) => parsePivot(readUsager(ix, p), `(read from Bundle.entry[${p.index}])`));
}

function readUsager(ix: Index, pe: Entry): R {
  const pat = pe.resource;
  const ids: R[] = pat.identifier ?? [];
  const piId = ids.find((i) => i.system === BID.localUsager);
  const pi: string | undefined = piId?.value;
  const belongs = (e: Entry, field: string) => {
    const target = ix.resolve(e, e.resource[field]?.reference);
    return target === pe;
  };

  // The ESSMS: serviceProvider of a séjour/event, else the organisation of a role, else the first one.
  const orgEntries = ix.entries.filter((e) => e.resource.resourceType === 'Organization');
  const structureOf = (o: Entry | undefined) => {
    if (!o) return undefined;
    const id = (o.resource.identifier ?? []).find((i: R) => i.system === SYS.idNatSt)?.value as string | undefined;
    return { finess: id?.startsWith('1') ? id.slice(1) : id ?? '', raisonSociale: o.resource.name ?? '' };
  };
  const providerEntry = ix.entries
    .filter((e) => e.resource.resourceType === 'Encounter' && e.resource.serviceProvider)
    .map((e) => ix.resolve(e, e.resource.serviceProvider.reference))
    .find(Boolean);
  const finessFromPi = pi && /^3([0-9AB]{9})\//.exec(pi)?.[1];
  const orgEntry =
    providerEntry ??
    orgEntries.find((o) => structureOf(o)?.finess === finessFromPi) ??
    orgEntries[0];
  // A Bundle without Organization (the official PP examples) still names the FINESS in the usager's
  // local identifier; the name is then unknown and said so.
  const structure = structureOf(orgEntry) ?? { finess: finessFromPi || '', raisonSociale: `Structure FINESS ${finessFromPi || 'inconnu'} (non transmise)` };
  const idLocal = pi ? pi.slice(pi.indexOf('/') + 1) : pat.id ?? 'inconnu';
  const local = (tag: string, value: string) => localIdOf(pi, tag, value);

  // Usager
  const insId = ids.find((i) => [SYS.insNir, SYS.insNia, SYS.insNirTest, SYS.insNirDemo].includes(i.system) && i.type?.coding?.[0]?.code?.startsWith('INS-'));
  const nss = ids.find((i) => i !== insId && i.system === SYS.insNir && i.type?.coding?.[0]?.code === 'NH');
  const mdph = ids.find((i) => i.type?.coding?.[0]?.code === 'PIN');
  const official = (pat.name ?? []).find((n: R) => n.use === 'official') ?? pat.name?.[0];
  const usual = (pat.name ?? []).find((n: R) => n.use === 'usual');
  const reliability = ext1(pat, EXT.identityReliability)?.extension?.find((x: R) => x.url === 'identityStatus')?.valueCoding?.code;
  const birthPlace = ext1(pat, EXT.birthPlace)?.valueAddress;
  const usager = clean({
    idLocal,
    ins: insId ? clean({ matricule: insId.value, type: String(insId.type.coding[0].code).slice(4), statutIdentite: reliability }) : undefined,
    nss: nss?.value,
    numeroInitialMdph: mdph?.value,
    civilite: official?.prefix?.[0],
    nomNaissance: official?.family,
    prenom: official?.given?.[0],
    prenoms: ext1(official, EXT.birthListGivenName)?.valueString,
    nomUtilise: usual?.family,
    prenomUtilise: usual?.given?.[0],
    sexe: pat.gender,
    dateNaissance: pat.birthDate,
    rangNaissance: ext1(pat._birthDate, EXT.birthOrder)?.valuePositiveInt,
    lieuNaissance: birthPlace
      ? clean({ codeInsee: ext1(birthPlace, EXT.inseeCode)?.valueCoding?.code, commune: birthPlace.city, pays: birthPlace.country })
      : undefined,
    adresse: addressOf(pat.address?.[0]),
    // TDDUI 2.3.0
    dateDeces: pat.deceasedDateTime,
    lieuDeces: ext1(pat, EXT.deathPlace)?.valueString,
    nationalite: codeOf(ext1(pat, EXT.nationality)?.extension?.find((x: R) => x.url === 'code')?.valueCodeableConcept),
    situationFoyer: householdOf(ext1(pat, EXT.householdSituation)),
    commentaire: ext1(pat, EXT.comment)?.valueString,
    permisConduire: ids
      .filter((i) => i.type?.coding?.[0]?.system === SYS.v20203 && i.type?.coding?.[0]?.code === 'DL')
      .map((i) => clean({ numero: i.value, systeme: i.system, debut: i.period?.start, fin: i.period?.end })),
  });

  // Professionals: Practitioner entries, their role (PractitionerRole) when present.
  const proKey = new Map<Entry, string>();
  const professionnels: R[] = [];
  for (const e of ix.entries.filter((x) => x.resource.resourceType === 'Practitioner')) {
    const r = e.resource;
    const idNatPs = (r.identifier ?? []).find((i: R) => i.system === SYS.idNatPs)?.value ?? r.identifier?.[0]?.value ?? r.id;
    proKey.set(e, idNatPs);
    const roleEntry = ix.entries.find((x) => x.resource.resourceType === 'PractitionerRole' && ix.resolve(x, x.resource.practitioner?.reference) === e);
    let role: R | undefined;
    if (roleEntry) {
      const rr = roleEntry.resource;
      proKey.set(roleEntry, idNatPs);
      role = clean({
        fonction: codingOf(rr.code?.[0]?.coding?.[0]),
        profession: codingOf(ext1(rr.code?.[0], EXT.profession)?.valueCodeableConcept?.coding?.[0]),
        modeExercice: ext1(rr, EXT.exerciseMode)?.valueCodeableConcept?.coding?.[0]?.code,
      });
    }
    const n = r.name?.[0];
    professionnels.push(clean({
      idNatPs,
      civilite: n?.prefix?.[0],
      nom: n?.family ?? '',
      prenom: n?.given?.[0],
      qualifications: (r.qualification ?? []).map((q: R) => codingOf(q.code?.coding?.[0])).filter(Boolean),
      role,
    }));
  }
  // Contacts (RelatedPerson of this usager)
  const contactKey = new Map<Entry, string>();
  const contacts: R[] = [];
  for (const e of ix.entries.filter((x) => x.resource.resourceType === 'RelatedPerson' && ix.resolve(x, x.resource.patient?.reference) === pe)) {
    const r = e.resource;
    const id = local(BID.contact.tag, r.identifier?.[0]?.value ?? r.id ?? `contact-${e.index}`);
    contactKey.set(e, id);
    const rel = (system: string) => codeOf((r.relationship ?? []).find((x: R) => x.coding?.[0]?.system === system));
    const n = r.name?.[0];
    const tel = (system: string) => (r.telecom ?? []).find((t: R) => t.system === system)?.value;
    contacts.push(clean({
      id,
      civilite: n?.prefix?.[0],
      nom: n?.family ?? n?.text ?? '',
      prenom: n?.given?.[0],
      sexe: r.gender,
      dateNaissance: r.birthDate,
      telephone: tel('phone'),
      email: tel('email'),
      adresse: addressOf(r.address?.[0]),
      role: rel(SYS.roleClass),
      relation: rel(SYS.roleCode),
      protectionJuridique: rel(SYS.protectionJuridique)?.code,
      description: ext1(r, EXT.contactDescription)?.valueString,
    }));
  }
  const proOf = (from: Entry, reference: R | undefined): string | undefined => {
    const t = ix.resolve(from, reference?.reference);
    return t ? proKey.get(t) : undefined;
  };

  // Documents
  const docKey = new Map<Entry, string>();
  const documents: R[] = [];
  for (const e of ix.ofProfile(PROFILE.documentReference, (r) => r.resourceType === 'DocumentReference')) {
    const r = e.resource;
    if (r.subject && !belongs(e, 'subject')) continue;
    const id = local(BID.document.tag, r.masterIdentifier?.value ?? r.id ?? `doc-${e.index}`);
    docKey.set(e, id);
    const att = r.content?.[0]?.attachment ?? {};
    const author = ix.resolve(e, r.author?.[0]?.reference);
    documents.push(clean({
      id,
      titre: att.title,
      typeMime: att.contentType,
      donnees: att.data,
      date: att.creation,
      auteur: author && author.resource.resourceType !== 'Organization' ? proKey.get(author) : undefined,
      description: r.description,
    }));
  }
  const docsOf = (from: Entry, exts: R[]) =>
    exts.map((x) => docKey.get(ix.resolve(from, x.valueReference?.reference)!)).filter((x): x is string => !!x);

  // Séjours
  const sejourKey = new Map<Entry, string>();
  const sejours: R[] = [];
  for (const e of ix.ofProfile(PROFILE.sejour, (r) => r.resourceType === 'Encounter' && hasSystem(BID.sejour.system)(r))) {
    if (!belongs(e, 'subject')) continue;
    const r = e.resource;
    const id = local(BID.sejour.tag, (r.identifier ?? []).find((i: R) => i.system === BID.sejour.system)?.value ?? '');
    sejourKey.set(e, id);
    const str = (url: string) => ext1(r, url)?.valueString;
    const dt = (url: string) => ext1(r, url)?.valueDateTime;
    sejours.push(clean({
      id,
      statut: r.status,
      classe: r.class?.code,
      dateEntree: r.period?.start,
      dateSortie: r.period?.end,
      dateEntreePrevue: dt(EXT.plannedStart),
      dateSortiePrevue: dt(EXT.plannedEnd),
      dateAdmission: dt(EXT.admissionDate),
      libelleModeEntree: str(EXT.entryModeLabel),
      libelleModeSortie: str(EXT.exitModeLabel),
      commentaire: str(EXT.comment),
    }));
  }

  // Events
  const eventKey = new Map<Entry, string>();
  const evenements: R[] = [];
  for (const e of ix.ofProfile(PROFILE.evenement, (r) => r.resourceType === 'Encounter' && hasSystem(BID.evenement.system)(r))) {
    if (!belongs(e, 'subject')) continue;
    const r = e.resource;
    const id = local(BID.evenement.tag, r.identifier?.[0]?.value ?? '');
    eventKey.set(e, id);
    const str = (url: string) => ext1(r, url)?.valueString;
    const bool = (url: string) => ext1(r, url)?.valueBoolean;
    const participants: R[] = r.participant ?? [];
    const isAut = (p: R) => p.type?.[0]?.coding?.[0]?.code === 'AUT';
    const sejourEntry = ix.resolve(e, r.partOf?.reference);
    evenements.push(clean({
      id,
      sejour: sejourEntry ? sejourKey.get(sejourEntry) : undefined,
      statut: r.status,
      motifAnnulation: codeOf(ext1(r._status, EXT.cancelReason)?.valueCodeableConcept),
      classe: r.class?.code,
      types: (r.type ?? []).map((t: R) => {
        const c = t.coding?.[0];
        if (c?.system === SYS.cisis) return { ssiad: codeOf(t) };
        if (c?.system === SYS.serafin) return { serafin: codeOf(t) };
        return { texte: t.text ?? c?.display ?? '' };
      }),
      debut: r.period?.start,
      fin: r.period?.end,
      libelle: str(EXT.eventLabel),
      compteRendu: str(EXT.eventReport),
      motif: str(EXT.eventReason),
      commentaires: extOf(r, EXT.comment).map((x) => x.valueString),
      horsService: bool(EXT.outsideService),
      usagerPresent: bool(EXT.patientPresent),
      repas: bool(EXT.meal),
      professionnels: participants.filter((p) => !isAut(p)).map((p) => proOf(e, p.individual)).filter(Boolean),
      // 2.2.0: a participant of type AUT; 2.3.0: an extension of Encounter.status.
      auteurStatut: participants.filter(isAut).map((p) => proOf(e, p.individual))[0] ?? proOf(e, ext1(r._status, EXT.statusAuthor)?.valueReference),
      valideParUsager: bool(EXT.patientValidation),
      ressources: extOf(r, EXT.ressourcesUsed).map((x) => {
        const sub = (url: string) => (x.extension ?? []).filter((s: R) => s.url === url).map((s: R) => codeOf(s.valueCodeableConcept));
        return clean({ type: sub('TDDUIRessourceType')[0], materiel: sub('TDDUIMaterialDetail'), immobilier: sub('TDDUIFacilityResource') });
      }),
      documents: docsOf(e, extOf(r, EXT.attachment)),
    }));
  }

  // Transports (their usager is the one of their event)
  const transports: R[] = [];
  for (const e of ix.entries.filter((x) => x.resource.resourceType === 'Task' && (hasSystem(BID.transportUsager.system)(x.resource) || hasSystem(BID.transportPro.system)(x.resource)))) {
    const r = e.resource;
    const ev = ix.resolve(e, r.encounter?.reference);
    if (!ev || !eventKey.has(ev)) continue;
    const pro = hasSystem(BID.transportPro.system)(r);
    const inp = (code: string) => (r.input ?? []).find((i: R) => i.type?.coding?.[0]?.code === code);
    const owner = ix.resolve(e, r.owner?.reference);
    transports.push(clean({
      id: local(pro ? BID.transportPro.tag : BID.transportUsager.tag, r.identifier?.[0]?.value ?? ''),
      type: pro ? 'professionnel' : 'usager',
      evenement: eventKey.get(ev),
      professionnel: pro ? proOf(e, r.for) : undefined,
      statut: r.status,
      modeTransport: codeOf(r.code),
      debut: r.executionPeriod?.start,
      fin: r.executionPeriod?.end,
      transporteur: owner ? structureOf(owner) : undefined,
      typeMotorisation: codeOf(inp('typeMotorisation')?.valueCodeableConcept),
      adresseDepart: addressOf(inp('adresseDepart')?.valueAddress),
      adresseDestination: addressOf(inp('adresseDestination')?.valueAddress),
      budgetPrevisionnel: inp('budgetPrevisionnel')?.valueMoney?.value,
      budgetReel: inp('budgetReel')?.valueMoney?.value,
      distanceKm: inp('distance')?.valueDistance?.value,
      dureeMinutes: inp('dureeTheorique')?.valueDuration?.value,
      accompagnement: inp('accompagnement')?.valueBoolean,
      asepsieRigoureuse: inp('asepsie')?.valueBoolean,
      natureTransport: codeOf(inp('natureTransport')?.valueCodeableConcept),
    }));
  }

  // Evaluations
  const evalKey = new Map<Entry, string>();
  const evaluations: R[] = [];
  for (const e of ix.ofProfile(PROFILE.questionnaireResponse, (r) => r.resourceType === 'QuestionnaireResponse')) {
    if (!belongs(e, 'subject')) continue;
    const r = e.resource;
    const type = (Object.keys(QUESTIONNAIRE) as EvaluationType[]).find((k) => QUESTIONNAIRE[k] === String(r.questionnaire).split('|')[0]);
    if (!type) continue;
    const identifier = Array.isArray(r.identifier) ? r.identifier[0] : r.identifier;
    const id = local(BID.evaluation.tag, identifier?.value ?? '');
    evalKey.set(e, id);
    const part = ext1(r, EXT.qrParticipant);
    const partRef = (url: string) => (part?.extension ?? []).find((x: R) => x.url === url)?.valueReference;
    const ev = ix.resolve(e, r.encounter?.reference);
    const comment = (x: R) => ext1(x, EXT.comment)?.valueString;
    const out: R = {
      id,
      type,
      statut: r.status,
      date: r.authored,
      evenement: ev ? eventKey.get(ev) : undefined,
      evaluateur: proOf(e, r.source),
      auteur: proOf(e, r.author),
      responsable: proOf(e, partRef('TDDUIResponsible')),
      auteurStatut: proOf(e, partRef('TDDUIStatusAuthor')) ?? proOf(e, ext1(r._status, EXT.statusAuthor)?.valueReference),
      commentaire: comment(r),
      documents: docsOf(e, extOf(r, EXT.attachment)),
    };
    const items: R[] = r.item ?? [];
    if (type === 'serafin') {
      out.besoins = items.map((i) => clean({ item: i.linkId, valeur: i.answer?.[0]?.valueInteger, commentaire: comment(i) }));
    } else if (type === 'situation-ssiad') {
      out.indicateurs = items.map((i) => clean({ item: i.linkId, valeur: i.answer?.[0]?.valueBoolean, commentaire: comment(i) }));
    } else {
      const root = items.find((i) => i.linkId === 'resultat-eval');
      const answer = root?.answer?.[0];
      const gir = GIR_CODES.indexOf(answer?.valueCoding?.code);
      out.gir = gir >= 0 ? gir + 1 : undefined;
      const defs = new Map((type === 'aggir-pa' ? AGGIR_PA_ITEMS : AGGIR_PH_ITEMS).map((d) => [d.linkId, d]));
      out.variables = [...(answer?.item ?? []), ...(root?.item ?? [])].map((v: R) => {
        const def = defs.get(v.linkId);
        const a = v.answer?.[0];
        const icf = a?.valueCoding?.code;
        const children: R[] = a?.item ?? v.item ?? [];
        const adv = (suffix: string) => children.find((c) => c.linkId === `${def?.adverbPrefix}-${suffix}`)?.answer?.[0]?.valueBoolean;
        const adverbes = clean({ spontanement: adv('spont'), totalement: adv('tot'), correctement: adv('correct'), habituellement: adv('habit') });
        return clean({
          item: v.linkId,
          modalite: icf === 'qf0' ? 'A' : icf === 'qf2' ? 'B' : icf === 'qf4' ? 'C' : undefined,
          adverbes: Object.keys(adverbes).length ? adverbes : undefined,
          commentaire: comment(v),
        });
      });
    }
    evaluations.push(clean(out));
  }

  const projetsPersonnalises = readProjets(ix, pe, { local, proOf, docsOf, evalKey, contactKey, patient: pe });

  const observations = readObservations(ix, pe, { local, contactKey, structureOf: (o) => structureOf(o) });

  return {
    format: PIVOT_FORMAT,
    ...(ix.igVersion ? { igVersion: ix.igVersion } : {}),
    structure,
    usager,
    professionnels,
    contacts,
    sejours,
    evenements,
    transports,
    evaluations,
    documents,
    projetsPersonnalises,
    ...(observations.length || ix.igVersion === '2.3.0' && ix.entries.some((x) => x.resource.resourceType === 'Observation') ? { observations } : {}),
  };
}

/** tddui-household-situation (2.3.0) -> pivot situationFoyer. */
function householdOf(x: R | undefined): R | undefined {
  if (!x) return undefined;
  const part = (url: string) => (x.extension ?? []).filter((s: R) => s.url === url);
  return clean({
    situationFamiliale: codingOf(part('familySituation')[0]?.valueCodeableConcept?.coding?.[0]),
    compositionFoyer: part('householdComposition').map((s: R) => codingOf(s.valueCodeableConcept?.coding?.[0])).filter(Boolean),
    description: part('householdCompositionDescription')[0]?.valueString,
  });
}

/** The usager's 2.3.0 Observations (cause of death, mobility, school period), in Bundle order. */
function readObservations(
  ix: Index,
  pe: Entry,
  c: { local: (tag: string, value: string) => string; contactKey: Map<Entry, string>; structureOf: (o: Entry | undefined) => R | undefined },
): R[] {
  const out: R[] = [];
  for (const e of ix.entries.filter((x) => x.resource.resourceType === 'Observation')) {
    const r = e.resource;
    if (ix.resolve(e, r.subject?.reference) !== pe) continue;
    const code = r.code?.coding?.[0]?.code;
    if (code === '79378-6') {
      out.push(clean({ type: 'cause-deces', cause: codeOf(r.component?.[0]?.valueCodeableConcept), date: r.effectiveDateTime }));
    } else if (code === 'LP73551-1') {
      const am = (r.component ?? []).find((x: R) => x.code?.coding?.[0]?.code === 'OBSAMENAGEMENT');
      out.push(clean({ type: 'mobilite', mode: codeOf(r.valueCodeableConcept), amenagement: am?.valueString, date: r.effectiveDateTime }));
    } else if (code === 'PERIODESCOL') {
      const comps = (k: string) => (r.component ?? []).filter((x: R) => x.code?.coding?.[0]?.code === k);
      const performers = (r.performer ?? []).map((p: R) => ix.resolve(e, p.reference)).filter(Boolean) as Entry[];
      const referent = performers.find((p) => p.resource.resourceType === 'RelatedPerson');
      const ecole = performers.find((p) => p.resource.resourceType === 'Organization');
      out.push(clean({
        type: 'periode-scolaire',
        id: c.local(BID.periodeScolaire.tag, r.identifier?.[0]?.value ?? ''),
        referent: referent ? c.contactKey.get(referent) : undefined,
        ecole: ecole ? c.structureOf(ecole) : undefined,
        debut: r.effectivePeriod?.start,
        fin: r.effectivePeriod?.end,
        typesEnseignement: comps('typeEnseignementSpecialise').map((x: R) => codeOf(x.valueCodeableConcept)),
        diplomes: comps('diplome').map((x: R) => codeOf(x.valueCodeableConcept)),
        volumeHeures: comps('volumeScolarisation')[0]?.valueQuantity?.value,
        note: r.note?.[0]?.text,
      }));
    }
  }
  return out;
}

interface Ctx {
  local: (tag: string, value: string) => string;
  proOf: (from: Entry, reference: R | undefined) => string | undefined;
  docsOf: (from: Entry, exts: R[]) => string[];
  evalKey: Map<Entry, string>;
  contactKey: Map<Entry, string>;
  patient: Entry;
}

function readProjets(ix: Index, pe: Entry, c: Ctx): R[] {
  const out: R[] = [];
  const idOf = (r: R) => (Array.isArray(r.identifier) ? r.identifier[0] : r.identifier)?.value ?? '';
  const inputs = (r: R, code: string): R[] => (r.input ?? []).filter((i: R) => i.type?.coding?.[0]?.code === code);
  const str1 = (r: R, code: string) => inputs(r, code)[0]?.valueString;
  const person = (from: Entry, reference: R | undefined) => {
    const t = ix.resolve(from, reference?.reference);
    if (t === c.patient) return { usager: true };
    if (t && c.contactKey.has(t)) return { contact: c.contactKey.get(t)! };
    const p = c.proOf(from, reference);
    return p !== undefined ? { professionnel: p } : undefined;
  };
  const statusAuthor = (from: Entry, el: R | undefined) => c.proOf(from, ext1(el, EXT.statusAuthor)?.valueReference);
  const docInputs = (from: Entry, r: R) =>
    inputs(r, 'pieceJointe').map((i) => c.docsOf(from, [{ valueReference: i.valueReference }])[0]).filter(Boolean);

  for (const ppe of ix.ofProfile(PROFILE.carePlan, (r) => r.resourceType === 'CarePlan')) {
    const pp = ppe.resource;
    if (!ix.resolve(ppe, pp.subject?.reference) || ix.resolve(ppe, pp.subject?.reference) !== pe) continue;
    const basedOnPp = (e: Entry) => (e.resource.basedOn ?? []).some((b: R) => ix.resolve(e, b.reference) === ppe);
    const refsPp = (e: Entry) => ix.resolve(e, ext1(e.resource, EXT.careplanReference)?.valueReference?.reference) === ppe;

    const accords = (pp.supportingInfo ?? []).map((si: R) => {
      const ce = ix.resolve(ppe, si.reference);
      const r = ce?.resource ?? {};
      const kind = ext1(si, EXT.discriminator)?.valueCodeableConcept?.coding?.[0]?.code;
      const per = ext1(r, EXT.consentPeriod)?.valuePeriod;
      return clean({
        type: kind === 'accordUsager' ? 'usager' : 'structure',
        date: r.dateTime,
        signataire: ce ? person(ce, r.performer?.[0]) : undefined,
        statut: r.status,
        validiteDebut: per?.start,
        validiteFin: per?.end,
      });
    });

    const attentes = ix.ofProfile(PROFILE.attente).filter(refsPp).map((e) => {
      const r = e.resource;
      const notes = (code: string) => (r.note ?? []).filter((n: R) => ext1(n, EXT.discriminator)?.valueCodeableConcept?.coding?.[0]?.code === code).map((n: R) => n.text);
      return clean({
        id: c.local(BID.attente.tag, idOf(r)),
        description: r.description?.text,
        origine: notes('origineAttente')[0],
        commentaires: notes('commentaireAttente'),
        statut: r.lifecycleStatus,
        documents: c.docsOf(e, extOf(r, EXT.attachment)),
      });
    });

    const besoinKey = new Map<Entry, string>();
    const besoins = ix.ofProfile(PROFILE.besoin, (r) => r.resourceType === 'ServiceRequest').filter(basedOnPp).map((e) => {
      const r = e.resource;
      const id = c.local(BID.besoin.tag, idOf(r));
      besoinKey.set(e, id);
      return clean({
        id,
        description: r.code?.text,
        type: codeOf(r.category?.[0]),
        analyse: r.orderDetail?.[0]?.text,
        commentaire: r.note?.[0]?.text,
        statut: r.status,
        documents: c.docsOf(e, extOf(r, EXT.attachment)),
      });
    });

    const objectifKey = new Map<Entry, string>();
    const objectifs = ix.ofProfile(PROFILE.objectif).filter(refsPp).map((e) => {
      const r = e.resource;
      const id = c.local(BID.objectif.tag, idOf(r));
      objectifKey.set(e, id);
      const note = (code: string) => (r.note ?? []).find((n: R) => ext1(n, EXT.discriminator)?.valueCodeableConcept?.coding?.[0]?.code === code)?.text;
      return clean({
        id,
        titre: note('titreObjectif'),
        description: r.description?.text,
        domaine: r.category?.[0]?.text,
        dateDebut: r.startDate,
        dateFin: r.target?.[0]?.dueDate,
        resultatAttendu: r.target?.[0]?.detailString,
        referent: c.proOf(e, r.expressedBy),
        besoins: (r.addresses ?? []).map((a: R) => besoinKey.get(ix.resolve(e, a.reference)!)).filter(Boolean),
        evaluations: extOf(r, EXT.evaluationReference).map((x) => c.evalKey.get(ix.resolve(e, x.valueReference?.reference)!)).filter(Boolean),
        avisUsager: note('avisUsagerObjectif'),
        strategie: note('strategieMiseEnOeuvreObjectif'),
        statut: r.lifecycleStatus,
        auteurStatut: statusAuthor(e, r._lifecycleStatus),
        documents: c.docsOf(e, extOf(r, EXT.attachment)),
      });
    });

    const tasks = (profile: string) => ix.ofProfile(profile).filter(basedOnPp);
    const evalRefs = (e: Entry) => inputs(e.resource, 'evaluation').map((i) => c.evalKey.get(ix.resolve(e, i.valueReference?.reference)!)).filter(Boolean);
    const actionKey = new Map<Entry, string>();
    const actions = tasks(PROFILE.action).map((e) => {
      const r = e.resource;
      const id = c.local(BID.action.tag, idOf(r));
      actionKey.set(e, id);
      return clean({
        id,
        titre: str1(r, 'titre'),
        description: r.description,
        debut: r.executionPeriod?.start,
        fin: r.executionPeriod?.end,
        referent: r.owner?.reference ? c.proOf(e, r.owner) : undefined,
        referentLibelle: !r.owner?.reference ? r.owner?.display : undefined,
        objectifs: inputs(r, 'objectif').map((i) => objectifKey.get(ix.resolve(e, i.valueReference?.reference)!)).filter(Boolean),
        evaluations: evalRefs(e),
        avisUsager: str1(r, 'avisUsager'),
        resultatAttendu: str1(r, 'resultatAttendu'),
        statut: r.status,
        auteurStatut: statusAuthor(e, r._status),
        documents: docInputs(e, r),
      });
    });
    const partOf = (e: Entry) => {
      const t = ix.resolve(e, e.resource.partOf?.[0]?.reference);
      return t ? actionKey.get(t) : undefined;
    };
    const moyens = tasks(PROFILE.moyen).map((e) => {
      const r = e.resource;
      return clean({
        id: c.local(BID.moyen.tag, idOf(r)),
        titre: str1(r, 'titre'),
        type: r.code?.text,
        description: r.description,
        debut: r.executionPeriod?.start,
        fin: r.executionPeriod?.end,
        action: partOf(e),
        evaluation: evalRefs(e)[0],
        statut: r.status,
        documents: docInputs(e, r),
      });
    });
    const prestations = tasks(PROFILE.prestation).map((e) => {
      const r = e.resource;
      return clean({
        id: c.local(BID.prestation.tag, idOf(r)),
        titre: str1(r, 'titre'),
        description: r.description,
        debut: r.executionPeriod?.start,
        fin: r.executionPeriod?.end,
        action: partOf(e),
        typesPrestation: inputs(r, 'typePrestation').map((i) => codeOf(i.valueCodeableConcept)),
        evaluation: evalRefs(e)[0],
        statut: r.status,
        auteurStatut: statusAuthor(e, r._status),
        documents: docInputs(e, r),
      });
    });
    const bilans = tasks(PROFILE.bilan).map((e) => {
      const r = e.resource;
      return clean({
        id: c.local(BID.bilan.tag, idOf(r)),
        date: r.executionPeriod?.start,
        fin: r.executionPeriod?.end,
        categorie: codeOf(r.code),
        perimetre: str1(r, 'perimetre'),
        problematique: str1(r, 'problematique'),
        invite: str1(r, 'invite'),
        dateProchainBilan: inputs(r, 'dateProchainBilan')[0]?.valueDateTime,
        syntheses: inputs(r, 'synthesePreparationBilan').map((i) => clean({ auteur: person(e, i.valueAnnotation?.authorReference), texte: i.valueAnnotation?.text })),
        syntheseBilan: (r.output ?? []).find((o: R) => o.type?.coding?.[0]?.code === 'syntheseBilan')?.valueString,
        statut: r.status,
        documents: docInputs(e, r),
      });
    });

    out.push(clean({
      id: c.local(BID.projet.tag, idOf(pp)),
      titre: pp.title,
      categorie: codeOf(pp.category?.[0]),
      statut: pp.status,
      auteurStatut: statusAuthor(ppe, pp._status),
      description: pp.description,
      debut: pp.period?.start,
      fin: pp.period?.end,
      modaliteCommunication: pp.note?.[0]?.text,
      documents: c.docsOf(ppe, extOf(pp, EXT.attachment)),
      accords,
      attentes,
      besoins,
      objectifs,
      actions,
      moyens,
      prestations,
      bilans,
    }));
    // Required lists stay present even when empty (the pivot always has them).
    const last = out[out.length - 1];
    for (const k of ['attentes', 'besoins', 'objectifs', 'actions', 'moyens', 'prestations', 'bilans']) last[k] ??= [];
  }
  return out;
}
