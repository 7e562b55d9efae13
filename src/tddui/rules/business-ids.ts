// Business identifiers (R3, R4, B8): value layout per system, prefix = the usager's local
// identifier, and no two entries sharing one identifier.
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { makeIssue } from '../../fhir/outcome/rule.js';
import { TDDUI_RULES as R } from './catalogue.js';
import { identifiersOf, isObject, type Item, type RuleContext } from './context.js';
import type { FinessChecker } from './identity.js';
import { BUSINESS_ID_TAGS, checkIdNatSt, finessOfLocalId, SYSTEMS } from './identifiers.js';

/** Where the usager of a resource is referenced, per resource type. */
const USAGER_REFS: Record<string, string[]> = {
  Encounter: ['subject'],
  QuestionnaireResponse: ['subject'],
  CarePlan: ['subject'],
  Goal: ['subject'],
  ServiceRequest: ['subject'],
  Task: ['for'],
  Consent: ['patient'],
  DocumentReference: ['subject'],
};

function localIdOf(patient: Item | undefined): string | undefined {
  if (!patient || patient.resource.resourceType !== 'Patient') return undefined;
  return identifiersOf(patient).find((i) => i.system === SYSTEMS.LOCAL_USAGER)?.value;
}

/** The usager of a resource: its subject/for/patient, else through its encounter, else the only Patient. */
export function usagerOf(ctx: RuleContext, item: Item, depth = 0): Item | undefined {
  const type = String(item.resource.resourceType);
  for (const field of Object.hasOwn(USAGER_REFS, type) ? USAGER_REFS[type] : []) {
    const target = ctx.resolve(item.resource[field]);
    if (target?.resource.resourceType === 'Patient') return target;
  }
  if (depth < 2 && isObject(item.resource.encounter)) {
    const enc = ctx.resolve(item.resource.encounter);
    if (enc) return usagerOf(ctx, enc, depth + 1);
  }
  return ctx.patients.length === 1 ? ctx.patients[0] : undefined;
}

export function businessIdRules(ctx: RuleContext, out: ValidationIssue[], finess: FinessChecker): void {
  const facilities = new Set<string>();
  for (const item of ctx.items) {
    if (item.resource.resourceType !== 'Organization') continue;
    for (const id of identifiersOf(item)) {
      const f = id.system === SYSTEMS.ID_NAT_ST && id.value ? checkIdNatSt(id.value).finess : undefined;
      if (f) facilities.add(f);
    }
  }
  const seen = new Map<string, string>();
  for (const item of ctx.items) {
    for (const id of identifiersOf(item)) {
      if (!id.system || id.value === undefined) continue;
      const valuePath = `${id.path}.value`;
      // B8: duplicates inside one Bundle.
      if (ctx.isBundle) {
        const key = `${id.system}|${id.value}`;
        const other = seen.get(key);
        if (other) out.push(makeIssue(R.DUPLICATE_BUSINESS_ID, valuePath, { system: id.system, value: id.value, other }));
        else seen.set(key, item.path);
      }
      const tag = Object.hasOwn(BUSINESS_ID_TAGS, id.system) ? BUSINESS_ID_TAGS[id.system] : undefined;
      if (!tag) continue;
      const marker = `-${tag}-`;
      const at = id.value.indexOf(marker);
      const prefix = at > 0 ? id.value.slice(0, at) : undefined;
      const facilityFiness = prefix ? finessOfLocalId(prefix) : undefined;
      if (!prefix || !facilityFiness || at + marker.length >= id.value.length) {
        out.push(makeIssue(R.BUSINESS_ID_LAYOUT, valuePath, { value: id.value, system: id.system, tag }));
        continue;
      }
      finess.check(facilityFiness, valuePath);
      // R4: the prefix is the usager's local identifier...
      const usagerId = localIdOf(usagerOf(ctx, item));
      if (usagerId !== undefined && usagerId !== prefix) {
        out.push(
          makeIssue(R.BUSINESS_ID_PREFIX, valuePath, {
            value: id.value,
            prefix,
            expected: usagerId,
            expectedWhat: 'the local identifier of its usager',
            expectedWhatFr: 'l’identifiant local de son usager',
          }),
        );
      } else if (facilities.size > 0 && !facilities.has(facilityFiness)) {
        // ...and its FINESS is the facility's (idNatSt = 1 + FINESS).
        out.push(
          makeIssue(R.BUSINESS_ID_PREFIX, valuePath, {
            value: id.value,
            prefix: `3${facilityFiness}`,
            expected: [...facilities].map((f) => `3${f}`).join(' or '),
            expectedWhat: 'the FINESS of the facility (Organization idNatSt) gives',
            expectedWhatFr: 'le FINESS de la structure (idNatSt de l’Organization) donne',
          }),
        );
      }
    }
  }
}
