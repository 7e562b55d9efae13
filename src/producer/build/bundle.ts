// Pivot → TDDUI transaction Bundle. Every entry is a POST with request.url = the resource type and
// a urn:uuid fullUrl; references between entries use those fullUrls. meta.profile names the TDDUI
// profile of each resource so receivers (and our validator) check it directly.
import {
  BID, CNSA_POLICY, EXT, GIR_CODES, ICF_DISPLAY, MODALITY_TO_ICF, PROFILE, QUESTIONNAIRE, SERAFIN_ITEMS, SITUATION_ITEMS, SYS,
  AGGIR_PA_ITEMS, AGGIR_PH_ITEMS,
} from '../pivot/constants.js';
import type { Adresse, Evaluation, ObservationPivot, Pivot, ProjetPersonnalise, Structure } from '../pivot/schema.js';
import { businessValue, localUsagerValue, uuidFor } from './ids.js';

type R = Record<string, any>;
export interface FhirBundle {
  resourceType: 'Bundle';
  meta: { profile: string[] };
  type: 'transaction';
  entry: { fullUrl: string; resource: R; request: { method: 'POST'; url: string } }[];
}

const ref = (fullUrl: string) => ({ reference: fullUrl });
const ext = (url: string, value: R) => ({ url, ...value });
const cc = (system: string, c: { code: string; display?: string }) => ({ coding: [coding(system, c)] });
function coding(system: string, c: { code: string; display?: string }): R {
  return c.display === undefined ? { system, code: c.code } : { system, code: c.code, display: c.display };
}
/** Drops undefined members and empty arrays so the output holds only what the pivot says. */
function clean<T extends R>(o: T): T {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) delete o[k];
  }
  return o;
}
const period = (start?: string, end?: string) => (start || end ? clean({ start, end }) : undefined);

export function address(a: Adresse | undefined): R | undefined {
  if (!a) return undefined;
  return clean({ text: a.texte, line: a.lignes, city: a.commune, postalCode: a.codePostal, country: a.pays });
}

class Builder {
  readonly entries: FhirBundle['entry'] = [];
  readonly pi: string;
  readonly patientUrl: string;
  readonly orgUrl: string;
  private readonly orgs = new Map<string, string>();
  readonly pros = new Map<string, string>();
  readonly contacts = new Map<string, string>();
  readonly docs = new Map<string, string>();
  readonly events = new Map<string, string>();
  readonly sejours = new Map<string, string>();
  readonly evals = new Map<string, string>();

  /** TDDUI 2.3.0 structures (status author as a status extension, new elements). */
  readonly v23: boolean;

  constructor(readonly p: Pivot) {
    this.v23 = p.igVersion === '2.3.0';
    this.pi = localUsagerValue(p.structure.finess, p.usager.idLocal);
    this.patientUrl = this.url('Patient', '');
    this.orgUrl = this.organization(p.structure);
  }

  url(type: string, key: string): string {
    return uuidFor(`${this.pi}|${type}|${key}`);
  }

  add(fullUrl: string, profile: string, resource: R): void {
    resource.meta = { profile: [profile] };
    // resourceType first, meta second: the usual FHIR JSON member order, easier to read.
    const { resourceType, meta, ...rest } = resource;
    this.entries.push({ fullUrl, resource: { resourceType, meta, ...rest }, request: { method: 'POST', url: resourceType } });
  }

  organization(s: Structure): string {
    const known = this.orgs.get(s.finess);
    if (known) return known;
    const fullUrl = this.url('Organization', s.finess);
    this.orgs.set(s.finess, fullUrl);
    this.add(fullUrl, PROFILE.organization, {
      resourceType: 'Organization',
      identifier: [{ type: cc(SYS.frCore0203, { code: 'IDNST' }), system: SYS.idNatSt, value: `1${s.finess}` }],
      name: s.raisonSociale,
    });
    return fullUrl;
  }

  pro(idNatPs: string | undefined): R | undefined {
    return idNatPs === undefined ? undefined : ref(this.pros.get(idNatPs)!);
  }

  attachments(ids: string[] | undefined, url: string = EXT.attachment): R[] {
    return (ids ?? []).map((d) => ext(url, { valueReference: ref(this.docs.get(d)!) }));
  }

  statusAuthor(idNatPs: string | undefined): R | undefined {
    return idNatPs === undefined ? undefined : { extension: [ext(EXT.statusAuthor, { valueReference: this.pro(idNatPs) })] };
  }
}

export function pivotToBundle(p: Pivot): FhirBundle {
  const b = new Builder(p);
  patient(b);
  for (const pr of p.professionnels) practitioner(b, pr);
  for (const c of p.contacts) contact(b, c);
  for (const d of p.documents) documentReference(b, d);
  for (const s of p.sejours) sejour(b, s);
  for (const e of p.evenements) evenement(b, e);
  for (const t of p.transports) transport(b, t);
  for (const e of p.evaluations) evaluation(b, e);
  for (const pp of p.projetsPersonnalises) projet(b, pp);
  for (const o of p.observations ?? []) observation(b, o);
  // A pivot that names its TDDUI version pins it: receivers validate with that version.
  const bundleProfile = p.igVersion ? `${PROFILE.bundle}|${p.igVersion}` : PROFILE.bundle;
  return { resourceType: 'Bundle', meta: { profile: [bundleProfile] }, type: 'transaction', entry: b.entries };
}

