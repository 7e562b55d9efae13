// The TDDUI pivot format: one JSON document per usager, close to the SFE functional model.
// Zod is the single source of truth: TypeScript types, runtime validation with the field path
// of every problem, and the published JSON Schema (schemas/pivot.schema.json) all derive from it.
import { z } from 'zod';
import { AGGIR_PA_ITEMS, AGGIR_PH_ITEMS, SERAFIN_ITEMS, SITUATION_ITEMS } from './constants.js';
import { FR_BY_EN, ITEM_FR, PIVOT_MESSAGES as M, pivotMessage, type PivotMessageKey } from './messages.js';
import zodFr from 'zod/v4/locales/fr.js';

/** A custom issue in both languages: zod's message is the English text, params.fr the French one. */
function bilingual(key: PivotMessageKey, args: Record<string, string | number> = {}): { message: string; params: { fr: string } } {
  const t = pivotMessage(key, args);
  return { message: t.en, params: { fr: t.fr } };
}

export const PIVOT_FORMAT = 'tddui-pivot/1';

const DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;
const DATETIME = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

const date = () => z.string().regex(DATE, M.DATE.en);
const dateTime = () => z.string().regex(DATETIME, M.DATE_TIME.en);
const text = () => z.string().min(1, M.NOT_EMPTY.en);
/** A local key: the number/id the DUI gives the item; it ends up after `-TAG-` in the business identifier. */
const localId = () =>
  z.string().regex(/^[^\s]+$/, M.LOCAL_ID.en).meta({
    description: 'Local identifier of the item in the DUI (becomes 3+FINESS/idLocalUsager-TAG-<id>); a value containing "/" is used as the full business identifier as is',
  });
const ref = (what: string) =>
  z.string().min(1).meta({ description: what === 'professional' ? 'idNatPs of a professional of this document' : `id of a ${what} of this document` });

const code = () =>
  z.strictObject({ code: text(), display: z.string().optional() }).meta({ description: 'A code of the code system implied by the field' });
const coding = () => z.strictObject({ system: text(), code: text(), display: z.string().optional() });

const finess = () =>
  z.string().regex(/^(\d{2}|2A|2B)\d{7}$/, M.FINESS.en);

export const AdresseSchema = z.strictObject({
  lignes: z.array(z.string()).optional(),
  codePostal: z.string().optional(),
  commune: z.string().optional(),
  pays: z.string().optional(),
  texte: z.string().optional(),
});

export const StructureSchema = z.strictObject({
  finess: finess(),
  raisonSociale: text(),
});

export const UsagerSchema = z
  .strictObject({
    idLocal: localId().meta({ description: 'Local usager identifier in the ESSMS; identifier PI = 3 + FINESS + "/" + idLocal' }),
    ins: z
      .strictObject({
        matricule: z.string().regex(/^[0-9]{5}(\d{2}|2A|2B)[0-9]{8}$/, M.NIR.en),
        type: z.enum(['NIR', 'NIA', 'NIR-TEST', 'NIR-DEMO']).default('NIR'),
        statutIdentite: z.enum(['PROV', 'RECUP', 'VALI', 'QUAL']).optional(),
      })
      .optional()
      .meta({ description: 'INS matricule: when present the usager is sent as TDDUIPatientINS' }),
    nss: z.string().optional().meta({ description: 'Numéro de sécurité sociale (not an INS)' }),
    numeroInitialMdph: z.string().optional(),
    civilite: z.enum(['M', 'MME']).optional(),
    nomNaissance: text(),
    prenom: text().meta({ description: 'Premier prénom de naissance' }),
    prenoms: z.string().optional().meta({ description: 'Liste des prénoms de naissance, separated by spaces' }),
    nomUtilise: z.string().optional(),
    prenomUtilise: z.string().optional(),
    sexe: z.enum(['male', 'female', 'unknown']),
    dateNaissance: date().optional(),
    rangNaissance: z.number().int().min(1).max(999).optional(),
    lieuNaissance: z
      .strictObject({ codeInsee: z.string().regex(/^(\d{2}|2A|2B)\d{3}$/, M.INSEE.en).optional(), commune: z.string().optional(), pays: z.string().optional() })
      .optional(),
    adresse: AdresseSchema.optional(),
    // TDDUI 2.3.0 only (igVersion "2.3.0"):
    dateDeces: dateTime().optional().meta({ description: 'TDDUI 2.3.0: date of death (Patient.deceasedDateTime)' }),
    lieuDeces: z.string().optional().meta({ description: 'TDDUI 2.3.0: place of death (FR Core fr-core-patient-death-place)' }),
    nationalite: code().optional().meta({ description: 'TDDUI 2.3.0: nationality, ISO 3166 alpha-3 (FR Core fr-core-patient-nationality)' }),
    situationFoyer: z
      .strictObject({
        situationFamiliale: coding().optional().meta({ description: 'JDV_J176 (e.g. TRE_R317-SituationVieQuotidienne 01 Seul)' }),
        compositionFoyer: z.array(coding()).optional().meta({ description: 'jdv-j385-composition-foyer-ms' }),
        description: z.string().optional(),
      })
      .optional()
      .meta({ description: 'TDDUI 2.3.0: household situation (tddui-household-situation)' }),
    commentaire: z.string().optional().meta({ description: 'TDDUI 2.3.0: comment on the usager (tddui-comment)' }),
    permisConduire: z
      .array(z.strictObject({ numero: text(), systeme: text(), debut: date().optional(), fin: date().optional() }))
      .optional()
      .meta({ description: 'TDDUI 2.3.0: driving licences (identifier slice driverLicense, v2-0203 DL)' }),
  })
  .superRefine((u, ctx) => {
    // tddui-patient: birthDate.extension:tddui-birth-order is 1..1 (no INS sent).
    if (!u.ins && u.dateNaissance && u.rangNaissance === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rangNaissance'], ...bilingual('BIRTH_ORDER') });
    }
  });

