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
  for (const i of identifiersOf(patient)) if (i.system === SYSTEMS.LOCAL_USAGER) return i.value;
  return undefined;
}

/**
 * B8's duplicate table: `system|value` identifies an identifier. Keyed by the system up to the
 * first `|` of that text, then the rest, so that no string is built when the system has no `|`
 * (always, in practice), while keeping the very same notion of "same identifier".
 */
class IdentifierTable {
  private readonly bySystem = new Map<string, Map<string, Item>>();

  /** The item the identifier was first seen in, or undefined after recording `item` for it. */
  seenIn(system: string, value: string, item: Item): Item | undefined {
    let s = system;
    let v = value;
    const bar = system.indexOf('|');
    if (bar >= 0) {
      s = system.slice(0, bar);
      v = `${system.slice(bar + 1)}|${value}`;
    }
    let values = this.bySystem.get(s);
    if (!values) this.bySystem.set(s, (values = new Map()));
    const other = values.get(v);
    if (other !== undefined) return other;
    values.set(v, item);
    return undefined;
  }
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
  const seen = new IdentifierTable();
  for (const item of ctx.items) {
    for (const id of identifiersOf(item)) {
      if (!id.system || id.value === undefined) continue;
      // B8: duplicates inside one Bundle.
      if (ctx.isBundle) {
        const first = seen.seenIn(id.system, id.value, item);
        if (first) out.push(makeIssue(R.DUPLICATE_BUSINESS_ID, id.valuePath, { system: id.system, value: id.value, other: first.path }));
      }
      const tag = Object.hasOwn(BUSINESS_ID_TAGS, id.system) ? BUSINESS_ID_TAGS[id.system] : undefined;
      if (!tag) continue;
      const marker = `-${tag}-`;
      const at = id.value.indexOf(marker);
      const prefix = at > 0 ? id.value.slice(0, at) : undefined;
      const facilityFiness = prefix ? finessOfLocalId(prefix) : undefined;
      if (!prefix || !facilityFiness || at + marker.length >= id.value.length) {
        out.push(makeIssue(R.BUSINESS_ID_LAYOUT, id.valuePath, { value: id.value, system: id.system, tag }));
        continue;
      }
      finess.check(facilityFiness, id);
      // R4: the prefix is the usager's local identifier...
      const usagerId = localIdOf(usagerOf(ctx, item));
      if (usagerId !== undefined && usagerId !== prefix) {
        out.push(
          makeIssue(R.BUSINESS_ID_PREFIX, id.valuePath, {
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
          makeIssue(R.BUSINESS_ID_PREFIX, id.valuePath, {
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