/**
 * INS identity statuses (Référentiel national d'identitovigilance) -> FR Core 2.1.0's
 * fr-core-cs-v2-0445, which has PROV and VALI but not RECUP nor QUAL (decisions.md D-27): a
 * qualified identity is a validated one whose INS was retrieved (the INS identifier is sent), a
 * retrieved one a provisional one with its INS.
 */
const FR_CORE_IDENTITY_STATUS = { PROV: 'PROV', RECUP: 'PROV', VALI: 'VALI', QUAL: 'VALI' } as const;

function patient(b: Builder): void {
  const u = b.p.usager;
  const identifier: R[] = [];
  if (u.ins) {
    const system = { NIR: SYS.insNir, NIA: SYS.insNia, 'NIR-TEST': SYS.insNirTest, 'NIR-DEMO': SYS.insNirDemo }[u.ins.type];
    identifier.push({ use: 'official', type: cc(SYS.frCore0203, { code: `INS-${u.ins.type}` }), system, value: u.ins.matricule });
  }
  identifier.push({
    type: cc(SYS.v20203, { code: 'PI', display: 'Patient internal identifier' }),
    system: BID.localUsager,
    value: b.pi,
  });
  if (u.nss) identifier.push({ type: cc(SYS.v20203, { code: 'NH' }), system: SYS.insNir, value: u.nss });
  if (u.numeroInitialMdph) {
    identifier.push({
      use: 'usual',
      type: cc(SYS.tdduiIdentifier, { code: 'PIN', display: 'Patient initial number' }),
      system: MDPH_SYSTEM,
      value: u.numeroInitialMdph,
    });
  }
  const extension: R[] = [];
  if (u.ins?.statutIdentite) {
    extension.push({
      url: EXT.identityReliability,
      extension: [{ url: 'identityStatus', valueCoding: { system: SYS.frCore0445, code: FR_CORE_IDENTITY_STATUS[u.ins.statutIdentite] } }],
    });
  }
  if (u.lieuNaissance) {
    const l = u.lieuNaissance;
    extension.push(
      ext(EXT.birthPlace, {
        valueAddress: clean({
          extension: l.codeInsee ? [{ url: EXT.inseeCode, valueCoding: { system: SYS.communeOM, code: l.codeInsee } }] : undefined,
          city: l.commune,
          country: l.pays,
        }),
      }),
    );
  }
  if (b.v23) {
    if (u.nationalite) extension.push({ url: EXT.nationality, extension: [{ url: 'code', valueCodeableConcept: cc(SYS.iso3166, u.nationalite) }] });
    if (u.lieuDeces !== undefined) extension.push(ext(EXT.deathPlace, { valueString: u.lieuDeces }));
    if (u.situationFoyer) {
      const f = u.situationFoyer;
      extension.push({
        url: EXT.householdSituation,
        extension: [
          ...(f.situationFamiliale ? [{ url: 'familySituation', valueCodeableConcept: { coding: [coding(f.situationFamiliale.system, f.situationFamiliale)] } }] : []),
          ...(f.compositionFoyer ?? []).map((c) => ({ url: 'householdComposition', valueCodeableConcept: { coding: [coding(c.system, c)] } })),
          ...(f.description !== undefined ? [{ url: 'householdCompositionDescription', valueString: f.description }] : []),
        ],
      });
    }
    if (u.commentaire !== undefined) extension.push(ext(EXT.comment, { valueString: u.commentaire }));
    for (const d of u.permisConduire ?? []) {
      identifier.push(clean({ type: cc(SYS.v20203, { code: 'DL' }), system: d.systeme, value: d.numero, period: period(d.debut, d.fin) }));
    }
  }
  const official = clean({
    extension: u.prenoms ? [ext(EXT.birthListGivenName, { valueString: u.prenoms })] : undefined,
    use: 'official',
    family: u.nomNaissance,
    given: [u.prenom],
    prefix: u.civilite ? [u.civilite] : undefined,
  });
  const name: R[] = [official];
  if (u.nomUtilise !== undefined || u.prenomUtilise !== undefined) {
    name.push(clean({ use: 'usual', family: u.nomUtilise, given: u.prenomUtilise !== undefined ? [u.prenomUtilise] : undefined }));
  }
  const r: R = clean({
    resourceType: 'Patient',
    extension,
    identifier,
    name,
    gender: u.sexe,
    birthDate: u.dateNaissance,
    deceasedDateTime: b.v23 ? u.dateDeces : undefined,
    _birthDate: u.rangNaissance !== undefined ? { extension: [ext(EXT.birthOrder, { valuePositiveInt: u.rangNaissance })] } : undefined,
    address: u.adresse ? [{ use: 'home', ...address(u.adresse) }] : undefined,
  });
  b.add(b.patientUrl, u.ins ? PROFILE.patientIns : PROFILE.patient, r);
}