export const ProfessionnelSchema = z.strictObject({
  idNatPs: text().meta({ description: 'idNat_PS: 8+RPPS, 0+ADELI or 3+FINESS/id. It is also the key by which the other items of the document name this professional' }),
  civilite: z.enum(['M', 'MME']).optional(),
  nom: text(),
  prenom: z.string().optional(),
  qualifications: z.array(coding()).optional(),
  role: z
    .strictObject({
      fonction: coding().optional().meta({ description: 'PractitionerRole.code (JDV_J47)' }),
      profession: coding().optional().meta({ description: 'tddui-profession (JDV_J01)' }),
      modeExercice: z.enum(['S', 'L', 'B']).optional().meta({ description: 'TRE_R23: S salarié, L libéral, B bénévole' }),
    })
    .optional()
    .meta({ description: 'Role in the ESSMS: sent as a TDDUIPractitionerRole' }),
});

export const SejourSchema = z.strictObject({
  id: localId(),
  statut: z.enum(['planned', 'arrived', 'triaged', 'in-progress', 'onleave', 'finished', 'cancelled']).default('in-progress'),
  classe: z.string().default('HH').meta({ description: 'Encounter.class (v3 ActCode), HH = home health' }),
  dateEntree: dateTime().optional(),
  dateSortie: dateTime().optional(),
  dateEntreePrevue: dateTime().optional(),
  dateSortiePrevue: dateTime().optional(),
  dateAdmission: dateTime().optional(),
  libelleModeEntree: z.string().optional(),
  libelleModeSortie: z.string().optional(),
  commentaire: z.string().optional(),
});

const TypeEvenementSchema = z.union([
  z.strictObject({ ssiad: code().meta({ description: 'jdv-type-evenement-ssiad-cisis (MED-1296...)' }) }),
  z.strictObject({ serafin: code().meta({ description: 'SERAFIN-PH families 2 and 3 (tddui-serafin)' }) }),
  z.strictObject({ texte: text() }),
]);

export const EvenementSchema = z.strictObject({
  id: localId(),
  sejour: ref('séjour').optional(),
  statut: z.enum(['planned', 'triaged', 'finished', 'cancelled']),
  motifAnnulation: code().optional().meta({ description: 'jdv-motif-non-realisation-evenement-cisis' }),
  classe: z.string().default('HH'),
  types: z.array(TypeEvenementSchema).min(1),
  debut: dateTime(),
  fin: dateTime(),
  libelle: z.string().optional(),
  compteRendu: z.string().optional(),
  motif: z.string().optional(),
  commentaires: z.array(z.string()).optional(),
  horsService: z.boolean().optional(),
  usagerPresent: z.boolean().optional(),
  repas: z.boolean().optional(),
  professionnels: z.array(ref('professional')).optional(),
  auteurStatut: ref('professional').optional(),
  valideParUsager: z.boolean().optional().meta({ description: 'TDDUI 2.3.0: the usager confirmed the event took place (tddui-patient-validation)' }),
  ressources: z
    .array(
      z.strictObject({
        type: code().optional().meta({ description: 'jdv-ressource-utilisee-cisis: ORG-206 matériel spécialisé, ORG-207 ressource immobilière' }),
        materiel: z.array(code()).optional(),
        immobilier: z.array(code()).optional(),
      }),
    )
    .optional(),
  documents: z.array(ref('document')).optional(),
});

const money = () => z.number().nonnegative().meta({ description: 'Amount in euros' });

