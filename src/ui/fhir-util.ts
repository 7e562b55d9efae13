// Reading the TDDUI resources for display: names, identifiers, references, dates, codes.
// Everything here is defensive — stored data was validated, but a page must never crash on
// an unexpected shape (rejected submissions are shown too).

export type Json = Record<string, unknown>;

export const TDDUI_SD = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/';
export const SYS = {
  localUsager: 'https://identifiant-medicosocial-localusager.esante.gouv.fr',
  sejour: 'https://identifiant-medicosocial-sejour.esante.gouv.fr',
  evenement: 'https://identifiant-medicosocial-evenement.esante.gouv.fr',
  evaluation: 'https://identifiant-medicosocial-evaluation.esante.gouv.fr',
  transportUsager: 'https://identifiant-medicosocial-transportusager.esante.gouv.fr',
  transportPro: 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr',
  projet: 'https://identifiant-medicosocial-projetpersonnalise.esante.gouv.fr',
  attente: 'https://identifiant-medicosocial-attente.esante.gouv.fr',
  objectif: 'https://identifiant-medicosocial-objectif.esante.gouv.fr',
  besoin: 'https://identifiant-medicosocial-besoin.esante.gouv.fr',
  action: 'https://identifiant-medicosocial-action.esante.gouv.fr',
  moyen: 'https://identifiant-medicosocial-moyenressource.esante.gouv.fr',
  prestation: 'https://identifiant-medicosocial-prestation.esante.gouv.fr',
  bilan: 'https://identifiant-medicosocial-bilan.esante.gouv.fr',
  insNir: 'urn:oid:1.2.250.1.213.1.4.8',
  insNia: 'urn:oid:1.2.250.1.213.1.4.9',
  insNirTest: 'urn:oid:1.2.250.1.213.1.4.10',
  insNirDemo: 'urn:oid:1.2.250.1.213.1.4.11',
  idNatSt: 'urn:oid:1.2.250.1.71.4.2.2',
  idNatPs: 'urn:oid:1.2.250.1.71.4.2.1',
} as const;

export const EXT = {
  identityReliability: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
  birthPlace: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
  birthOrder: TDDUI_SD + 'tddui-birth-order',
  careplanReference: TDDUI_SD + 'tddui-careplan-reference',
  evaluationReference: TDDUI_SD + 'tddui-evaluation-reference',
  attachment: TDDUI_SD + 'tddui-attachment',
  discriminator: TDDUI_SD + 'tddui-discriminator',
  comment: TDDUI_SD + 'tddui-comment',
  eventLabel: TDDUI_SD + 'tddui-event-label',
  eventReason: TDDUI_SD + 'tddui-event-reason',
  eventReport: TDDUI_SD + 'tddui-event-report',
  eventCancelReason: TDDUI_SD + 'tddui-event-cancel-reason',
  entryModeLabel: TDDUI_SD + 'tddui-entry-mode-label',
  exitModeLabel: TDDUI_SD + 'tddui-exit-mode-label',
  admissionDate: TDDUI_SD + 'tddui-admission-date',
  plannedEndDate: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate',
  plannedStartDate: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedStartDate',
} as const;

import { isObject as isObj } from '../fhir/json.js';
export { isObj };

export function arr(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObj) : isObj(v) ? [v] : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

export function identifiers(r: Json): Json[] {
  return arr(r.identifier);
}

export function identifierValue(r: Json, system: string): string | undefined {
  return str(identifiers(r).find((i) => i.system === system)?.value);
}

/** The first business identifier value (any system). */
export function firstIdentifier(r: Json): string | undefined {
  return str(identifiers(r)[0]?.value);
}

export function hasSystem(r: Json, ...systems: string[]): boolean {
  return identifiers(r).some((i) => systems.includes(str(i.system) ?? ''));
}