/** System of the MDPH initial number: the IG requires one but names none; this is the project's. */
export const MDPH_SYSTEM = 'urn:tddui:mdph:numero-initial';

function practitioner(b: Builder, pr: Pivot['professionnels'][number]): void {
  const fullUrl = b.url('Practitioner', pr.idNatPs);
  b.pros.set(pr.idNatPs, fullUrl);
  b.add(fullUrl, PROFILE.practitioner, clean({
    resourceType: 'Practitioner',
    identifier: [{ system: SYS.idNatPs, value: pr.idNatPs }],
    name: [clean({ family: pr.nom, given: pr.prenom !== undefined ? [pr.prenom] : undefined, prefix: pr.civilite ? [pr.civilite] : undefined })],
    qualification: pr.qualifications?.map((q) => ({ code: { coding: [coding(q.system, q)] } })),
  }));
  if (pr.role) {
    const role = pr.role;
    const code =
      role.fonction || role.profession
        ? [clean({
            extension: role.profession ? [ext(EXT.profession, { valueCodeableConcept: { coding: [coding(role.profession.system, role.profession)] } })] : undefined,
            coding: role.fonction ? [coding(role.fonction.system, role.fonction)] : undefined,
          })]
        : undefined;
    b.add(b.url('PractitionerRole', pr.idNatPs), PROFILE.practitionerRole, clean({
      resourceType: 'PractitionerRole',
      extension: role.modeExercice ? [ext(EXT.exerciseMode, { valueCodeableConcept: cc(SYS.modeExercice, { code: role.modeExercice }) })] : undefined,
      practitioner: ref(fullUrl),
      organization: ref(b.orgUrl),
      code,
    }));
  }
}

const PROTECTION_DISPLAY = { TUTEUR: 'Tuteur', CURATEUR: 'Curateur', MSVG: 'Mandataire de sauvegarde' } as const;

function contact(b: Builder, c: Pivot['contacts'][number]): void {
  const fullUrl = b.url('RelatedPerson', c.id);
  b.contacts.set(c.id, fullUrl);
  const telecom = [
    ...(c.telephone !== undefined ? [{ system: 'phone', value: c.telephone }] : []),
    ...(c.email !== undefined ? [{ system: 'email', value: c.email }] : []),
  ];
  b.add(fullUrl, PROFILE.contact, clean({
    resourceType: 'RelatedPerson',
    extension: [
      // No tddui-comment: the profile slices it, but the extension's context excludes RelatedPerson (IG defect).
      ...(c.description !== undefined ? [ext(EXT.contactDescription, { valueString: c.description })] : []),
    ],
    identifier: [{ value: businessValue(b.pi, BID.contact.tag, c.id) }],
    patient: ref(b.patientUrl),
    relationship: [
      ...(c.role ? [cc(SYS.roleClass, c.role)] : []),
      ...(c.relation ? [cc(SYS.roleCode, c.relation)] : []),
      ...(c.protectionJuridique ? [cc(SYS.protectionJuridique, { code: c.protectionJuridique, display: PROTECTION_DISPLAY[c.protectionJuridique] })] : []),
    ],
    name: [clean({ family: c.nom, given: c.prenom !== undefined ? [c.prenom] : undefined, prefix: c.civilite ? [c.civilite] : undefined })],
    telecom,
    gender: c.sexe,
    birthDate: c.dateNaissance,
    address: c.adresse ? [address(c.adresse)] : undefined,
  }));
}

function documentReference(b: Builder, d: Pivot['documents'][number]): void {
  const fullUrl = b.url('DocumentReference', d.id);
  b.docs.set(d.id, fullUrl);
  b.add(fullUrl, PROFILE.documentReference, clean({
    resourceType: 'DocumentReference',
    masterIdentifier: { value: businessValue(b.pi, BID.document.tag, d.id) },
    status: 'current',
    subject: ref(b.patientUrl),
    author: [d.auteur !== undefined ? b.pro(d.auteur) : ref(b.orgUrl)],
    description: d.description,
    content: [{ attachment: clean({ contentType: d.typeMime, data: d.donnees, title: d.titre, creation: d.date }) }],
  }));
}