export const TransportSchema = z.strictObject({
  id: localId(),
  type: z.enum(['usager', 'professionnel']),
  evenement: ref('event'),
  professionnel: ref('professional').optional().meta({ description: 'Who is transported (required for a professional transport)' }),
  statut: z.enum(['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error']).default('completed'),
  modeTransport: code().optional().meta({ description: 'jdv-mode-de-transport-cisis (ORG-156 taxi, ORG-202 véhicule individuel...)' }),
  debut: dateTime(),
  fin: dateTime(),
  transporteur: StructureSchema.optional(),
  typeMotorisation: code().optional(),
  adresseDepart: AdresseSchema.optional(),
  adresseDestination: AdresseSchema.optional(),
  budgetPrevisionnel: money().optional(),
  budgetReel: money().optional(),
  distanceKm: z.number().nonnegative().optional(),
  dureeMinutes: z.number().nonnegative().optional(),
  accompagnement: z.boolean().optional(),
  asepsieRigoureuse: z.boolean().optional(),
  natureTransport: code().optional().meta({ description: 'SERAFIN-PH 3.2.4.x (JDV_J282)' }),
}).superRefine((t, ctx) => {
  if (t.type === 'professionnel' && !t.professionnel) {
    ctx.addIssue({ code: 'custom', path: ['professionnel'], ...bilingual('TRANSPORT_PRO') });
  }
  if (t.type === 'professionnel') {
    for (const k of ['accompagnement', 'asepsieRigoureuse', 'natureTransport'] as const) {
      if (t[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], ...bilingual('TRANSPORT_USAGER_ONLY') });
    }
  }
});

const adverbs = () =>
  z.strictObject({
    spontanement: z.boolean().optional(),
    totalement: z.boolean().optional(),
    correctement: z.boolean().optional(),
    habituellement: z.boolean().optional(),
  });

export const EvaluationSchema = z
  .strictObject({
    id: localId(),
    type: z.enum(['aggir-pa', 'aggir-ph', 'serafin', 'situation-ssiad']),
    statut: z.enum(['in-progress', 'completed', 'amended', 'entered-in-error', 'stopped']).default('completed'),
    date: dateTime().optional().meta({ description: 'dateEvaluation (authored)' }),
    evenement: ref('event').optional(),
    evaluateur: ref('professional').optional().meta({ description: 'Evaluateur (source)' }),
    auteur: ref('professional').optional().meta({ description: 'Auteur (author)' }),
    responsable: ref('professional').optional(),
    auteurStatut: ref('professional').optional(),
    commentaire: z.string().optional(),
    documents: z.array(ref('document')).optional(),
    gir: z.number().int().min(1).max(6).optional().meta({ description: 'AGGIR only: GIR 1..6 (item resultat-eval)' }),
    variables: z
      .array(
        z.strictObject({
          item: text().meta({ description: 'linkId of the AGGIR variable (fonction-pensee, se-laver...)' }),
          modalite: z.enum(['A', 'B', 'C']).optional(),
          adverbes: adverbs().optional(),
          commentaire: z.string().optional(),
        }),
      )
      .optional()
      .meta({ description: 'AGGIR only: the variables and their S/T/C/H adverbs' }),
    besoins: z.array(z.strictObject({ item: text(), valeur: z.number().int(), commentaire: z.string().optional() })).optional().meta({ description: 'SERAFIN only' }),
    indicateurs: z.array(z.strictObject({ item: z.enum(SITUATION_ITEMS), valeur: z.boolean(), commentaire: z.string().optional() })).optional().meta({ description: 'Situation SSIAD only' }),
  })
  .superRefine((e, ctx) => {
    const aggir = e.type === 'aggir-pa' || e.type === 'aggir-ph';
    const only = (k: 'gir' | 'variables' | 'besoins' | 'indicateurs', ok: boolean, why: string) => {
      if (e[k] !== undefined && !ok) ctx.addIssue({ code: 'custom', path: [k], ...bilingual('EVAL_NOT_ALLOWED', { type: e.type, why, whyFr: why.replace(' only', ' uniquement') }) });
    };
    only('gir', aggir, 'AGGIR PA/PH only');
    only('variables', aggir, 'AGGIR PA/PH only');
    only('besoins', e.type === 'serafin', 'SERAFIN only');
    only('indicateurs', e.type === 'situation-ssiad', 'situation SSIAD only');
    e.variables?.forEach((v, i) => {
      if (v.adverbes !== undefined && v.modalite === undefined) {
        ctx.addIssue({ code: 'custom', path: ['variables', i, 'modalite'], ...bilingual('MODALITE_REQUIRED') });
      }
    });
    for (const k of ['variables', 'besoins', 'indicateurs'] as const) {
      const seen = new Set<string>();
      (e[k] ?? []).forEach((x: { item: string }, i: number) => {
        if (seen.has(x.item)) ctx.addIssue({ code: 'custom', path: [k, i, 'item'], ...bilingual('ITEM_TWICE', { item: x.item }) });
        seen.add(x.item);
      });
    }
    if (aggir && e.variables?.length && e.gir === undefined) {
      ctx.addIssue({ code: 'custom', path: ['gir'], ...bilingual('GIR_WITH_VARIABLES') });
    }
    if (aggir && e.gir === undefined && !e.variables?.length) {
      ctx.addIssue({ code: 'custom', path: ['gir'], ...bilingual('GIR_REQUIRED') });
    }
    const known = new Set((e.type === 'aggir-pa' ? AGGIR_PA_ITEMS : AGGIR_PH_ITEMS).map((i) => i.linkId));
    e.variables?.forEach((v, i) => {
      if (!known.has(v.item)) ctx.addIssue({ code: 'custom', path: ['variables', i, 'item'], ...bilingual('AGGIR_ITEM', { item: v.item, type: e.type, known: [...known].join(', ') }) });
    });
    e.besoins?.forEach((b, i) => {
      if (!(b.item in SERAFIN_ITEMS)) ctx.addIssue({ code: 'custom', path: ['besoins', i, 'item'], ...bilingual('SERAFIN_ITEM', { item: b.item }) });
    });
    if (e.type === 'serafin' && !e.besoins?.length) ctx.addIssue({ code: 'custom', path: ['besoins'], ...bilingual('SERAFIN_BESOIN') });
    if (e.type === 'situation-ssiad' && !e.indicateurs?.length) ctx.addIssue({ code: 'custom', path: ['indicateurs'], ...bilingual('SITUATION_INDICATOR') });
  });

