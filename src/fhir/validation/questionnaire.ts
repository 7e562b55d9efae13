// A QuestionnaireResponse against the Questionnaire it answers (QuestionnaireResponse.questionnaire),
// as the HL7 validator checks it: every item's linkId is an item of the Questionnaire at that
// place, in the Questionnaire's order, not repeated unless it repeats; questions' answers have
// the item type's value type, one only unless the item repeats, one of the answerOptions for
// choice items; children of a question sit under its answer, children of a group under the
// group; required items are there when the response is completed, if enabled; group and
// display items carry no answer, and neither does an item that enableWhen disables.
// enableWhen reads the answers of its question anywhere in the response (R4 semantics of the
// operators; enableBehavior `all` by default).
import type { MessageArgs, Rule } from '../outcome/rule.js';
import { CODES } from '../outcome/codes.js';
import { isObject as isObj } from '../json.js';
import { compareQuantity, describeQuantity, UCUM } from '../terminology/ucum.js';

type Json = Record<string, unknown>;

export interface QItemDef {
  linkId?: string;
  type?: string;
  text?: string;
  required?: boolean;
  repeats?: boolean;
  enableWhen?: unknown[];
  enableBehavior?: string;
  answerOption?: Json[];
  answerValueSet?: string;
  maxLength?: number;
  extension?: Json[];
  item?: QItemDef[];
}

export interface QuestionnaireDef {
  url?: string;
  item?: QItemDef[];
}

export interface QrFinding {
  rule: Rule;
  path: string;
  args: MessageArgs;
}

/** Is a Coding in a value set (for answerValueSet)? `unknown` when it cannot be decided. */
export type CodeCheck = (valueSet: string, coding: { system?: string; code?: string }) => 'valid' | 'invalid' | 'unknown';

interface Walk {
  completed: boolean;
  q: QuestionnaireDef;
  qr: Json;
  out: QrFinding[];
  checkCode: CodeCheck | undefined;
  /** Whether a name is a resource type (for the types references name). */
  isResourceType?: (name: string) => boolean;
  /** Every answer of the response by linkId (for enableWhen), built at the first need. */
  answers?: Map<string, Json[]>;
}

// Built once per loaded Questionnaire (its definitions never change): responses are checked on
// every Bundle received, and the AGGIR questionnaire has 76 items.
const POSITIONS = new WeakMap<QItemDef[], Map<string, number>>();
const PARENTS = new WeakMap<QuestionnaireDef, Map<string, string>>();

/** linkId -> position among `defs` (the first one, for a duplicated linkId). */
function positionsOf(defs: QItemDef[]): Map<string, number> {
  let m = POSITIONS.get(defs);
  if (!m) {
    m = new Map();
    for (let i = 0; i < defs.length; i++) {
      const id = defs[i]!.linkId;
      if (typeof id === 'string' && !m.has(id)) m.set(id, i);
    }
    POSITIONS.set(defs, m);
  }
  return m;
}

/** Every linkId of the Questionnaire -> the item it sits under, for "it belongs elsewhere" hints. */
function parentsOf(q: QuestionnaireDef): Map<string, string> {
  let m = PARENTS.get(q);
  if (!m) {
    const parents = new Map<string, string>();
    const index = (defs: QItemDef[] | undefined, parent: string, depth: number) => {
      if (depth > 50) return;
      for (const d of defs ?? []) {
        if (typeof d.linkId === 'string' && !parents.has(d.linkId)) parents.set(d.linkId, parent);
        index(d.item, d.linkId ?? parent, depth + 1);
      }
    };
    index(q.item, '(top level)', 0);
    PARENTS.set(q, (m = parents));
  }
  return m;
}

const NO_DEFS: QItemDef[] = [];

/** Answer value[x] names allowed per item type (R4 QuestionnaireResponse.item.answer.value[x]). */
const ANSWER_TYPES: Record<string, string[]> = {
  boolean: ['valueBoolean'],
  decimal: ['valueDecimal'],
  integer: ['valueInteger'],
  date: ['valueDate'],
  dateTime: ['valueDateTime'],
  time: ['valueTime'],
  string: ['valueString'],
  text: ['valueString'],
  url: ['valueUri'],
  choice: ['valueCoding'],
  'open-choice': ['valueCoding', 'valueString'],
  attachment: ['valueAttachment'],
  reference: ['valueReference'],
  quantity: ['valueQuantity'],
};