function sejour(b: Builder, s: Pivot['sejours'][number]): void {
  const fullUrl = b.url('Encounter/sejour', s.id);
  b.sejours.set(s.id, fullUrl);
  const dt = (url: string, v?: string) => (v === undefined ? undefined : ext(url, { valueDateTime: v }));
  const str = (url: string, v?: string) => (v === undefined ? undefined : ext(url, { valueString: v }));
  b.add(fullUrl, PROFILE.sejour, clean({
    resourceType: 'Encounter',
    extension: [
      dt(EXT.plannedStart, s.dateEntreePrevue),
      dt(EXT.plannedEnd, s.dateSortiePrevue),
      dt(EXT.admissionDate, s.dateAdmission),
      str(EXT.entryModeLabel, s.libelleModeEntree),
      str(EXT.exitModeLabel, s.libelleModeSortie),
      str(EXT.comment, s.commentaire),
    ].filter(Boolean),
    identifier: [{
      type: cc(SYS.encounterIdentifier, { code: 'SEJ', display: 'Identifiant du séjour' }),
      system: BID.sejour.system,
      value: businessValue(b.pi, BID.sejour.tag, s.id),
    }],
    status: s.statut,
    class: { system: SYS.actCode, code: s.classe },
    subject: ref(b.patientUrl),
    period: period(s.dateEntree, s.dateSortie),
    serviceProvider: ref(b.orgUrl),
  }));
}

function evenement(b: Builder, e: Pivot['evenements'][number]): void {
  const fullUrl = b.url('Encounter/evenement', e.id);
  b.events.set(e.id, fullUrl);
  const str = (url: string, v?: string) => (v === undefined ? undefined : ext(url, { valueString: v }));
  const bool = (url: string, v?: boolean) => (v === undefined ? undefined : ext(url, { valueBoolean: v }));
  const ressources = (e.ressources ?? []).map((r) => ({
    url: EXT.ressourcesUsed,
    extension: [
      ...(r.type ? [{ url: 'TDDUIRessourceType', valueCodeableConcept: cc(SYS.cisis, r.type) }] : []),
      ...(r.materiel ?? []).map((m) => ({ url: 'TDDUIMaterialDetail', valueCodeableConcept: cc(SYS.cisis, m) })),
      ...(r.immobilier ?? []).map((m) => ({ url: 'TDDUIFacilityResource', valueCodeableConcept: cc(SYS.cisis, m) })),
    ],
  }));
  const participant: R[] = (e.professionnels ?? []).map((id) => ({
    type: [cc(SYS.participationType, { code: 'PART' })],
    individual: b.pro(id),
  }));
  // 2.2.0: the status author is a participant of type AUT; 2.3.0 removed that slice (and its
  // code system) and puts it on Encounter.status (extension TDDUIStatusAuthor).
  if (e.auteurStatut !== undefined && !b.v23) {
    participant.push({
      type: [cc(SYS.encounterParticipant, { code: 'AUT', display: 'Auteur du statut de la ressource' })],
      individual: b.pro(e.auteurStatut),
    });
  }
  const statusExt = [
    ...(e.motifAnnulation ? [ext(EXT.cancelReason, { valueCodeableConcept: cc(SYS.cisis, e.motifAnnulation) })] : []),
    ...(b.v23 && e.auteurStatut !== undefined ? [ext(EXT.statusAuthor, { valueReference: b.pro(e.auteurStatut) })] : []),
  ];
  b.add(fullUrl, PROFILE.evenement, clean({
    resourceType: 'Encounter',
    extension: [
      ...ressources,
      str(EXT.eventLabel, e.libelle),
      str(EXT.eventReport, e.compteRendu),
      str(EXT.eventReason, e.motif),
      ...(e.commentaires ?? []).map((c) => ext(EXT.comment, { valueString: c })),
      bool(EXT.outsideService, e.horsService),
      bool(EXT.patientPresent, e.usagerPresent),
      bool(EXT.meal, e.repas),
      bool(EXT.patientValidation, e.valideParUsager),
      ...b.attachments(e.documents),
    ].filter(Boolean),
    identifier: [{
      type: cc(SYS.frCoreIdentifierType, { code: 'VN' }),
      system: BID.evenement.system,
      value: businessValue(b.pi, BID.evenement.tag, e.id),
    }],
    status: e.statut,
    _status: statusExt.length ? { extension: statusExt } : undefined,
    class: { system: SYS.actCode, code: e.classe },
    type: e.types.map((t) =>
      'ssiad' in t
        ? cc(SYS.cisis, t.ssiad)
        : 'serafin' in t
          ? cc(SYS.serafin, t.serafin)
          : { coding: [{ system: SYS.dataAbsent, code: 'not-permitted', display: 'Not Permitted' }], text: t.texte },
    ),
    subject: ref(b.patientUrl),
    participant,
    period: { start: e.debut, end: e.fin },
    serviceProvider: ref(b.orgUrl),
    partOf: e.sejour !== undefined ? ref(b.sejours.get(e.sejour)!) : undefined,
  }));
}