export const DocumentSchema = z.strictObject({
  id: localId(),
  titre: text(),
  typeMime: text().meta({ description: 'e.g. application/pdf' }),
  donnees: z.string().regex(/^[A-Za-z0-9+/=\s]+$/, M.BASE64.en),
  date: dateTime().optional(),
  auteur: ref('professional').optional().meta({ description: 'A professional of this document; the ESSMS when absent' }),
  description: z.string().optional(),
});

export const ContactSchema = z.strictObject({
  id: localId().meta({ description: 'Local id of the contact (RelatedPerson.identifier 3+FINESS/idLocal-CONTACT-id)' }),
  civilite: z.enum(['M', 'MME']).optional(),
  nom: text(),
  prenom: z.string().optional(),
  sexe: z.enum(['male', 'female', 'unknown']).optional(),
  dateNaissance: date().optional(),
  telephone: z.string().optional(),
  email: z.string().optional(),
  adresse: AdresseSchema.optional(),
  role: code().optional().meta({ description: 'Role (TRE_R260-HL7RoleClass, jdv-j384-role-membre-famille-ms), e.g. GUARD' }),
  relation: code().optional().meta({ description: 'Relation to the usager (TRE_R216-HL7RoleCode: JDV_J11 / JDV_J14), e.g. DAU, FTH' }),
  protectionJuridique: z.enum(['TUTEUR', 'CURATEUR', 'MSVG']).optional().meta({ description: 'TRE_R217-ProtectionJuridique' }),
  description: z.string().optional().meta({ description: 'tddui-related-person-contact-description' }),
});

const PersonRef = z.union([
  z.strictObject({ professionnel: ref('professional') }),
  z.strictObject({ usager: z.literal(true) }),
  z.strictObject({ contact: ref('contact') }),
]);

const taskStatus = () =>
  z.enum(['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error']);

export const AccordSchema = z.strictObject({
  type: z.enum(['structure', 'usager']),
  date: dateTime().meta({ description: 'dateSignature' }),
  signataire: PersonRef,
  statut: z.enum(['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error']).default('active'),
  validiteDebut: dateTime().optional(),
  validiteFin: dateTime().optional(),
});

export const AttenteSchema = z.strictObject({
  id: localId(),
  description: text(),
  origine: text().meta({ description: 'origineAttente (Usager, Famille...)' }),
  commentaires: z.array(z.string()).optional(),
  statut: z.enum(['proposed', 'planned', 'accepted', 'active', 'on-hold', 'completed', 'cancelled', 'entered-in-error', 'rejected']).default('active'),
  documents: z.array(ref('document')).optional(),
});

export const BesoinSchema = z.strictObject({
  id: localId(),
  description: text().meta({ description: 'descriptionBesoin (code.text)' }),
  type: code().optional().meta({ description: 'typeBesoin: SERAFIN-PH family 1 (JDV_J285)' }),
  analyse: z.string().optional().meta({ description: 'Professional analysis (orderDetail.text)' }),
  commentaire: z.string().optional(),
  statut: z.enum(['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown']).default('active'),
  documents: z.array(ref('document')).optional(),
});

export const ObjectifSchema = z.strictObject({
  id: localId(),
  titre: text(),
  description: text(),
  domaine: z.string().optional().meta({ description: 'category.text' }),
  dateDebut: date().optional(),
  dateFin: date().optional(),
  resultatAttendu: z.string().optional(),
  referent: ref('professional').optional(),
  besoins: z.array(ref('besoin')).optional(),
  evaluations: z.array(ref('evaluation')).optional(),
  avisUsager: z.string().optional(),
  strategie: z.string().optional(),
  statut: z.enum(['proposed', 'planned', 'accepted', 'active', 'on-hold', 'completed', 'cancelled', 'entered-in-error', 'rejected']).default('active'),
  auteurStatut: ref('professional').optional(),
  documents: z.array(ref('document')).optional(),
});

