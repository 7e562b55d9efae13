// The pivot schema's own messages in English and French (issue 20: French everywhere). The schema
// uses the English template as zod's message and the French one as the issue's `params.fr`;
// safeParsePivot() gives both. zod's built-in issues (wrong type, unknown value…) get their French
// from zod's own French locale (see schema.ts).
export interface PivotMessage {
  readonly en: string;
  readonly fr: string;
}

const m = (en: string, fr: string): PivotMessage => Object.freeze({ en, fr });

export const PIVOT_MESSAGES = {
  DATE: m('expected a date YYYY-MM-DD', 'date AAAA-MM-JJ attendue'),
  DATE_TIME: m('expected a date or dateTime (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+01:00)', 'date ou date-heure attendue (AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss+01:00)'),
  NOT_EMPTY: m('must not be empty', 'ne doit pas être vide'),
  LOCAL_ID: m('expected a local identifier without spaces', 'identifiant local sans espace attendu'),
  FINESS: m('expected a 9-character FINESS number (2A/2B allowed for Corsica)', 'numéro FINESS de 9 caractères attendu (2A/2B admis pour la Corse)'),
  NIR: m('expected 13 characters + 2-digit key (NIR/NIA)', '13 caractères suivis d’une clé à 2 chiffres attendus (NIR/NIA)'),
  INSEE: m('expected a 5-character INSEE commune code', 'code commune INSEE de 5 caractères attendu'),
  BASE64: m('expected base64 content', 'contenu encodé en base64 attendu'),
  UNKNOWN_FIELD: m('unknown field: {keys}', 'champ inconnu : {keys}'),
  UNKNOWN_FIELDS: m('unknown fields: {keys}', 'champs inconnus : {keys}'),
  BIRTH_ORDER: m('required when the usager has a birth date and no INS (tddui-patient: birth order 1..1)', 'obligatoire quand l’usager a une date de naissance et pas d’INS (tddui-patient : rang de naissance 1..1)'),
  TRANSPORT_PRO: m('required for a professional transport (tddui-task-transport-professionnel: for 1..1)', 'obligatoire pour un transport par un professionnel (tddui-task-transport-professionnel : Task.for 1..1)'),
  TRANSPORT_USAGER_ONLY: m('only for a usager transport', 'réservé au transport de l’usager'),
  EVAL_NOT_ALLOWED: m('not allowed for a {type} evaluation ({why})', 'interdit pour une évaluation {type} ({whyFr})'),
  MODALITE_REQUIRED: m('required when adverbes are given: the adverbs are answered under the modality (item.answer.item)', 'obligatoire quand des adverbes sont donnés : les adverbes répondent sous la modalité (item.answer.item)'),
  ITEM_TWICE: m('"{item}" is given twice (an item of the questionnaire is answered once)', '« {item} » est donné deux fois (un item du questionnaire reçoit une seule réponse)'),
  GIR_WITH_VARIABLES: m('required when AGGIR variables are given (they are nested under the GIR answer); computeGir() derives it', 'obligatoire quand des variables AGGIR sont données (elles sont imbriquées sous la réponse GIR) ; computeGir() le calcule'),
  GIR_REQUIRED: m('an AGGIR evaluation needs at least the GIR', 'une évaluation AGGIR doit donner au moins le GIR'),
  AGGIR_ITEM: m('"{item}" is not an item of the {type} questionnaire (expected one of {known})', '« {item} » n’est pas un item du questionnaire {type} (valeurs possibles : {known})'),
  SERAFIN_ITEM: m('"{item}" is not an item of the SERAFIN questionnaire', '« {item} » n’est pas un item du questionnaire SERAFIN'),
  SERAFIN_BESOIN: m('a SERAFIN evaluation needs at least one besoin (item 1..*)', 'une évaluation SERAFIN doit donner au moins un besoin (item 1..*)'),
  SITUATION_INDICATOR: m('a situation SSIAD evaluation needs at least one indicator (item 1..*)', 'une évaluation de situation SSIAD doit donner au moins un indicateur (item 1..*)'),
  ACCORD_STRUCTURE: m('at least one agreement of type "structure" is required (supportingInfo:accordStructure 1..*)', 'au moins un accord de type « structure » est obligatoire (supportingInfo:accordStructure 1..*)'),
  ONLY_23: m('exists in TDDUI 2.3.0 only: set "igVersion": "2.3.0"', 'n’existe qu’en TDDUI 2.3.0 : indiquer « igVersion » : « 2.3.0 »'),
  BIRTH_DATE_23: m('required in TDDUI 2.3.0 (tddui-patient: birthDate 1..1)', 'obligatoire en TDDUI 2.3.0 (tddui-patient : birthDate 1..1)'),
  PROFESSIONNEL_REQUIS: m('TDDUI 2.3.0 (invariant professionnel-requis): name the responsable or the auteur (an evaluateur sent by urn:uuid does not satisfy the invariant, D-34)', 'TDDUI 2.3.0 (invariant professionnel-requis) : indiquer le responsable ou l’auteur (un évaluateur désigné par urn:uuid ne satisfait pas l’invariant, D-34)'),
  NO_CONTACT: m('no contact with id "{id}"', 'aucun contact d’id « {id} »'),
  DUPLICATE: m('duplicate {what} {field} "{id}"', '{field} « {id} » en double ({whatFr})'),
  NO_ITEM: m('no {what} with id "{id}" in this document', 'aucun(e) {whatFr} d’id « {id} » dans ce document'),
  BUNDLE_NOT_PIVOT: m('this is a FHIR Bundle, not a pivot document (tddui read turns a Bundle into pivot documents)', 'ceci est un Bundle FHIR, pas un document pivot (tddui read transforme un Bundle en documents pivot)'),
} as const;

export type PivotMessageKey = keyof typeof PIVOT_MESSAGES;

/** French names of the items a reference or an identifier names (for DUPLICATE and NO_ITEM). */
export const ITEM_FR: Record<string, string> = {
  professional: 'professionnel', contact: 'contact', 'séjour': 'séjour', event: 'évènement', transport: 'transport',
  evaluation: 'évaluation', document: 'document', 'projet personnalisé': 'projet personnalisé', 'objectif': 'objectif',
};

function fill(template: string, args: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (all, k: string) => (args[k] === undefined ? all : String(args[k])));
}

/** The English and French texts of a message with its arguments. */
export function pivotMessage(key: PivotMessageKey, args: Record<string, string | number> = {}): { en: string; fr: string } {
  const t = PIVOT_MESSAGES[key];
  return { en: fill(t.en, args), fr: fill(t.fr, args) };
}

/** French of a static message given by its English text (zod keeps only the message of a regex or min check). */
export const FR_BY_EN: ReadonlyMap<string, string> = new Map(Object.values(PIVOT_MESSAGES).map((x) => [x.en, x.fr]));

/** A problem's `message` and `messageFr` (PivotProblem fields). */
export function pivotText(key: PivotMessageKey, args: Record<string, string | number> = {}): { message: string; messageFr: string } {
  const t = pivotMessage(key, args);
  return { message: t.en, messageFr: t.fr };
}
