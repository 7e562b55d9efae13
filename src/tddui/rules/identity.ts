// Identity rules: NIR/NIA, FINESS, local usager id, idNatPs/idNatSt, birth order (I2, I5, I6,
// I8, I9, I11).
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { makeIssue } from '../../fhir/outcome/rule.js';
import { TDDUI_RULES as R } from './catalogue.js';
import { identifiersOf, isObject, asArray, type RuleContext } from './context.js';
import { checkFiness, checkIdNatPs, checkIdNatSt, finessOfLocalId, nirKey, NIR_SYSTEMS, parseNir, SYSTEMS } from './identifiers.js';

const BIRTH_ORDER_URL = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-birth-order';

/** Checks the FINESS key once per distinct FINESS (it is repeated in every business identifier). */
export class FinessChecker {
  private readonly seen = new Set<string>();
  constructor(private readonly out: ValidationIssue[]) {}

  /** `at`: where the FINESS was read (its location is built only for a finding). */
  check(finess: string, at: { readonly valuePath: string }): void {
    if (this.seen.has(finess)) return;
    this.seen.add(finess);
    const r = checkFiness(finess);
    if (r.ok) return;
    // Callers pass only well-formed numbers (their layouts are checked by their own rules).
    if (r.reason === 'key') this.out.push(makeIssue(R.FINESS_KEY, at.valuePath, { finess, body: finess.slice(0, 8), expected: r.expected, found: r.found }));
  }
}

export function identityRules(ctx: RuleContext, out: ValidationIssue[], finess: FinessChecker): void {
  for (const item of ctx.items) {
    const type = item.resource.resourceType;
    const ids = identifiersOf(item);
    if (type === 'Patient') {
      let hasNir = false;
      for (const id of ids) {
        if (id.value === undefined) continue;
        if (id.system && NIR_SYSTEMS.has(id.system)) {
          hasNir = true;
          checkNir(id.value, id, item.resource, out);
        } else if (id.system === SYSTEMS.LOCAL_USAGER) {
          const f = finessOfLocalId(id.value);
          if (!f) out.push(makeIssue(R.LOCAL_ID_FORMAT, id.valuePath, { value: id.value }));
          else finess.check(f, id);
        }
      }
      birthOrder(item.resource, item.path, hasNir, out);
    } else if (type === 'Practitioner') {
      for (const id of ids) {
        if (id.system !== SYSTEMS.ID_NAT_PS || id.value === undefined) continue;
        const r = checkIdNatPs(id.value);
        if (!r.ok) {
          out.push(
            makeIssue(R.IDNATPS_FORMAT, id.valuePath, {
              value: id.value,
              hint: r.bareRpps ? ' (this looks like a bare RPPS number: prefix it with "8")' : '',
              hintFr: r.bareRpps ? ' (cela ressemble à un numéro RPPS sans son préfixe « 8 »)' : '',
            }),
          );
        } else {
          const f = finessOfLocalId(id.value);
          if (f) finess.check(f, id);
        }
      }
    } else if (type === 'Organization') {
      for (const id of ids) {
        if (id.system !== SYSTEMS.ID_NAT_ST || id.value === undefined) continue;
        const r = checkIdNatSt(id.value);
        if (!r.ok) out.push(makeIssue(R.IDNATST_FORMAT, id.valuePath, { value: id.value }));
        else if (r.finess) finess.check(r.finess, id);
      }
    }
  }
}

function checkNir(value: string, at: { readonly valuePath: string }, patient: Record<string, unknown>, out: ValidationIssue[]): void {
  const nir = parseNir(value);
  if (!nir) {
    out.push(makeIssue(R.NIR_FORMAT, at.valuePath, { value }));
    return;
  }
  const expected = nirKey(value.slice(0, 13));
  if (expected !== nir.key) {
    out.push(makeIssue(R.NIR_KEY, at.valuePath, { value, found: String(nir.key).padStart(2, '0'), expected: String(expected).padStart(2, '0') }));
  }
  // Sex digit 1/3/7 = male, 2/4/8 = female (3/4: temporary, 7/8: NIA).
  const nirSex = '137'.includes(nir.sex) ? 'male' : 'female';
  if ((patient.gender === 'male' || patient.gender === 'female') && patient.gender !== nirSex) {
    out.push(
      makeIssue(R.NIR_CONSISTENCY, at.valuePath, {
        value,
        what: 'sex',
        whatFr: 'le sexe',
        nir: nirSex,
        patient: `gender = ${patient.gender}`,
      }),
    );
  }
  if (typeof patient.birthDate === 'string' && /^\d{4}/.test(patient.birthDate)) {
    const bd = patient.birthDate;
    const month = Number(nir.month);
    if (bd.slice(2, 4) !== nir.year) {
      out.push(makeIssue(R.NIR_CONSISTENCY, at.valuePath, { value, what: 'birth year', whatFr: 'l’année de naissance', nir: nir.year, patient: `birthDate = ${bd}` }));
    } else if (month >= 1 && month <= 12 && bd.length >= 7 && bd.slice(5, 7) !== nir.month) {
      // Months 20-42 / 50-99 mean "unknown month" in a NIR and are not compared.
      out.push(makeIssue(R.NIR_CONSISTENCY, at.valuePath, { value, what: 'birth month', whatFr: 'le mois de naissance', nir: nir.month, patient: `birthDate = ${bd}` }));
    }
  }
}

function birthOrder(patient: Record<string, unknown>, path: string, hasNir: boolean, out: ValidationIssue[]): void {
  const ext = isObject(patient._birthDate) ? asArray(patient._birthDate.extension) : [];
  const idx = ext.findIndex((e) => isObject(e) && e.url === BIRTH_ORDER_URL);
  if (idx >= 0) {
    const v = (ext[idx] as Record<string, unknown>).valuePositiveInt;
    if (typeof v === 'number' && (v < 1 || v > 999)) {
      out.push(makeIssue(R.BIRTH_ORDER_RANGE, `${path}.birthDate.extension[${idx}].valuePositiveInt`, { value: v }));
    }
  } else if (!hasNir && patient.birthDate !== undefined) {
    out.push(makeIssue(R.BIRTH_ORDER_REQUIRED, `${path}.birthDate`));
  }
}