export const ActionSchema = z.strictObject({
  id: localId(),
  titre: text(),
  description: z.string().optional(),
  debut: dateTime().optional(),
  fin: dateTime().optional(),
  referent: ref('professional').optional(),
  referentLibelle: z.string().optional().meta({ description: 'Free-text owner (e.g. "Ergothérapeute") when no professional is identified' }),
  objectifs: z.array(ref('objectif')).optional(),
  evaluations: z.array(ref('evaluation')).optional(),
  avisUsager: z.string().optional(),
  resultatAttendu: z.string().optional(),
  statut: taskStatus().default('in-progress'),
  auteurStatut: ref('professional').optional(),
  documents: z.array(ref('document')).optional(),
});

export const MoyenSchema = z.strictObject({
  id: localId(),
  titre: text(),
  type: z.string().optional().meta({ description: 'code.text' }),
  description: z.string().optional(),
  debut: dateTime().optional(),
  fin: dateTime().optional(),
  action: ref('action').optional(),
  evaluation: ref('evaluation').optional(),
  statut: taskStatus().default('in-progress'),
  documents: z.array(ref('document')).optional(),
});

export const PrestationSchema = z.strictObject({
  id: localId(),
  titre: text(),
  description: z.string().optional(),
  debut: dateTime().optional(),
  fin: dateTime().optional(),
  action: ref('action').optional(),
  typesPrestation: z.array(code()).optional().meta({ description: 'SERAFIN-PH families 2 and 3 (tddui-serafin)' }),
  evaluation: ref('evaluation').optional(),
  statut: taskStatus().default('in-progress'),
  auteurStatut: ref('professional').optional(),
  documents: z.array(ref('document')).optional(),
});

export const BilanSchema = z.strictObject({
  id: localId(),
  date: dateTime().meta({ description: 'dateBilan (executionPeriod.start)' }),
  fin: dateTime().optional(),
  categorie: code().optional().meta({ description: 'jdv-j366-statut-bilan-projet-personnalise-ms' }),
  perimetre: z.string().optional(),
  problematique: z.string().optional(),
  invite: z.string().optional(),
  dateProchainBilan: dateTime().optional(),
  syntheses: z.array(z.strictObject({ auteur: PersonRef, texte: text() })).optional().meta({ description: 'synthesePreparationBilan' }),
  syntheseBilan: z.string().optional(),
  statut: taskStatus().default('completed'),
  documents: z.array(ref('document')).optional(),
});

export const ProjetPersonnaliseSchema = z
  .strictObject({
    id: localId(),
    titre: text(),
    categorie: code().optional().meta({ description: 'jdv-j367-type-projet-personnalise-ms' }),
    statut: z.enum(['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown']).default('active'),
    auteurStatut: ref('professional').optional(),
    description: z.string().optional(),
    debut: dateTime().optional(),
    fin: dateTime().optional(),
    modaliteCommunication: z.string().optional(),
    documents: z.array(ref('document')).optional().meta({ description: 'entrantProjetPerso' }),
    accords: z.array(AccordSchema).min(1),
    attentes: z.array(AttenteSchema).default([]),
    besoins: z.array(BesoinSchema).default([]),
    objectifs: z.array(ObjectifSchema).default([]),
    actions: z.array(ActionSchema).default([]),
    moyens: z.array(MoyenSchema).default([]),
    prestations: z.array(PrestationSchema).default([]),
    bilans: z.array(BilanSchema).default([]),
  })
  .superRefine((p, ctx) => {
    if (!p.accords.some((a) => a.type === 'structure')) {
      ctx.addIssue({ code: 'custom', path: ['accords'], ...bilingual('ACCORD_STRUCTURE') });
    }
  });

/** TDDUI 2.3.0 observations: cause of death, mobility, school period (one Observation each). */
export const ObservationSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('cause-deces'),
    cause: code().meta({ description: 'CIM-10 code (tddui-cim-10)' }),
    date: dateTime().optional(),
  }),
  z.strictObject({
    type: z.literal('mobilite'),
    mode: code().meta({ description: 'jdv-mode-de-transport-cisis (ORG-160 VSL...)' }),
    amenagement: z.string().optional().meta({ description: 'Observation on the adaptation of the means of transport (OBSAMENAGEMENT)' }),
    date: dateTime().optional(),
  }),
  z.strictObject({
    type: z.literal('periode-scolaire'),
    id: localId(),
    referent: ref('contact').meta({ description: 'id of the contact who is the school referent (performer referentScolaire)' }),
    ecole: StructureSchema.optional().meta({ description: 'The school (an Organization; performer ecole)' }),
    debut: date().optional(),
    fin: date().optional(),
    typesEnseignement: z.array(code()).optional().meta({ description: 'TRE_R408 type d’enseignement spécialisé (jdv-j386)' }),
    diplomes: z.array(code()).optional().meta({ description: 'TRE_R14 type de diplôme (JDV_J81)' }),
    volumeHeures: z.number().nonnegative().optional().meta({ description: 'Hours of schooling per week' }),
    note: z.string().optional(),
  }),
]);