/** The value[x] keys R4 allows on QuestionnaireResponse.item.answer. */
const ANSWER_VALUE_KEYS = new Set(['valueBoolean', 'valueDecimal', 'valueInteger', 'valueDate', 'valueDateTime', 'valueTime', 'valueString', 'valueUri', 'valueAttachment', 'valueCoding', 'valueQuantity', 'valueReference']);

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function valueKey(o: Json): string | undefined {
  for (const k in o) if (k.startsWith('value') && k.length > 5) return k;
  return undefined;
}

/** Two answer values are the same option: Codings by system and code, other values by their JSON. */
function sameValue(key: string, a: unknown, b: unknown): boolean {
  if (key === 'valueCoding' && isObj(a) && isObj(b)) return a.code === b.code && (a.system === undefined || b.system === undefined || a.system === b.system);
  if (key === 'valueReference' && isObj(a) && isObj(b)) return a.reference === b.reference;
  return JSON.stringify(a) === JSON.stringify(b);
}

function shown(key: string, v: unknown): string {
  if (key === 'valueCoding' && isObj(v)) return `${typeof v.system === 'string' ? `${v.system}#` : ''}${String(v.code)}`;
  return JSON.stringify(v);
}

export function checkQuestionnaireResponse(qr: Json, path: string, q: QuestionnaireDef, checkCode?: CodeCheck, isResourceType?: (name: string) => boolean): QrFinding[] {
  const out: QrFinding[] = [];
  const completed = qr.status === 'completed' || qr.status === 'amended';
  checkItems(list(qr.item), `${path}.item`, Array.isArray(q.item) ? q.item : NO_DEFS, { completed, q, qr, out, checkCode, isResourceType }, 0);
  return out;
}

function answersOf(w: Walk): Map<string, Json[]> {
  if (w.answers) return w.answers;
  const m = new Map<string, Json[]>();
  const walk = (items: Json[], depth: number) => {
    if (depth > 50) return;
    for (const it of items) {
      const answers = list(it.answer);
      if (typeof it.linkId === 'string') m.set(it.linkId, [...(m.get(it.linkId) ?? []), ...answers]);
      walk(list(it.item), depth + 1);
      for (const a of answers) walk(list(a.item), depth + 1);
    }
  };
  walk(list(w.qr.item), 0);
  return (w.answers = m);
}

/** `answerCoding` -> `valueCoding`: the answer value an enableWhen compares with. */
function conditionKey(c: Json): string | undefined {
  for (const k in c) if (k.startsWith('answer') && k.length > 6) return `value${k.slice(6)}`;
  return undefined;
}

function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (isObj(a) && isObj(b) && typeof a.value === 'number' && typeof b.value === 'number') return a.value - b.value; // Quantity
  return undefined;
}

/** Whether enableWhen enables the item (true without enableWhen; R4 operators). */
function isEnabled(def: QItemDef, w: Walk): boolean {
  const conditions = Array.isArray(def.enableWhen) ? def.enableWhen.filter(isObj) : [];
  if (conditions.length === 0) return true;
  const results = conditions.map((c) => {
    const answers = typeof c.question === 'string' ? (answersOf(w).get(c.question) ?? []) : [];
    if (c.operator === 'exists') return (answers.length > 0) === (c.answerBoolean === true);
    const key = conditionKey(c);
    if (key === undefined) return false;
    const expected = c[`answer${key.slice(5)}`];
    const values = answers.map((a) => a[key]).filter((v) => v !== undefined);
    switch (c.operator) {
      case '=':
        return values.some((v) => sameValue(key, v, expected));
      case '!=':
        return values.some((v) => !sameValue(key, v, expected));
      case '>':
      case '<':
      case '>=':
      case '<=':
        return values.some((v) => {
          const d = compare(v, expected);
          if (d === undefined) return false;
          return c.operator === '>' ? d > 0 : c.operator === '<' ? d < 0 : c.operator === '>=' ? d >= 0 : d <= 0;
        });
      default:
        return false;
    }
  });
  return def.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
}