/** TDDUI 2.3.0 Observations: cause of death, mobility, school period. */
function observation(b: Builder, o: ObservationPivot): void {
  const base = { resourceType: 'Observation', status: 'final', subject: ref(b.patientUrl) };
  if (o.type === 'cause-deces') {
    const code = cc(SYS.loinc, { code: '79378-6', display: 'Cause of death' });
    const key = `cause|${o.cause.code}|${o.date ?? ''}`;
    b.add(b.url('Observation', key), PROFILE.causeDeces, clean({
      ...base,
      code,
      effectiveDateTime: o.date,
      component: [{ code, valueCodeableConcept: cc(SYS.cim10, o.cause) }],
    }));
  } else if (o.type === 'mobilite') {
    const key = `mobilite|${o.mode.code}|${o.date ?? ''}`;
    b.add(b.url('Observation', key), PROFILE.mobilite, clean({
      ...base,
      code: cc(SYS.loinc, { code: 'LP73551-1', display: 'Transport mode' }),
      effectiveDateTime: o.date,
      valueCodeableConcept: cc(SYS.cisis, o.mode),
      component:
        o.amenagement !== undefined
          ? [{ code: cc(SYS.observationType, { code: 'OBSAMENAGEMENT', display: 'Observation sur l’aménagement du moyen de transport' }), valueString: o.amenagement }]
          : undefined,
    }));
  } else {
    const component = (code: string, display: string, value: R) => ({ code: cc(SYS.periodeScolaire, { code, display }), ...value });
    b.add(b.url('Observation', `psco|${o.id}`), PROFILE.periodeScolaire, clean({
      ...base,
      identifier: [{ system: BID.periodeScolaire.system, value: businessValue(b.pi, BID.periodeScolaire.tag, o.id) }],
      code: cc(SYS.observationType, { code: 'PERIODESCOL', display: 'Période scolaire' }),
      effectivePeriod: period(o.debut, o.fin),
      performer: [ref(b.contacts.get(o.referent)!), ...(o.ecole ? [ref(b.organization(o.ecole))] : [])],
      note: o.note !== undefined ? [{ text: o.note }] : undefined,
      component: [
        ...(o.typesEnseignement ?? []).map((c) => component('typeEnseignementSpecialise', 'Type enseignement spécialisé', { valueCodeableConcept: cc(SYS.typeEnseignement, c) })),
        ...(o.diplomes ?? []).map((c) => component('diplome', 'Diplôme', { valueCodeableConcept: cc(SYS.typeDiplome, c) })),
        ...(o.volumeHeures !== undefined
          ? [component('volumeScolarisation', 'Volume de scolarisation', { valueQuantity: { value: o.volumeHeures, unit: 'h/sem', system: SYS.ucum, code: 'h/wk' } })]
          : []),
      ],
    }));
  }
}

function input(system: string, code: string, value: R): R {
  return { type: { coding: [{ system, code }] }, ...value };
}

function transport(b: Builder, t: Pivot['transports'][number]): void {
  const pro = t.type === 'professionnel';
  const id = pro ? BID.transportPro : BID.transportUsager;
  const i = (code: string, value: R | undefined) => (value === undefined ? undefined : input(SYS.inputTransport, code, value));
  const money = (v?: number) => (v === undefined ? undefined : { valueMoney: { value: v, currency: 'EUR' } });
  const adr = (a?: Adresse) => (a === undefined ? undefined : { valueAddress: address(a) });
  const bool = (v?: boolean) => (v === undefined ? undefined : { valueBoolean: v });
  b.add(b.url(pro ? 'Task/tppro' : 'Task/tppat', t.id), pro ? PROFILE.transportPro : PROFILE.transportUsager, clean({
    resourceType: 'Task',
    identifier: [{ system: id.system, value: businessValue(b.pi, id.tag, t.id) }],
    status: t.statut,
    intent: 'plan',
    code: t.modeTransport ? cc(SYS.cisis, t.modeTransport) : undefined,
    for: pro ? b.pro(t.professionnel) : undefined,
    encounter: ref(b.events.get(t.evenement)!),
    executionPeriod: { start: t.debut, end: t.fin },
    owner: t.transporteur ? ref(b.organization(t.transporteur)) : undefined,
    input: [
      i('typeMotorisation', t.typeMotorisation ? { valueCodeableConcept: cc(SYS.cisis, t.typeMotorisation) } : undefined),
      i('adresseDepart', adr(t.adresseDepart)),
      i('adresseDestination', adr(t.adresseDestination)),
      i('budgetPrevisionnel', money(t.budgetPrevisionnel)),
      i('budgetReel', money(t.budgetReel)),
      i('distance', t.distanceKm === undefined ? undefined : { valueDistance: { value: t.distanceKm, unit: 'km', system: SYS.ucum, code: 'km' } }),
      i('dureeTheorique', t.dureeMinutes === undefined ? undefined : { valueDuration: { value: t.dureeMinutes, unit: 'min', system: SYS.ucum, code: 'min' } }),
      i('accompagnement', bool(t.accompagnement)),
      i('asepsie', bool(t.asepsieRigoureuse)),
      i('natureTransport', t.natureTransport ? { valueCodeableConcept: cc(SYS.serafin, t.natureTransport) } : undefined),
    ].filter(Boolean),
  }));
}

const ADVERBS = [
  ['spontanement', 'spont'],
  ['totalement', 'tot'],
  ['correctement', 'correct'],
  ['habituellement', 'habit'],
] as const;