export const IG_VERSIONS = ['2.2.0', '2.3.0'] as const;

export const PivotSchema = z
  .strictObject({
    format: z.literal(PIVOT_FORMAT).meta({ description: 'Format version marker' }),
    igVersion: z.enum(IG_VERSIONS).optional().meta({ description: 'TDDUI version to produce (default 2.2.0); 2.3.0 enables the fields marked "TDDUI 2.3.0"' }),
    structure: StructureSchema.meta({ description: 'The ESSMS (EntiteJuridique) exporting the data' }),
    usager: UsagerSchema,
    professionnels: z.array(ProfessionnelSchema).default([]),
    contacts: z.array(ContactSchema).default([]),
    sejours: z.array(SejourSchema).default([]),
    evenements: z.array(EvenementSchema).default([]),
    transports: z.array(TransportSchema).default([]),
    evaluations: z.array(EvaluationSchema).default([]),
    documents: z.array(DocumentSchema).default([]),
    projetsPersonnalises: z.array(ProjetPersonnaliseSchema).default([]),
    observations: z.array(ObservationSchema).optional().meta({ description: 'TDDUI 2.3.0: observations' }),
  })
  .superRefine((p, ctx) => {
    checkReferences(p, ctx);
    checkVersion(p, ctx);
  })
  .meta({
    title: 'TDDUI pivot document (one usager)',
    description: 'Input of `tddui build`: the data of one usager of an ESSMS, converted to a TDDUI transaction Bundle',
  });

export type Pivot = z.output<typeof PivotSchema>;
export type PivotInput = z.input<typeof PivotSchema>;
export type Usager = Pivot['usager'];
export type Professionnel = Pivot['professionnels'][number];
export type Contact = Pivot['contacts'][number];
export type Sejour = Pivot['sejours'][number];
export type Evenement = Pivot['evenements'][number];
export type Transport = Pivot['transports'][number];
export type Evaluation = Pivot['evaluations'][number];
export type DocumentPivot = Pivot['documents'][number];
export type ProjetPersonnalise = Pivot['projetsPersonnalises'][number];
export type Adresse = z.output<typeof AdresseSchema>;
export type Structure = z.output<typeof StructureSchema>;
export type ObservationPivot = z.output<typeof ObservationSchema>;

/**
 * Fields TDDUI 2.2.0 cannot carry need igVersion "2.3.0"; TDDUI 2.3.0 rules the pivot can check
 * (birthDate 1..1 for a usager without INS, the QuestionnaireResponse invariant
 * professionnel-requis) are checked so that the builder never writes an invalid Bundle.
 */
function checkVersion(p: z.output<z.ZodObject<any>> & Record<string, any>, ctx: z.RefinementCtx): void {
  const v23 = p.igVersion === '2.3.0';
  const only23 = (path: (string | number)[]) =>
    ctx.addIssue({ code: 'custom', path, ...bilingual('ONLY_23') });
  if (!v23) {
    for (const k of ['dateDeces', 'lieuDeces', 'nationalite', 'situationFoyer', 'commentaire', 'permisConduire']) if (p.usager[k] !== undefined) only23(['usager', k]);
    (p.evenements ?? []).forEach((e: any, i: number) => e.valideParUsager !== undefined && only23(['evenements', i, 'valideParUsager']));
    if (p.observations !== undefined) only23(['observations']);
    return;
  }
  if (!p.usager.ins && !p.usager.dateNaissance) {
    ctx.addIssue({ code: 'custom', path: ['usager', 'dateNaissance'], ...bilingual('BIRTH_DATE_23') });
  }
  (p.evaluations ?? []).forEach((e: any, i: number) => {
    // The invariant reads the reference text (`source.reference.contains('Practitioner/')`): an
    // evaluateur referred to by its urn:uuid in the Bundle does not satisfy it (decisions.md D-34).
    if (e.responsable === undefined && e.auteur === undefined) {
      ctx.addIssue({ code: 'custom', path: ['evaluations', i], ...bilingual('PROFESSIONNEL_REQUIS') });
    }
  });
  const contacts = new Set((p.contacts ?? []).map((c: any) => c.id));
  (p.observations ?? []).forEach((o: any, i: number) => {
    if (o.type === 'periode-scolaire' && !contacts.has(o.referent)) ctx.addIssue({ code: 'custom', path: ['observations', i, 'referent'], ...bilingual('NO_CONTACT', { id: String(o.referent) }) });
  });
}