export function hasProfile(r: Json, id: string): boolean {
  const p = isObj(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile : [];
  return p.some((u) => typeof u === 'string' && (u === TDDUI_SD + id || u.startsWith(TDDUI_SD + id + '|')));
}

export function extensions(r: unknown, url: string): Json[] {
  return isObj(r) ? arr(r.extension).filter((e) => e.url === url) : [];
}

export function extString(r: unknown, url: string): string | undefined {
  const e = extensions(r, url)[0];
  return e ? str(e.valueString ?? e.valueDateTime ?? e.valueDate ?? e.valueCode) : undefined;
}

export function extReference(r: unknown, url: string): string[] {
  return extensions(r, url)
    .map((e) => (isObj(e.valueReference) ? str(e.valueReference.reference) : undefined))
    .filter((x): x is string => !!x);
}

/** `Type/id` of a reference, whatever its form (relative, absolute, with _history). */
export function refKey(reference: string | undefined): string | undefined {
  if (!reference) return undefined;
  const parts = reference.split('?')[0].split('/');
  const h = parts.indexOf('_history');
  const p = h >= 0 ? parts.slice(0, h) : parts;
  if (p.length < 2) return undefined;
  const type = p[p.length - 2];
  const id = p[p.length - 1];
  return /^[A-Z][A-Za-z]+$/.test(type) && id ? `${type}/${id}` : undefined;
}

export function refOf(v: unknown): string | undefined {
  return isObj(v) ? refKey(str(v.reference)) : undefined;
}

export function refsOf(v: unknown): string[] {
  return arr(v)
    .map((x) => refKey(str(x.reference)))
    .filter((x): x is string => !!x);
}

export function keyOf(r: Json): string {
  return `${String(r.resourceType)}/${String(r.id)}`;
}

// ---- names

export function humanName(n: Json | undefined): string {
  if (!n) return '';
  if (typeof n.text === 'string' && n.text.trim()) return n.text;
  const given = Array.isArray(n.given) ? n.given.filter((g) => typeof g === 'string').join(' ') : '';
  const prefix = Array.isArray(n.prefix) ? n.prefix.filter((g) => typeof g === 'string').map(civilite).join(' ') : '';
  return [prefix, given, str(n.family)].filter(Boolean).join(' ');
}

function civilite(p: string): string {
  const m: Record<string, string> = { MME: 'Mme', M: 'M.', MLLE: 'Mlle', DR: 'Dr' };
  return m[p.toUpperCase()] ?? p;
}

/** Display name of a Patient / Practitioner / RelatedPerson: the official name first. */
export function personName(r: Json | undefined): string {
  if (!r) return '';
  const names = arr(r.name);
  const n = names.find((x) => x.use === 'official') ?? names.find((x) => x.use === 'usual') ?? names[0];
  return humanName(n) || '(sans nom)';
}

export interface PatientNames {
  /** The name people use: the usage name (`usual`) when there is one, else the birth name. */
  shown: string;
  /** The birth name (`official`), when it differs from the name shown: "née DUPONT" or the full name. */
  birth?: string;
}

/**
 * How the UI names a usager everywhere (lists, page title, sort order): the usage name, with
 * the birth name beside it when it differs. A usage name without given names or civility
 * takes those of the birth name (TDDUI's usualName often carries the family name only).
 */
export function patientNames(p: Json): PatientNames {
  const names = arr(p.name);
  const official = names.find((x) => x.use === 'official');
  const usual = names.find((x) => x.use === 'usual');
  const base = official ?? names[0];
  if (!usual) return { shown: humanName(base) || '(sans nom)' };
  const merged: Json = typeof usual.text === 'string' && usual.text.trim() ? usual : { ...usual, given: Array.isArray(usual.given) && usual.given.length ? usual.given : base?.given, prefix: Array.isArray(usual.prefix) && usual.prefix.length ? usual.prefix : base?.prefix };
  const shown = humanName(merged) || humanName(base) || '(sans nom)';
  if (!base) return { shown };
  const birthFull = humanName(base);
  if (!birthFull || birthFull === shown) return { shown };
  const sameGiven = JSON.stringify(merged.given ?? null) === JSON.stringify(base.given ?? null);
  if (sameGiven && typeof base.family === 'string' && base.family !== usual.family && !(typeof usual.text === 'string' && usual.text.trim())) {
    const born = p.gender === 'female' ? 'née' : p.gender === 'male' ? 'né' : 'nom de naissance :';
    return { shown, birth: `${born} ${base.family}` };
  }
  return { shown, birth: `nom de naissance : ${birthFull}` };
}

export function usualName(r: Json): string | undefined {
  const n = arr(r.name).find((x) => x.use === 'usual');
  return n ? humanName(n) : undefined;
}

export function displayOf(r: Json | undefined): string {
  if (!r) return '';
  switch (r.resourceType) {
    case 'Patient':
      return patientNames(r).shown;
    case 'Practitioner':
    case 'RelatedPerson':
      return personName(r);
    case 'Organization':
      return str(r.name) ?? firstIdentifier(r) ?? String(r.id);
    default:
      return str(r.title) ?? firstIdentifier(r) ?? `${String(r.resourceType)}/${String(r.id)}`;
  }
}

// ---- codes

export function codings(cc: unknown): Json[] {
  return isObj(cc) ? arr(cc.coding) : [];
}

export function codeText(cc: unknown): string | undefined {
  if (!isObj(cc)) return undefined;
  if (typeof cc.text === 'string' && cc.text) return cc.text;
  const c = arr(cc.coding)[0];
  return c ? (str(c.display) ?? str(c.code)) : undefined;
}

export function codesText(v: unknown): string {
  return arr(v)
    .map(codeText)
    .filter(Boolean)
    .join(', ');
}

// ---- INS

export interface InsStatus {
  /** `VALI`, `QUAL`, `PROV`, `RECUP`… from the FR Core identity-reliability extension. */
  reliability?: string;
  reliabilityLabel?: string;
  ins?: { kind: string; value: string };
}

const RELIABILITY: Record<string, string> = {
  PROV: 'Identité provisoire',
  RECUP: 'Identité récupérée',
  VALI: 'Identité validée',
  QUAL: 'Identité qualifiée',
};

export function insStatus(p: Json): InsStatus {
  const out: InsStatus = {};
  const rel = extensions(p, EXT.identityReliability)[0];
  if (rel) {
    const status = arr(rel.extension).find((e) => e.url === 'identityStatus');
    const code = isObj(status?.valueCoding) ? str(status!.valueCoding.code) : undefined;
    if (code) {
      out.reliability = code;
      out.reliabilityLabel = RELIABILITY[code] ?? code;
    }
  }
  const kinds: [string, string][] = [
    [SYS.insNir, 'INS-NIR'],
    [SYS.insNia, 'INS-NIA'],
    [SYS.insNirTest, 'INS-NIR de test'],
    [SYS.insNirDemo, 'INS-NIR de démonstration'],
  ];
  for (const [system, kind] of kinds) {
    const v = identifierValue(p, system);
    if (v) {
      out.ins = { kind, value: v };
      break;
    }
  }
  return out;
}

// ---- dates (shown as written: the offset in a FHIR dateTime is the facility's local time)

const TZ = 'Europe/Paris';

/** `2023-04-14` → `14/04/2023`; `2023-04-14T10:30:00+02:00` → `14/04/2023 10:30`; partial dates kept. */
export function frDate(v: unknown): string {
  const s = str(v);
  if (!s) return '';
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}))?)?)?/.exec(s);
  if (!m) return s;
  const [, y, mo, d, h, mi] = m;
  if (!mo) return y;
  if (!d) return `${mo}/${y}`;
  return h ? `${d}/${mo}/${y} ${h}:${mi}` : `${d}/${mo}/${y}`;
}