function checkItems(items: Json[], listPath: string, defs: QItemDef[], w: Walk, depth: number): void {
  if (depth > 50) return;
  const out = w.out;
  const position = positionsOf(defs);
  let last = -1;
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const at = `${listPath}[${i}]`;
    const linkId = item.linkId;
    if (typeof linkId !== 'string') return; // linkId 1..1: the cardinality check reports it
    const pos = position.get(linkId);
    if (pos === undefined) {
      const elsewhere = parentsOf(w.q).get(linkId);
      const top = elsewhere === '(top level)';
      const detail = elsewhere ? ` (it is an item of ${top ? 'the top level' : `"${elsewhere}"`}, not of this place)` : '';
      const detailFr = elsewhere ? ` (c’est un élément ${top ? 'du premier niveau' : `de « ${elsewhere} »`}, pas de cet endroit)` : '';
      out.push({ rule: CODES.QR_ITEM_UNKNOWN, path: `${at}.linkId`, args: { linkId, detail, detailFr } });
      return;
    }
    const def = defs[pos]!;
    if (pos < last) out.push({ rule: CODES.QR_ITEM_ORDER, path: `${at}.linkId`, args: { linkId, previous: String(defs[last]!.linkId) } });
    else if (seen.has(linkId) && def.repeats !== true) out.push({ rule: CODES.QR_ITEM_REPEATED, path: `${at}.linkId`, args: { linkId } });
    last = Math.max(last, pos);
    seen.add(linkId);
    if (typeof item.text === 'string' && typeof def.text === 'string' && item.text !== def.text) {
      out.push({ rule: CODES.QR_ITEM_TEXT, path: `${at}.text`, args: { linkId, text: item.text, expected: def.text } });
    }
    if (def.enableWhen !== undefined && Array.isArray(item.answer) && item.answer.length && !isEnabled(def, w)) {
      out.push({ rule: CODES.QR_ITEM_DISABLED, path: `${at}.answer`, args: { linkId } });
    }
    checkItem(item, at, def, w, depth);
  });
  if (!w.completed) return;
  for (const d of defs) {
    if (d.required === true && typeof d.linkId === 'string' && !seen.has(d.linkId) && d.type !== 'display' && isEnabled(d, w)) {
      out.push({ rule: CODES.QR_REQUIRED, path: listPath.replace(/\.item$/, '') || listPath, args: { linkId: d.linkId } });
    }
  }
}