/** Every reference to another item of the document names an existing, unique item. */
function checkReferences(p: z.output<z.ZodObject<any>> & Record<string, any>, ctx: z.RefinementCtx): void {
  const keys = (list: { id: string }[] | undefined, path: (string | number)[], what: string): Set<string> => {
    const s = new Set<string>();
    (list ?? []).forEach((x, i) => {
      if (s.has(x.id)) {
        const field = what === 'professional' ? 'idNatPs' : 'id';
        ctx.addIssue({ code: 'custom', path: [...path, i, field], ...bilingual('DUPLICATE', { what, whatFr: ITEM_FR[what] ?? what, field, id: x.id }) });
      }
      s.add(x.id);
    });
    return s;
  };
  const pros = keys(
    (p.professionnels ?? []).map((x: Professionnel) => ({ id: x.idNatPs })),
    ['professionnels'],
    'professional',
  );
  const contacts = keys(p.contacts, ['contacts'], 'contact');
  const sejours = keys(p.sejours, ['sejours'], 'séjour');
  const events = keys(p.evenements, ['evenements'], 'event');
  keys(p.transports, ['transports'], 'transport');
  const evals = keys(p.evaluations, ['evaluations'], 'evaluation');
  const docs = keys(p.documents, ['documents'], 'document');
  keys(p.projetsPersonnalises, ['projetsPersonnalises'], 'projet personnalisé');
  const check = (set: Set<string>, what: string, v: unknown, path: (string | number)[]) => {
    if (v === undefined) return;
    const list = Array.isArray(v) ? v : [v];
    list.forEach((x, i) => {
      if (typeof x === 'string' && !set.has(x)) {
        ctx.addIssue({ code: 'custom', path: Array.isArray(v) ? [...path, i] : path, ...bilingual('NO_ITEM', { what, whatFr: ITEM_FR[what] ?? what, id: x }) });
      }
    });
  };
  const person = (v: any, path: (string | number)[]) => {
    if (v && typeof v === 'object' && 'professionnel' in v) check(pros, 'professional', v.professionnel, [...path, 'professionnel']);
    if (v && typeof v === 'object' && 'contact' in v) check(contacts, 'contact', v.contact, [...path, 'contact']);
  };
  p.evenements?.forEach((e: Evenement, i: number) => {
    const at = ['evenements', i];
    check(sejours, 'séjour', e.sejour, [...at, 'sejour']);
    check(pros, 'professional', e.professionnels, [...at, 'professionnels']);
    check(pros, 'professional', e.auteurStatut, [...at, 'auteurStatut']);
    check(docs, 'document', e.documents, [...at, 'documents']);
  });
  p.transports?.forEach((t: Transport, i: number) => {
    check(events, 'event', t.evenement, ['transports', i, 'evenement']);
    check(pros, 'professional', t.professionnel, ['transports', i, 'professionnel']);
  });
  p.evaluations?.forEach((e: Evaluation, i: number) => {
    const at = ['evaluations', i];
    check(events, 'event', e.evenement, [...at, 'evenement']);
    for (const k of ['evaluateur', 'auteur', 'responsable', 'auteurStatut'] as const) check(pros, 'professional', e[k], [...at, k]);
    check(docs, 'document', e.documents, [...at, 'documents']);
  });
  p.documents?.forEach((d: DocumentPivot, i: number) => check(pros, 'professional', d.auteur, ['documents', i, 'auteur']));
  p.projetsPersonnalises?.forEach((pp: ProjetPersonnalise, i: number) => {
    const at = ['projetsPersonnalises', i];
    check(pros, 'professional', pp.auteurStatut, [...at, 'auteurStatut']);
    check(docs, 'document', pp.documents, [...at, 'documents']);
    pp.accords.forEach((a, j) => person(a.signataire, [...at, 'accords', j, 'signataire']));
    keys(pp.attentes, [...at, 'attentes'], 'attente');
    const besoins = keys(pp.besoins, [...at, 'besoins'], 'besoin');
    const objectifs = keys(pp.objectifs, [...at, 'objectifs'], 'objectif');
    const actions = keys(pp.actions, [...at, 'actions'], 'action');
    keys(pp.moyens, [...at, 'moyens'], 'moyen');
    keys(pp.prestations, [...at, 'prestations'], 'prestation');
    keys(pp.bilans, [...at, 'bilans'], 'bilan');
    pp.attentes?.forEach((x, j) => check(docs, 'document', x.documents, [...at, 'attentes', j, 'documents']));
    pp.besoins?.forEach((x, j) => check(docs, 'document', x.documents, [...at, 'besoins', j, 'documents']));
    pp.objectifs?.forEach((x, j) => {
      const o = [...at, 'objectifs', j];
      check(besoins, 'besoin', x.besoins, [...o, 'besoins']);
      check(evals, 'evaluation', x.evaluations, [...o, 'evaluations']);
      check(pros, 'professional', x.referent, [...o, 'referent']);
      check(pros, 'professional', x.auteurStatut, [...o, 'auteurStatut']);
      check(docs, 'document', x.documents, [...o, 'documents']);
    });
    pp.actions?.forEach((x, j) => {
      const o = [...at, 'actions', j];
      check(objectifs, 'objectif', x.objectifs, [...o, 'objectifs']);
      check(evals, 'evaluation', x.evaluations, [...o, 'evaluations']);
      check(pros, 'professional', x.referent, [...o, 'referent']);
      check(pros, 'professional', x.auteurStatut, [...o, 'auteurStatut']);
      check(docs, 'document', x.documents, [...o, 'documents']);
    });
    pp.moyens?.forEach((x, j) => {
      const o = [...at, 'moyens', j];
      check(actions, 'action', x.action, [...o, 'action']);
      check(evals, 'evaluation', x.evaluation, [...o, 'evaluation']);
      check(docs, 'document', x.documents, [...o, 'documents']);
    });
    pp.prestations?.forEach((x, j) => {
      const o = [...at, 'prestations', j];
      check(actions, 'action', x.action, [...o, 'action']);
      check(evals, 'evaluation', x.evaluation, [...o, 'evaluation']);
      check(pros, 'professional', x.auteurStatut, [...o, 'auteurStatut']);
      check(docs, 'document', x.documents, [...o, 'documents']);
    });
    pp.bilans?.forEach((x, j) => {
      const o = [...at, 'bilans', j];
      x.syntheses?.forEach((s, k) => person(s.auteur, [...o, 'syntheses', k, 'auteur']));
      check(docs, 'document', x.documents, [...o, 'documents']);
    });
  });
}