// Number formatters built once. `toLocaleString('fr-FR', options)` builds an Intl.NumberFormat per
// call (0.3 ms each on this loaded machine, against about 1 µs for a kept one); without options V8
// caches it, so frNumber only keeps the pages on one formatter.
const numberFmt = new Intl.NumberFormat('fr-FR');
const decimal1Fmt = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });

/** A number as French readers write it (`12 345`), as `toLocaleString('fr-FR')`. */
export function frNumber(n: number): string {
  return numberFmt.format(n);
}

/** A number with at most one decimal (`1,4`), as `toLocaleString('fr-FR', { maximumFractionDigits: 1 })`. */
export function frDecimal1(n: number): string {
  return decimal1Fmt.format(n);
}

// Collators built once, as the formatters above: `a.localeCompare(b, 'fr', { numeric: true })`
// builds an ICU collator on every comparison (the options defeat V8's cache) — about 20 ms of
// CPU per usager page with a projet personnalisé at 20,000 usagers, sorting its elements.
const frNumericCollator = new Intl.Collator('fr', { numeric: true });
const frCollator = new Intl.Collator('fr');

/** French order, numbers as numbers (`…-BESO-9` before `…-BESO-10`), as `a.localeCompare(b, 'fr', { numeric: true })`. */
export const frCompareNumeric: (a: string, b: string) => number = frNumericCollator.compare;