function checkItem(item: Json, at: string, def: QItemDef, w: Walk, depth: number): void {
  const out = w.out;
  const type = def.type ?? '';
  const answers = list(item.answer);
  const children = Array.isArray(def.item) ? def.item : NO_DEFS;
  if (type === 'group' || type === 'display' || type === 'question') {
    if (answers.length) out.push({ rule: CODES.QR_ANSWER_NOT_ALLOWED, path: `${at}.answer`, args: { linkId: String(def.linkId), type } });
    if (type === 'group' && def.required === true && w.completed && list(item.item).length === 0) constraint(w, at, def, 'a required group has no items', 'un groupe obligatoire n’a aucun élément');
    checkItems(list(item.item), `${at}.item`, children, w, depth + 1);
    return;
  }
  // A question: its children are answered under each answer (QuestionnaireResponse.item.answer.item).
  if (Array.isArray(item.item) && item.item.length) {
    out.push({ rule: CODES.QR_ITEM_NESTING, path: `${at}.item`, args: { linkId: String(def.linkId) } });
  }
  if (answers.length > 1 && def.repeats !== true) out.push({ rule: CODES.QR_ANSWER_MULTIPLE, path: `${at}.answer[1]`, args: { linkId: String(def.linkId), count: String(answers.length) } });
  const minOccurs = extValue(def, 'questionnaire-minOccurs');
  const maxOccurs = extValue(def, 'questionnaire-maxOccurs');
  if (typeof minOccurs === 'number' && answers.length < minOccurs) constraint(w, at, def, `the minimum number of answers is ${minOccurs}, but it has ${answers.length}`, `le nombre minimal de réponses est ${minOccurs}, il y en a ${answers.length}`);
  if (typeof maxOccurs === 'number' && answers.length > maxOccurs) constraint(w, at, def, `the maximum number of answers is ${maxOccurs}, but it has ${answers.length}`, `le nombre maximal de réponses est ${maxOccurs}, il y en a ${answers.length}`);
  const options = list(def.answerOption);
  const optionKeys = new Set(options.map(valueKey).filter((k): k is string => k !== undefined));
  let allowed: string[] | undefined = ANSWER_TYPES[type];
  if (allowed && (type === 'choice' || type === 'open-choice') && optionKeys.size) {
    // R4 answerOption may be integer, date, time, string, Coding or Reference: answers take the options' types.
    allowed = type === 'open-choice' ? [...new Set([...optionKeys, 'valueString'])] : [...optionKeys];
  } else if (type === 'choice' && def.answerValueSet === undefined) {
    // A choice with neither options nor value set says nothing of its answers' type (the HL7
    // validator accepts any: R5 lets choice answers be strings, integers, dates...).
    allowed = undefined;
  }
  answers.forEach((a, j) => {
    const key = valueKey(a);
    const answerAt = `${at}.answer[${j}]`;
    // A value of a type no answer can have is reported by the structure check alone.
    if (key !== undefined && allowed && !allowed.includes(key)) {
      if (ANSWER_VALUE_KEYS.has(key)) out.push({ rule: CODES.QR_ANSWER_TYPE, path: `${answerAt}.${key}`, args: { linkId: String(def.linkId), type, allowed: allowed.join(' or '), found: key } });
    } else if (key !== undefined && options.length && (type !== 'open-choice' || key !== 'valueString')) {
      const value = a[key];
      if (!options.some((o) => o[key] !== undefined && sameValue(key, o[key], value))) {
        const valid = options.map((o) => { const k = valueKey(o); return k ? shown(k, o[k]) : '?'; });
        out.push({ rule: CODES.QR_ANSWER_OPTION, path: `${answerAt}.${key}`, args: { linkId: String(def.linkId), value: shown(key, value), options: valid.slice(0, 8).join(', ') + (valid.length > 8 ? ', …' : '') } });
      }
    } else if (key === 'valueCoding' && !options.length && typeof def.answerValueSet === 'string' && w.checkCode && isObj(a.valueCoding)) {
      const coding = a.valueCoding as { system?: string; code?: string };
      const r = w.checkCode(def.answerValueSet, coding);
      if (r === 'invalid') out.push({ rule: CODES.QR_ANSWER_VALUESET, path: `${answerAt}.valueCoding`, args: { linkId: String(def.linkId), value: shown(key, coding), valueSet: def.answerValueSet } });
    }
    if (key !== undefined) checkAnswerValue(w, def, key, a[key], `${answerAt}.${key}`);
    checkItems(list(a.item), `${answerAt}.item`, children, w, depth + 1);
  });
}

const SDX = 'http://hl7.org/fhir/StructureDefinition/';

/** The value of an item's extension `http://hl7.org/fhir/StructureDefinition/<name>`. */
function extValue(def: QItemDef, name: string): unknown {
  for (const e of def.extension ?? []) {
    if (!isObj(e) || e.url !== SDX + name) continue;
    for (const k in e) if (k.startsWith('value')) return e[k];
  }
  return undefined;
}

function constraint(w: Walk, path: string, def: QItemDef, detail: string, detailFr: string): void {
  w.out.push({ rule: CODES.QR_ANSWER_CONSTRAINT, path, args: { linkId: String(def.linkId), detail, detailFr } });
}