export interface PivotProblem {
  /** JSON pointer of the offending field, e.g. `/evenements/2/debut`. */
  pointer: string;
  /** English text (developers, logs). */
  message: string;
  /** French text (what a French user reads). */
  messageFr: string;
}

export class PivotError extends Error {
  /** The same report in French (`message` is English). */
  readonly messageFr: string;

  constructor(readonly problems: PivotProblem[], readonly source?: string) {
    super(
      `Invalid pivot document${source ? ` ${source}` : ''}:\n` +
        problems.map((p) => `  ${p.pointer || '/'}: ${p.message}`).join('\n'),
    );
    this.name = 'PivotError';
    this.messageFr =
      `Document pivot invalide${source ? ` ${source}` : ''} :\n` + problems.map((p) => `  ${p.pointer || '/'} : ${p.messageFr}`).join('\n');
  }
}

const pointer = (path: readonly PropertyKey[]) =>
  path.map((k) => '/' + String(k).replace(/~/g, '~0').replace(/\//g, '~1')).join('');

/** Validates a pivot document; returns the normalised pivot (defaults applied) or the problems. */
export function safeParsePivot(input: unknown): { ok: true; pivot: Pivot } | { ok: false; problems: PivotProblem[] } {
  // reportInput: zod's French locale words a wrong type after the value received.
  const r = PivotSchema.safeParse(input, { reportInput: true });
  if (r.success) return { ok: true, pivot: r.data };
  return { ok: false, problems: flattenIssues(r.error.issues) };
}

const zodFrench = zodFr().localeError;

/** The French text of an issue: ours (params.fr, or the French of a static message), else zod's French locale. */
function frenchOf(i: z.core.$ZodIssue): string {
  if (i.code === 'custom' && typeof i.params?.fr === 'string') return i.params.fr;
  const ours = FR_BY_EN.get(i.message);
  if (ours) return ours;
  const fr = zodFrench(i as unknown as Parameters<typeof zodFrench>[0]);
  return (typeof fr === 'string' ? fr : fr?.message) ?? 'Valeur invalide';
}

function flattenIssues(issues: readonly z.core.$ZodIssue[]): PivotProblem[] {
  const out: PivotProblem[] = [];
  for (const i of issues) {
    // For unions, report the branch problems instead of a bare "invalid input".
    if (i.code === 'invalid_union' && i.errors.length) {
      const best = i.errors.reduce((a, b) => (b.length < a.length ? b : a));
      out.push(...flattenIssues(best.map((e) => ({ ...e, path: [...i.path, ...e.path] }))));
      continue;
    }
    let message = i.message;
    let messageFr = frenchOf(i);
    if (i.code === 'unrecognized_keys') ({ en: message, fr: messageFr } = pivotMessage(i.keys.length === 1 ? 'UNKNOWN_FIELD' : 'UNKNOWN_FIELDS', { keys: i.keys.join(', ') }));
    out.push({ pointer: pointer(i.path), message, messageFr });
  }
  return out;
}

/** Validates a pivot document and throws a PivotError naming every offending field. */
export function parsePivot(input: unknown, source?: string): Pivot {
  const r = safeParsePivot(input);
  if (!r.ok) throw new PivotError(r.problems, source);
  return r.pivot;
}
