// FHIR systems, profiles and questionnaire items the producer writes and reads.
// Values come from the TDDUI 2.2.0 profiles (patterns, fixed values, bindings) and Questionnaires.

export const IG = 'https://interop.esante.gouv.fr/ig/fhir/tddui';
export const SD = `${IG}/StructureDefinition/`;
export const CS = `${IG}/CodeSystem/`;

export const PROFILE = {
  bundle: `${SD}tddui-bundle`,
  patient: `${SD}tddui-patient`,
  patientIns: `${SD}tddui-patient-ins`,
  organization: `${SD}tddui-organization`,
  practitioner: `${SD}tddui-practitioner`,
  practitionerRole: `${SD}tddui-practitioner-role`,
  sejour: `${SD}tddui-encounter-sejour`,
  evenement: `${SD}tddui-encounter-evenement`,
  transportUsager: `${SD}tddui-task-transport-usager`,
  transportPro: `${SD}tddui-task-transport-professionnel`,
  questionnaireResponse: `${SD}tddui-questionnaire-response`,
  documentReference: `${SD}tddui-document-reference`,
  carePlan: `${SD}tddui-careplan-projet-personnalise`,
  consent: `${SD}tddui-consent-accord`,
  attente: `${SD}tddui-goal-attente`,
  objectif: `${SD}tddui-goal-objectif`,
  besoin: `${SD}tddui-service-request-besoin`,
  action: `${SD}tddui-task-action`,
  moyen: `${SD}tddui-task-moyen-ressource`,
  prestation: `${SD}tddui-task-prestation`,
  bilan: `${SD}tddui-task-bilan`,
  contact: `${SD}tddui-related-person-contact`,
  // TDDUI 2.3.0
  causeDeces: `${SD}tddui-observation-cause-mortalite`,
  mobilite: `${SD}tddui-observation-mobilite-usager`,
  periodeScolaire: `${SD}tddui-observation-periode-scolaire`,
} as const;

export const EXT = {
  birthOrder: `${SD}tddui-birth-order`,
  birthPlace: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
  inseeCode: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code',
  birthListGivenName: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name',
  identityReliability: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
  admissionDate: `${SD}tddui-admission-date`,
  entryModeLabel: `${SD}tddui-entry-mode-label`,
  exitModeLabel: `${SD}tddui-exit-mode-label`,
  comment: `${SD}tddui-comment`,
  plannedStart: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedStartDate',
  plannedEnd: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate',
  ressourcesUsed: `${SD}tddui-ressources-used`,
  eventLabel: `${SD}tddui-event-label`,
  eventReport: `${SD}tddui-event-report`,
  eventReason: `${SD}tddui-event-reason`,
  outsideService: `${SD}tddui-outside-service`,
  patientPresent: `${SD}tddui-patient-present`,
  meal: `${SD}tddui-meal`,
  attachment: `${SD}tddui-attachment`,
  cancelReason: `${SD}tddui-event-cancel-reason`,
  qrParticipant: `${SD}tddui-qr-participant`,
  statusAuthor: `${SD}tddui-status-author`,
  discriminator: `${SD}tddui-discriminator`,
  careplanReference: `${SD}tddui-careplan-reference`,
  evaluationReference: `${SD}tddui-evaluation-reference`,
  exerciseMode: `${SD}tddui-exercise-mode`,
  profession: `${SD}tddui-profession`,
  contactDescription: `${SD}tddui-related-person-contact-description`,
  consentPeriod: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Consent.period',
  // TDDUI 2.3.0
  patientValidation: `${SD}tddui-patient-validation`,
  householdSituation: `${SD}tddui-household-situation`,
  nationality: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-nationality',
  deathPlace: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-death-place',
} as const;