/** Compares two values of one type: numbers, or dates/times at their shared precision. */
function compareValues(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Dates and times compare as ISO strings: a partial limit stands for its first instant
  // (2022-06-30 is after a maximum of 2022-06), as the HL7 validator reads it.
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

/** The constraints a Questionnaire item's extensions put on one answer value. */
function checkAnswerValue(w: Walk, def: QItemDef, key: string, value: unknown, at: string): void {
  const min = extValue(def, 'minValue');
  const max = extValue(def, 'maxValue');
  if (min !== undefined && (compareValues(value, min) ?? 0) < 0) constraint(w, at, def, `the value ${JSON.stringify(value)} is less than the allowed minimum ${JSON.stringify(min)}`, `la valeur ${JSON.stringify(value)} est inférieure au minimum autorisé ${JSON.stringify(min)}`);
  if (max !== undefined && (compareValues(value, max) ?? 0) > 0) constraint(w, at, def, `the value ${JSON.stringify(value)} is greater than the allowed maximum ${JSON.stringify(max)}`, `la valeur ${JSON.stringify(value)} est supérieure au maximum autorisé ${JSON.stringify(max)}`);
  if (typeof value === 'string' && key === 'valueString') {
    const minLength = extValue(def, 'minLength');
    if (typeof minLength === 'number' && value.length < minLength) constraint(w, at, def, `the answer is shorter than the minimum length ${minLength}`, `la réponse est plus courte que la longueur minimale ${minLength}`);
    if (typeof def.maxLength === 'number' && value.length > def.maxLength) constraint(w, at, def, `the answer is longer than the maximum length ${def.maxLength}`, `la réponse dépasse la longueur maximale ${def.maxLength}`);
    const regex = extValue(def, 'regex');
    if (typeof regex === 'string') {
      let re: RegExp | undefined;
      try {
        re = new RegExp(`^(?:${regex})$`, 'u');
      } catch {
        re = undefined;
      }
      if (re && !re.test(value)) constraint(w, at, def, `the answer does not match the expected format (regex ${regex})`, `la réponse ne respecte pas le format attendu (regex ${regex})`);
    }
  }
  const places = extValue(def, 'maxDecimalPlaces');
  if (typeof places === 'number') {
    const n = key === 'valueDecimal' ? value : key === 'valueQuantity' && isObj(value) ? value.value : undefined;
    const text = typeof n === 'number' ? String(n) : undefined;
    const dot = text?.indexOf('.') ?? -1;
    if (text && dot >= 0 && text.length - dot - 1 > places) constraint(w, at, def, `the value ${text} has more than ${places} decimal places`, `la valeur ${text} a plus de ${places} décimales`);
  }
  if (key === 'valueReference' && isObj(value) && typeof value.reference === 'string') {
    // The type a reference names (`Type/id`, `…/Type/id`): a resource type, one of questionnaire-referenceResource's when given.
    const m = /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+$/.exec(value.reference.replace(/\/_history\/[^/]+$/, ''));
    const allowed = (def.extension ?? []).filter((e) => isObj(e) && e.url === SDX + 'questionnaire-referenceResource').map((e) => e.valueCode);
    if (m && w.isResourceType && !w.isResourceType(m[1]!)) constraint(w, at, def, `the resource type ${m[1]} in the reference ${value.reference} is not a resource type`, `le type ${m[1]} de la référence ${value.reference} n’est pas un type de ressource`);
    else if (m && allowed.length && !allowed.includes(m[1]!)) constraint(w, at, def, `the resource type ${m[1]} in the reference ${value.reference} is not allowed (allowed: ${allowed.join(', ')})`, `le type ${m[1]} de la référence ${value.reference} n’est pas autorisé (autorisés : ${allowed.join(', ')})`);
  }
  if (key === 'valueQuantity' && isObj(value) && typeof value.value === 'number') checkQuantityAnswer(w, def, value, at);
  if (key === 'valueAttachment' && isObj(value)) {
    const maxSize = extValue(def, 'maxSize');
    const size = typeof value.size === 'number' ? value.size : typeof value.data === 'string' ? Math.floor((value.data.replace(/=+$/, '').length * 3) / 4) : undefined;
    if (typeof maxSize === 'number' && size !== undefined && size > maxSize) constraint(w, at, def, `the attachment is too large (${size} bytes, allowed ${maxSize})`, `la pièce jointe est trop grande (${size} octets, ${maxSize} autorisés)`);
    const types = (def.extension ?? []).filter((e) => isObj(e) && e.url === SDX + 'mimeType').map((e) => e.valueCode);
    if (types.length && typeof value.contentType === 'string' && !types.includes(value.contentType)) constraint(w, at, def, `the mime type ${value.contentType} is not allowed (allowed: ${types.join(', ')})`, `le type MIME ${value.contentType} n’est pas autorisé (autorisés : ${types.join(', ')})`);
  }
}

const SDC = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/';

/**
 * A Quantity answer: SDC minQuantity / maxQuantity (compared after UCUM conversion; a limit
 * that cannot be compared — no formal unit, units of different kinds — is an error, as in the
 * HL7 validator), and the unit in questionnaire-unitValueSet when one is given.
 */
function checkQuantityAnswer(w: Walk, def: QItemDef, q: Record<string, unknown>, at: string): void {
  for (const e of def.extension ?? []) {
    if (!isObj(e) || !isObj(e.valueQuantity) || typeof e.valueQuantity.value !== 'number') continue;
    const bound = e.url === `${SDC}sdc-questionnaire-minQuantity` ? 'min' : e.url === `${SDC}sdc-questionnaire-maxQuantity` ? 'max' : undefined;
    if (!bound) continue;
    const limit = e.valueQuantity;
    const r = compareQuantity(q, limit);
    const what = bound === 'min' ? 'minimum' : 'maximum';
    const l = describeQuantity(limit);
    const v = describeQuantity(q);
    if (r.kind === 'compared') {
      if (bound === 'min' ? r.diff < 0 : r.diff > 0) {
        constraint(w, at, def, `the quantity ${v} is ${bound === 'min' ? 'less' : 'greater'} than the allowed ${what} ${l}`, `la quantité ${v} est ${bound === 'min' ? 'inférieure' : 'supérieure'} au ${what} autorisé ${l}`);
      }
    } else if (r.kind === 'no-units') {
      constraint(w, at, def, `the quantity ${v} cannot be compared with the allowed ${what} ${l}: no formal unit (system and code) on both`, `la quantité ${v} ne peut pas être comparée au ${what} autorisé ${l} : les deux n’ont pas d’unité formelle (system et code)`);
    } else {
      constraint(w, at, def, `the quantity ${v} cannot be compared with the allowed ${what} ${l}: the units are of different kinds`, `la quantité ${v} ne peut pas être comparée au ${what} autorisé ${l} : unités de natures différentes`);
    }
  }
  const unitVs = extValue(def, 'questionnaire-unitValueSet');
  if (typeof unitVs === 'string' && w.checkCode) {
    // No code: no unit the value set could hold.
    const status = typeof q.code === 'string' ? w.checkCode(unitVs, { system: typeof q.system === 'string' ? q.system : undefined, code: q.code }) : 'invalid';
    if (status === 'invalid') {
      const unit = `${typeof q.unit === 'string' ? q.unit : ''} (${q.system === UCUM ? 'UCUM' : String(q.system ?? '?')}#${String(q.code ?? '')})`;
      constraint(w, at, def, `the unit ${unit} is not in the unit value set ${unitVs}`, `l’unité ${unit} n’est pas dans le jeu de valeurs des unités ${unitVs}`);
    }
  }
}

/**
 * A Questionnaire's own consistency that no R4 invariant states: an item's enableWhen may not
 * depend on a question inside that item (the item would have to be shown for its own condition
 * to be answered), as the HL7 validator checks.
 */
export function checkQuestionnaireDefinition(q: Json, path: string): QrFinding[] {
  const out: QrFinding[] = [];
  const walk = (items: Json[], at: string, depth: number): void => {
    if (depth > 64) return;
    items.forEach((item, i) => {
      const here = `${at}[${i}]`;
      const inner = new Set<string>();
      const collect = (xs: Json[], d: number): void => {
        if (d > 64) return;
        for (const x of xs) {
          if (typeof x.linkId === 'string') inner.add(x.linkId);
          collect(list(x.item), d + 1);
        }
      };
      collect(list(item.item), 0);
      for (const ew of list(item.enableWhen)) {
        if (typeof ew.question === 'string' && inner.has(ew.question)) {
          out.push({ rule: CODES.Q_ENABLEWHEN_INNER, path: here, args: { linkId: String(item.linkId), question: ew.question } });
        }
      }
      walk(list(item.item), `${here}.item`, depth + 1);
    });
  };
  walk(list(q.item), `${path}.item`, 0);
  return out;
}