function commentExt(c?: string): R[] | undefined {
  return c === undefined ? undefined : [ext(EXT.comment, { valueString: c })];
}

/**
 * `list` in the order of the Questionnaire's items (`order`: its linkIds in order): a
 * QuestionnaireResponse lists its items in the Questionnaire's order. Unknown items keep
 * their place at the end (the validator names them).
 */
function inQuestionnaireOrder<T extends { item: string }>(list: readonly T[], order: readonly string[]): T[] {
  const rank = new Map(order.map((linkId, i) => [linkId, i]));
  return list
    .map((x, i) => ({ x, i, r: rank.get(x.item) ?? order.length }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map(({ x }) => x);
}

function evaluationItems(e: Evaluation): R[] {
  if (e.type === 'serafin') {
    return inQuestionnaireOrder(e.besoins ?? [], Object.keys(SERAFIN_ITEMS)).map((x) =>
      clean({ extension: commentExt(x.commentaire), linkId: x.item, answer: [{ valueInteger: x.valeur }] }),
    );
  }
  if (e.type === 'situation-ssiad') {
    return inQuestionnaireOrder(e.indicateurs ?? [], SITUATION_ITEMS).map((x) =>
      clean({ extension: commentExt(x.commentaire), linkId: x.item, answer: [{ valueBoolean: x.valeur }] }),
    );
  }
  const items = e.type === 'aggir-pa' ? AGGIR_PA_ITEMS : AGGIR_PH_ITEMS;
  const defs = new Map(items.map((d) => [d.linkId, d]));
  const variables = inQuestionnaireOrder(e.variables ?? [], items.map((d) => d.linkId)).map((v) => {
    const def = defs.get(v.item)!;
    const adverbs = ADVERBS.filter(([k]) => v.adverbes?.[k] !== undefined).map(([k, suffix]) => ({
      linkId: `${def.adverbPrefix}-${suffix}`,
      answer: [{ valueBoolean: v.adverbes![k] }],
    }));
    // Without a modality there is no answer to hang the adverbs under (the pivot refuses adverbs without one).
    if (v.modalite === undefined) return clean({ extension: commentExt(v.commentaire), linkId: v.item });
    const icf = MODALITY_TO_ICF[v.modalite];
    return clean({
      extension: commentExt(v.commentaire),
      linkId: v.item,
      answer: [clean({ valueCoding: { system: SYS.icf, code: icf, display: ICF_DISPLAY[icf] }, item: adverbs })],
    });
  });
  const gir = e.gir!;
  return [{
    linkId: 'resultat-eval',
    answer: [clean({ valueCoding: { system: SYS.cisis, code: GIR_CODES[gir - 1], display: `GIR-${gir}` }, item: variables })],
  }];
}

function evaluation(b: Builder, e: Evaluation): void {
  const fullUrl = b.url('QuestionnaireResponse', e.id);
  b.evals.set(e.id, fullUrl);
  // 2.2.0: the status author is a part of tddui-qr-participant; 2.3.0 replaced that part by
  // TDDUIHolder and puts the status author on QuestionnaireResponse.status.
  const statusAuthorInParticipant = e.auteurStatut !== undefined && !b.v23;
  const participant =
    e.responsable !== undefined || statusAuthorInParticipant
      ? {
          url: EXT.qrParticipant,
          extension: [
            ...(e.responsable !== undefined ? [{ url: 'TDDUIResponsible', valueReference: b.pro(e.responsable) }] : []),
            ...(statusAuthorInParticipant ? [{ url: 'TDDUIStatusAuthor', valueReference: b.pro(e.auteurStatut) }] : []),
          ],
        }
      : undefined;
  b.add(fullUrl, PROFILE.questionnaireResponse, clean({
    resourceType: 'QuestionnaireResponse',
    extension: [participant, ...b.attachments(e.documents), ...(commentExt(e.commentaire) ?? [])].filter(Boolean),
    identifier: { system: BID.evaluation.system, value: businessValue(b.pi, BID.evaluation.tag, e.id) },
    questionnaire: QUESTIONNAIRE[e.type],
    status: e.statut,
    _status: b.v23 ? b.statusAuthor(e.auteurStatut) : undefined,
    subject: ref(b.patientUrl),
    encounter: e.evenement !== undefined ? ref(b.events.get(e.evenement)!) : undefined,
    authored: e.date,
    author: b.pro(e.auteur),
    source: b.pro(e.evaluateur),
    item: evaluationItems(e),
  }));
}

function discriminator(code: string): R {
  return ext(EXT.discriminator, { valueCodeableConcept: { coding: [{ system: SYS.discriminator, code }] } });
}

function projet(b: Builder, pp: ProjetPersonnalise): void {
  const key = (kind: string, id: string) => b.url(`${kind}`, `${pp.id}|${id}`);
  const ppUrl = b.url('CarePlan', pp.id);
  const person = (s: { professionnel: string } | { usager: true } | { contact: string }) =>
    'usager' in s ? ref(b.patientUrl) : 'contact' in s ? ref(b.contacts.get(s.contact)!) : b.pro(s.professionnel);
  const supportingInfo: R[] = [];
  pp.accords.forEach((a, i) => {
    const url = key('Consent', String(i));
    supportingInfo.push({ extension: [discriminator(a.type === 'structure' ? 'accordStructure' : 'accordUsager')], reference: url });
    b.add(url, PROFILE.consent, clean({
      resourceType: 'Consent',
      extension: a.validiteDebut || a.validiteFin ? [ext(EXT.consentPeriod, { valuePeriod: period(a.validiteDebut, a.validiteFin) })] : undefined,
      status: a.statut,
      scope: { coding: [{ system: SYS.consentScope, code: 'patient-privacy', display: 'Privacy Consent' }] },
      category: [{ coding: [{ system: SYS.loinc, code: '59284-0' }] }],
      patient: ref(b.patientUrl),
      dateTime: a.date,
      performer: [person(a.signataire)],
      policy: [{ authority: CNSA_POLICY }],
    }));
  });
  b.add(ppUrl, PROFILE.carePlan, clean({
    resourceType: 'CarePlan',
    extension: b.attachments(pp.documents),
    identifier: [{ system: BID.projet.system, value: businessValue(b.pi, BID.projet.tag, pp.id) }],
    status: pp.statut,
    _status: b.statusAuthor(pp.auteurStatut),
    intent: 'plan',
    category: pp.categorie ? [cc(SYS.typeProjet, pp.categorie)] : undefined,
    title: pp.titre,
    description: pp.description,
    subject: ref(b.patientUrl),
    period: period(pp.debut, pp.fin),
    supportingInfo,
    note: pp.modaliteCommunication !== undefined ? [{ text: pp.modaliteCommunication }] : undefined,
  }));
  const ppRef = ext(EXT.careplanReference, { valueReference: ref(ppUrl) });
  const note = (code: string, text: string) => ({ extension: [discriminator(code)], text });

  for (const a of pp.attentes) {
    b.add(key('Goal/attente', a.id), PROFILE.attente, clean({
      resourceType: 'Goal',
      extension: [ppRef, ...b.attachments(a.documents)],
      identifier: [{ system: BID.attente.system, value: businessValue(b.pi, BID.attente.tag, a.id) }],
      lifecycleStatus: a.statut,
      description: { text: a.description },
      subject: ref(b.patientUrl),
      note: [note('origineAttente', a.origine), ...(a.commentaires ?? []).map((c) => note('commentaireAttente', c))],
    }));
  }
  const besoins = new Map<string, string>();
  for (const x of pp.besoins) {
    const url = key('ServiceRequest', x.id);
    besoins.set(x.id, url);
    b.add(url, PROFILE.besoin, clean({
      resourceType: 'ServiceRequest',
      extension: b.attachments(x.documents),
      identifier: [{ system: BID.besoin.system, value: businessValue(b.pi, BID.besoin.tag, x.id) }],
      basedOn: [ref(ppUrl)],
      status: x.statut,
      intent: 'plan',
      category: x.type ? [cc(SYS.serafin, x.type)] : undefined,
      code: { text: x.description },
      orderDetail: x.analyse !== undefined ? [{ text: x.analyse }] : undefined,
      subject: ref(b.patientUrl),
      note: x.commentaire !== undefined ? [{ text: x.commentaire }] : undefined,
    }));
  }
  const objectifs = new Map<string, string>();
  for (const o of pp.objectifs) {
    const url = key('Goal/objectif', o.id);
    objectifs.set(o.id, url);
    // gol-1: a target detail needs a measure; the SFE has none, so it is named in text only.
    const target =
      o.resultatAttendu !== undefined || o.dateFin !== undefined
        ? [clean({ measure: o.resultatAttendu !== undefined ? { text: 'Résultat attendu' } : undefined, detailString: o.resultatAttendu, dueDate: o.dateFin })]
        : undefined;
    b.add(url, PROFILE.objectif, clean({
      resourceType: 'Goal',
      extension: [
        ppRef,
        ...(o.evaluations ?? []).map((e) => ext(EXT.evaluationReference, { valueReference: ref(b.evals.get(e)!) })),
        ...b.attachments(o.documents),
      ],
      identifier: [{ system: BID.objectif.system, value: businessValue(b.pi, BID.objectif.tag, o.id) }],
      lifecycleStatus: o.statut,
      _lifecycleStatus: b.statusAuthor(o.auteurStatut),
      category: o.domaine !== undefined ? [{ text: o.domaine }] : undefined,
      description: { text: o.description },
      subject: ref(b.patientUrl),
      startDate: o.dateDebut,
      target,
      expressedBy: b.pro(o.referent),
      addresses: o.besoins?.map((x) => ref(besoins.get(x)!)),
      note: [
        note('titreObjectif', o.titre),
        ...(o.avisUsager !== undefined ? [note('avisUsagerObjectif', o.avisUsager)] : []),
        ...(o.strategie !== undefined ? [note('strategieMiseEnOeuvreObjectif', o.strategie)] : []),
      ],
    }));
  }
  const actions = new Map<string, string>();
  const docInputs = (system: string, ids?: string[]) => (ids ?? []).map((d) => input(system, 'pieceJointe', { valueReference: ref(b.docs.get(d)!) }));
  const evalInput = (system: string, id?: string) => (id !== undefined ? [input(system, 'evaluation', { valueReference: ref(b.evals.get(id)!) })] : []);
  // Action, moyen and prestation: Tasks of the projet with the same frame (business identifier,
  // basedOn the CarePlan, intent plan, for the usager); members in this order, absent ones dropped.
  const planTask = (
    bid: { system: string; tag: string },
    t: { id: string; statut: string; auteurStatut?: string; action?: string; debut?: string; fin?: string; description?: string },
    more: { code?: R; owner?: R; input: R[] },
  ) => clean({
    resourceType: 'Task',
    identifier: [{ system: bid.system, value: businessValue(b.pi, bid.tag, t.id) }],
    basedOn: [ref(ppUrl)],
    partOf: t.action !== undefined ? [ref(actions.get(t.action)!)] : undefined,
    status: t.statut,
    _status: b.statusAuthor(t.auteurStatut),
    intent: 'plan',
    code: more.code,
    description: t.description,
    for: ref(b.patientUrl),
    executionPeriod: period(t.debut, t.fin),
    owner: more.owner,
    input: more.input,
  });
  for (const a of pp.actions) {
    const url = key('Task/action', a.id);
    actions.set(a.id, url);
    const s = SYS.inputAction;
    b.add(url, PROFILE.action, planTask(BID.action, a, {
      owner: a.referent !== undefined ? b.pro(a.referent) : a.referentLibelle !== undefined ? { display: a.referentLibelle } : undefined,
      input: [
        input(s, 'titre', { valueString: a.titre }),
        ...(a.evaluations ?? []).map((e) => input(s, 'evaluation', { valueReference: ref(b.evals.get(e)!) })),
        ...(a.avisUsager !== undefined ? [input(s, 'avisUsager', { valueString: a.avisUsager })] : []),
        ...(a.resultatAttendu !== undefined ? [input(s, 'resultatAttendu', { valueString: a.resultatAttendu })] : []),
        ...docInputs(s, a.documents),
        ...(a.objectifs ?? []).map((o) => input(s, 'objectif', { valueReference: ref(objectifs.get(o)!) })),
      ],
    }));
  }
  for (const m of pp.moyens) {
    const s = SYS.inputMoyen;
    b.add(key('Task/moyen', m.id), PROFILE.moyen, planTask(BID.moyen, m, {
      code: m.type !== undefined ? { text: m.type } : undefined,
      input: [input(s, 'titre', { valueString: m.titre }), ...evalInput(s, m.evaluation), ...docInputs(s, m.documents)],
    }));
  }
  for (const x of pp.prestations) {
    const s = SYS.inputPrestation;
    b.add(key('Task/prestation', x.id), PROFILE.prestation, planTask(BID.prestation, x, {
      input: [
        input(s, 'titre', { valueString: x.titre }),
        ...(x.typesPrestation ?? []).map((t) => input(s, 'typePrestation', { valueCodeableConcept: cc(SYS.serafin, t) })),
        ...evalInput(s, x.evaluation),
        ...docInputs(s, x.documents),
      ],
    }));
  }
  for (const x of pp.bilans) {
    const s = SYS.inputBilan;
    const str = (code: string, v?: string) => (v === undefined ? [] : [input(s, code, { valueString: v })]);
    b.add(key('Task/bilan', x.id), PROFILE.bilan, clean({
      resourceType: 'Task',
      identifier: [{ system: BID.bilan.system, value: businessValue(b.pi, BID.bilan.tag, x.id) }],
      basedOn: [ref(ppUrl)],
      status: x.statut,
      intent: 'plan',
      code: x.categorie ? cc(SYS.statutBilan, x.categorie) : undefined,
      for: ref(b.patientUrl),
      executionPeriod: clean({ start: x.date, end: x.fin }),
      input: [
        ...str('perimetre', x.perimetre),
        ...str('problematique', x.problematique),
        ...str('invite', x.invite),
        ...docInputs(s, x.documents),
        ...(x.dateProchainBilan !== undefined ? [input(s, 'dateProchainBilan', { valueDateTime: x.dateProchainBilan })] : []),
        ...(x.syntheses ?? []).map((y) => input(s, 'synthesePreparationBilan', { valueAnnotation: { authorReference: person(y.auteur), text: y.texte } })),
      ],
      output: x.syntheseBilan !== undefined ? [{ type: { coding: [{ system: SYS.outputBilan, code: 'syntheseBilan' }] }, valueString: x.syntheseBilan }] : undefined,
    }));
  }
}

export { SERAFIN_ITEMS };