/** Business identifier systems and the tag of their value (`3+FINESS/idLocal-<TAG>-n`). */
export const BID = {
  localUsager: 'https://identifiant-medicosocial-localusager.esante.gouv.fr',
  sejour: { system: 'https://identifiant-medicosocial-sejour.esante.gouv.fr', tag: 'SEJOUR' },
  evenement: { system: 'https://identifiant-medicosocial-evenement.esante.gouv.fr', tag: 'EVN' },
  evaluation: { system: 'https://identifiant-medicosocial-evaluation.esante.gouv.fr', tag: 'EVAL' },
  transportUsager: { system: 'https://identifiant-medicosocial-transportusager.esante.gouv.fr', tag: 'TPPat' },
  transportPro: { system: 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr', tag: 'TPPro' },
  projet: { system: 'https://identifiant-medicosocial-projetpersonnalise.esante.gouv.fr', tag: 'PPER' },
  attente: { system: 'https://identifiant-medicosocial-attente.esante.gouv.fr', tag: 'ATTE' },
  objectif: { system: 'https://identifiant-medicosocial-objectif.esante.gouv.fr', tag: 'OBJE' },
  besoin: { system: 'https://identifiant-medicosocial-besoin.esante.gouv.fr', tag: 'BESO' },
  action: { system: 'https://identifiant-medicosocial-action.esante.gouv.fr', tag: 'ACTI' },
  moyen: { system: 'https://identifiant-medicosocial-moyenressource.esante.gouv.fr', tag: 'MORE' },
  prestation: { system: 'https://identifiant-medicosocial-prestation.esante.gouv.fr', tag: 'PRES' },
  bilan: { system: 'https://identifiant-medicosocial-bilan.esante.gouv.fr', tag: 'BILA' },
  /** Not an IG tag: the IG gives no layout for DocumentReference.masterIdentifier; we use DOC. */
  document: { tag: 'DOC' },
  periodeScolaire: { system: 'https://identifiant-medicosocial-periodescolaire.esante.gouv.fr', tag: 'PSCO' },
  /** Not an IG tag either: RelatedPerson.identifier (identifiantPP, no system) uses CONTACT. */
  contact: { tag: 'CONTACT' },
} as const;

export const SYS = {
  idNatSt: 'urn:oid:1.2.250.1.71.4.2.2',
  idNatPs: 'urn:oid:1.2.250.1.71.4.2.1',
  insNir: 'urn:oid:1.2.250.1.213.1.4.8',
  insNia: 'urn:oid:1.2.250.1.213.1.4.9',
  insNirTest: 'urn:oid:1.2.250.1.213.1.4.10',
  insNirDemo: 'urn:oid:1.2.250.1.213.1.4.11',
  frCore0203: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203',
  frCoreIdentifierType: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identifier-type',
  frCore0445: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445',
  v20203: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  dataAbsent: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
  cisis: 'https://smt.esante.gouv.fr/fhir/CodeSystem/terminologie-cisis',
  serafin: 'https://smt.esante.gouv.fr/terminologie-SERAFINPH',
  icf: 'http://hl7.org/fhir/sid/icf',
  communeOM: 'https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM',
  modeExercice: 'https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  loinc: 'http://loinc.org',
  ucum: 'http://unitsofmeasure.org',
  encounterIdentifier: `${CS}tddui-encounter-identifier`,
  encounterParticipant: `${CS}tddui-encounter-participant`,
  tdduiIdentifier: `${CS}tddui-identifier`,
  discriminator: `${CS}tddui-discriminator`,
  inputTransport: `${CS}tddui-task-input-transport`,
  inputAction: `${CS}tddui-task-input-action`,
  inputMoyen: `${CS}tddui-task-input-moyen-ressource`,
  inputPrestation: `${CS}tddui-task-input-prestation`,
  inputBilan: `${CS}tddui-task-input-bilan`,
  outputBilan: `${CS}tddui-task-output-bilan`,
  typeProjet: 'https://smt.esante.gouv.fr/fhir/CodeSystem/tre-r390-type-projet-personnalise',
  roleClass: 'https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass',
  roleCode: 'https://mos.esante.gouv.fr/NOS/TRE_R216-HL7RoleCode/FHIR/TRE-R216-HL7RoleCode',
  protectionJuridique: 'https://mos.esante.gouv.fr/NOS/TRE_R217-ProtectionJuridique/FHIR/TRE-R217-ProtectionJuridique',
  statutBilan: 'https://smt.esante.gouv.fr/fhir/CodeSystem/tre-r389-statut-bilan-projet-personnalise',
  // TDDUI 2.3.0
  cim10: 'https://smt.esante.gouv.fr/terminologie-cim-10',
  observationType: `${CS}tddui-observation-type`,
  periodeScolaire: `${CS}tddui-observation-periode-scolaire`,
  typeEnseignement: 'https://smt.esante.gouv.fr/fhir/CodeSystem/tre-r408-type-enseignement-specialise',
  typeDiplome: 'https://mos.esante.gouv.fr/NOS/TRE_R14-TypeDiplome/FHIR/TRE-R14-TypeDiplome',
  situationVie: 'https://mos.esante.gouv.fr/NOS/TRE_R317-SituationVieQuotidienne/FHIR/TRE-R317-SituationVieQuotidienne',
  iso3166: 'urn:iso:std:iso:3166',
} as const;

export const CNSA_POLICY = 'https://www.cnsa.fr/';

export const QUESTIONNAIRE = {
  'aggir-pa': `${IG}/Questionnaire/tddui-questionnaire-aggir-pa-ssiad`,
  'aggir-ph': `${IG}/Questionnaire/tddui-questionnaire-aggir-ph-ssiad`,
  serafin: `${IG}/Questionnaire/tddui-questionnaire-serafin`,
  'situation-ssiad': `${IG}/Questionnaire/tddui-questionnaire-situation-ssiad`,
} as const;
export type EvaluationType = keyof typeof QUESTIONNAIRE;

/** GIR 1..6 ↔ cisis MED-339..MED-344 (answerOption of item `resultat-eval`). */
export const GIR_CODES = ['MED-339', 'MED-340', 'MED-341', 'MED-342', 'MED-343', 'MED-344'] as const;

/** The AGGIR discriminant variable each questionnaire item stands for (our mapping, see docs/pivot.md). */
export type AggirVariable =
  | 'coherence' | 'orientation' | 'toilette' | 'habillage' | 'alimentation'
  | 'elimination' | 'transferts' | 'deplacementInterieur' | 'deplacementExterieur' | 'communication';

export interface AggirItem {
  linkId: string;
  /** linkId prefix of the four adverb items (`<prefix>-spont`, `-tot`, `-correct`, `-habit`). */
  adverbPrefix: string;
  variable: AggirVariable;
}

const pa = (linkId: string, variable: AggirVariable, adverbPrefix = linkId): AggirItem => ({ linkId, adverbPrefix, variable });

/** Items of tddui-questionnaire-aggir-pa-ssiad, in questionnaire order. */
export const AGGIR_PA_ITEMS: AggirItem[] = [
  pa('fonction-pensee', 'coherence', 'pensee'),
  pa('fonction-orientation', 'orientation', 'orientation'),
  pa('se-laver', 'toilette', 'laver'),
  pa('prendre-soin', 'toilette'),
  pa('mettre-vetement', 'habillage'),
  pa('motricite-fine', 'habillage'),
  pa('mettre-chaussure', 'habillage'),
  pa('manger', 'alimentation'),
  pa('passage-aliment', 'alimentation'),
  pa('assurer-regulation-miction', 'elimination', 'miction'),
  pa('assurer-regulation-defecation', 'elimination', 'defecation'),
  pa('position-corps', 'transferts'),
  pa('deplacer-maison', 'deplacementInterieur'),
  pa('deplacer-dehors', 'deplacementExterieur'),
  pa('appareil-communication', 'communication', 'appareil'),
];

/** Items of tddui-questionnaire-aggir-ph-ssiad: exactly the ten AGGIR discriminant variables. */
export const AGGIR_PH_ITEMS: AggirItem[] = [
  pa('fonction-pensee', 'coherence', 'pensee'),
  pa('fonction-orientation', 'orientation', 'orientation'),
  pa('se-laver', 'toilette', 'laver'),
  pa("s'habiller", 'habillage', 'habiller'),
  pa('manger', 'alimentation'),
  pa('aller-aux-toilettes', 'elimination', 'toilette'),
  pa('position-corps', 'transferts'),
  pa('deplacer-maison', 'deplacementInterieur'),
  pa('deplacer-hors-maison', 'deplacementExterieur'),
  pa('appareil-communication', 'communication', 'appareil'),
];

/** Modality A/B/C ↔ ICF qualifier answers of the AGGIR items (A↔qf0 as in the official example). */
export const MODALITY_TO_ICF = { A: 'qf0', B: 'qf2', C: 'qf4' } as const;
export const ICF_DISPLAY = { qf0: 'aucun facilitateur', qf2: 'facilitateur modéré', qf4: 'facilitateur absolu' } as const;

export const SERAFIN_ITEMS: Record<string, string> = {
  'besoin-serafin': '1', 'besoin-sante-som-psy': '1.1', 'besoin-fonc-ment': '1.1.1', 'besoin-fonc-sensorielle': '1.1.2',
  'besoin-douleur': '1.1.3', 'besoin-voix': '1.1.4', 'besoin-cardio-vasc': '1.1.5', 'besoin-dig': '1.1.6',
  'besoin-genito-uri': '1.1.7', 'besoin-loco-mot': '1.1.8', 'besoin-peau': '1.1.9', 'besoin-entretien': '1.1.10',
  'besoin-autonomie': '1.2', 'besoin-entretien-personnel': '1.2.1.1', 'besoin-relations': '1.2.1.2',
  'besoin-mobilite': '1.2.1.3', 'besoin-decision': '1.2.1.4', 'besoin-participation-sociale': '1.3',
  'besoin-droit-citoyen': '1.3.1', 'besoin-logement': '1.3.2', 'besoin-vivre-logement': '1.3.2.1',
  'besoin-activite-dom': '1.3.2.2', 'besoin-insertion-sociale': '1.3.3', 'besoin-vie-scolaire': '1.3.3.1',
  'besoin-activite-domestique': '1.3.3.2', 'besoin-apprentissage': '1.3.3.3', 'besoin-famille': '1.3.3.4',
  'besoin-pair-aidant': '1.3.3.5', 'besoin-vie-sociale-moyen-transport': '1.3.4', 'besoin-vie-sociale': '1.3.4.1',
  'besoin-moyen-transport': '1.3.4.2', 'besoin-economie': '1.3.5',
};

export const SITUATION_ITEMS = [
  'incontinence', 'incontinence-fec', 'obesite', 'trouble-cognitif', 'trouble-personnalite',
  'soins-ide', 'prise-charge-ide', 'aucun-motif',
] as const;