/** French order, as `a.localeCompare(b, 'fr')`. */
export const frCompare: (a: string, b: string) => number = frCollator.compare;

const instantFmt = new Intl.DateTimeFormat('fr-FR', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** A server instant (UTC) shown in French local time. */
export function frInstant(v: unknown): string {
  const s = str(v);
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : instantFmt.format(d);
}

/** `YYYY-MM-DD` of a FHIR date/dateTime as written, or undefined. */
export function dayOf(v: unknown): string | undefined {
  const s = str(v);
  const m = s ? /^(\d{4}-\d{2}-\d{2})/.exec(s) : null;
  return m ? m[1] : undefined;
}

/** Minutes since midnight of a FHIR dateTime as written (local time), or undefined. */
export function minutesOf(v: unknown): number | undefined {
  const s = str(v);
  const m = s ? /T(\d{2}):(\d{2})/.exec(s) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** Days between two `YYYY-MM-DD` (UTC arithmetic on calendar days). */
export function dayNumber(day: string): number {
  return Math.floor(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / 86400000);
}

export function dayFromNumber(n: number): string {
  return new Date(n * 86400000).toISOString().slice(0, 10);
}

/** Monday of the ISO week containing `day`. */
export function mondayOf(day: string): string {
  const n = dayNumber(day);
  const dow = (new Date(n * 86400000).getUTCDay() + 6) % 7; // 0 = Monday
  return dayFromNumber(n - dow);
}

const STATUS_FR: Record<string, string> = {
  planned: 'prévu',
  arrived: 'arrivé',
  triaged: 'trié',
  'in-progress': 'en cours',
  onleave: 'en permission',
  finished: 'terminé',
  cancelled: 'annulé',
  'entered-in-error': 'saisi par erreur',
  unknown: 'inconnu',
  draft: 'brouillon',
  requested: 'demandé',
  received: 'reçu',
  accepted: 'accepté',
  rejected: 'rejeté',
  ready: 'prêt',
  'on-hold': 'suspendu',
  failed: 'échoué',
  completed: 'terminé',
  active: 'actif',
  revoked: 'révoqué',
  proposed: 'proposé',
  achieved: 'atteint',
  sustaining: 'maintenu',
  'in-review': 'en révision',
  amended: 'modifié',
  stopped: 'arrêté',
  inactive: 'inactif',
};

export function frStatus(s: unknown): string {
  const v = str(s);
  return v ? (STATUS_FR[v] ?? v) : '';
}
