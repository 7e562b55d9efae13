// French health identifiers: NIR/NIA, FINESS, idNatPs, idNatSt. Pure functions, shared by
// the rules and (later) the producer-side generator.

/** Identifier systems of the TDDUI IG and FR Core. */
export const SYSTEMS = {
  INS_NIR: 'urn:oid:1.2.250.1.213.1.4.8',
  INS_NIA: 'urn:oid:1.2.250.1.213.1.4.9',
  INS_NIR_TEST: 'urn:oid:1.2.250.1.213.1.4.10',
  INS_NIA_TEST: 'urn:oid:1.2.250.1.213.1.4.11',
  LOCAL_USAGER: 'https://identifiant-medicosocial-localusager.esante.gouv.fr',
  ID_NAT_PS: 'urn:oid:1.2.250.1.71.4.2.1',
  ID_NAT_ST: 'urn:oid:1.2.250.1.71.4.2.2',
} as const;

export const NIR_SYSTEMS = new Set<string>([SYSTEMS.INS_NIR, SYSTEMS.INS_NIA, SYSTEMS.INS_NIR_TEST, SYSTEMS.INS_NIA_TEST]);

/** Business identifier system -> tag of the value layout `3+FINESS/idLocalUsager-<TAG>-<n>` (rule R3). */
export const BUSINESS_ID_TAGS: Record<string, string> = {
  'https://identifiant-medicosocial-sejour.esante.gouv.fr': 'SEJOUR',
  'https://identifiant-medicosocial-evenement.esante.gouv.fr': 'EVN',
  'https://identifiant-medicosocial-evaluation.esante.gouv.fr': 'EVAL',
  'https://identifiant-medicosocial-transportusager.esante.gouv.fr': 'TPPat',
  'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr': 'TPPro',
  'https://identifiant-medicosocial-projetpersonnalise.esante.gouv.fr': 'PPER',
  'https://identifiant-medicosocial-attente.esante.gouv.fr': 'ATTE',
  'https://identifiant-medicosocial-besoin.esante.gouv.fr': 'BESO',
  'https://identifiant-medicosocial-objectif.esante.gouv.fr': 'OBJE',
  'https://identifiant-medicosocial-action.esante.gouv.fr': 'ACTI',
  'https://identifiant-medicosocial-moyenressource.esante.gouv.fr': 'MORE',
  'https://identifiant-medicosocial-prestation.esante.gouv.fr': 'PRES',
  'https://identifiant-medicosocial-bilan.esante.gouv.fr': 'BILA',
};

const RE_NIR = /^([1-478])([0-9]{2})([0-9]{2})(2[AB]|[0-9]{2})([0-9]{3})([0-9]{3})([0-9]{2})$/;

export interface NirParts {
  sex: string;
  year: string;
  month: string;
  department: string;
  key: number;
  /** The 13-character body with 2A/2B replaced by 19/18, as a number string. */
  numeric: string;
}

export function parseNir(value: string): NirParts | undefined {
  const m = RE_NIR.exec(value);
  if (!m) return undefined;
  const body = value.slice(0, 13);
  const numeric = body.replace(/^(.{5})2A/, '$119').replace(/^(.{5})2B/, '$118');
  return { sex: m[1], year: m[2], month: m[3], department: m[4], key: Number(m[7]), numeric };
}

/** NIR control key: 97 − (number mod 97), Corsica 2A → 19, 2B → 18. */
export function nirKey(body13: string): number {
  const numeric = body13.replace(/^(.{5})2A/, '$119').replace(/^(.{5})2B/, '$118');
  return 97 - Number(BigInt(numeric) % 97n);
}

/** Luhn check digit of a digit string (the digit to append). */
export function luhnKey(digits: string): number {
  let sum = 0;
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

const RE_FINESS = /^(?:[0-9]{2}|2[AB])[0-9]{7}$/;

/** 9 characters shaped as a FINESS number (department, 2A/2B in Corsica, then digits); the key is not checked. */
export function isFinessShaped(v: string): boolean {
  return RE_FINESS.test(v);
}

export type FinessCheck = { ok: true } | { ok: false; reason: 'format' } | { ok: false; reason: 'key'; expected: number; found: number };

/**
 * FINESS numbers: 9 characters, department (2 digits, or 2A/2B in Corsica) + 6 digits + a
 * Luhn key. The key of Corsican numbers is not checked: no public source says how 2A/2B enter it.
 */
export function checkFiness(finess: string): FinessCheck {
  if (!RE_FINESS.test(finess)) return { ok: false, reason: 'format' };
  if (/^2[AB]/.test(finess)) return { ok: true };
  const expected = luhnKey(finess.slice(0, 8));
  const found = Number(finess[8]);
  return expected === found ? { ok: true } : { ok: false, reason: 'key', expected, found };
}

/** `3` + FINESS + `/` + local id: returns the FINESS, or undefined when the layout is wrong. */
export function finessOfLocalId(value: string): string | undefined {
  const m = /^3((?:[0-9]{2}|2[AB])[0-9]{7})\/\S.*$/.exec(value);
  return m ? m[1] : undefined;
}

/** idNatPs layouts (TRE_G08): 8+RPPS, 0+ADELI, 3+FINESS/id. */
export function checkIdNatPs(value: string): { ok: boolean; bareRpps?: boolean } {
  if (/^8[0-9]{11}$/.test(value)) return { ok: true };
  if (/^0[0-9A-Z]{9}$/.test(value)) return { ok: true };
  if (finessOfLocalId(value)) return { ok: true };
  return { ok: false, bareRpps: /^[0-9]{11}$/.test(value) };
}

/** idNatSt layouts (TRE_G07): 1+FINESS, 2+SIREN, 3+SIRET, 4+RPPS rang, 5+ADELI rang. */
export function checkIdNatSt(value: string): { ok: boolean; finess?: string } {
  const f = /^1((?:[0-9]{2}|2[AB])[0-9]{7})$/.exec(value);
  if (f) return { ok: true, finess: f[1] };
  if (/^2[0-9]{9}$/.test(value) || /^3[0-9]{14}$/.test(value) || /^4[0-9]{11}\/\S+$/.test(value) || /^5[0-9A-Z]{9}\/\S+$/.test(value)) {
    return { ok: true };
  }
  return { ok: false };
}
