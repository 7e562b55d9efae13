// Primitive values: JSON kind, lexical form, whitespace, maxLength, minValue/maxValue, the
// narrative's XHTML; and the quick check that lets most valid primitives skip all of it.
import { CODES } from '../outcome/codes.js';
import type { Rule } from '../outcome/rule.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { checkPrimitive, checkStringWhitespace, isPrimitiveType, jsonKindOf } from './primitives.js';
import { checkNarrative, type NarrativeProblem } from './narrative.js';
import { describeValue } from './values.js';
import { at, type JsonName } from './paths.js';
import { isResourceId } from './elements.js';
import { checkPrimitiveInvariants } from './invariants.js';
import type { Run } from './run.js';

/**
 * The quick check of a primitive property (ChildRef.plan): for an element with one primitive
 * type and nothing else to check — no slicing, fixed/pattern value, length or value limits — a
 * value of the right JSON kind that its format accepts (for strings, without leading/trailing
 * whitespace), or an array of such values within min..max, has no finding; a required or
 * extensible binding of a single value is then the only check left. Anything else goes through
 * validateChildValues, which decides and reports.
 */
export interface PrimitivePlan {
  kind: 'string' | 'number' | 'boolean';
  type: string;
  /** A repeating element: the value is an array of such primitives, within min..max. */
  array: boolean;
  min: number;
  max: number;
  /** string and markdown: leading/trailing whitespace is a warning. */
  whitespace: boolean;
  /** A required or extensible binding (single values only): checked after the quick check. */
  binding: boolean;
}
const NARRATIVE_RULES: Record<NarrativeProblem, Rule> = {
  syntax: CODES.NARRATIVE_SYNTAX,
  root: CODES.NARRATIVE_ROOT,
  content: CODES.NARRATIVE_CONTENT,
  empty: CODES.NARRATIVE_EMPTY,
};

/** ChildRef.plan of a property that has no quick check. */
export const NO_PLAN = Object.freeze({}) as unknown as PrimitivePlan;

export function primitivePlanOf(ref: JsonName & { node: ElementNode }): PrimitivePlan {
  const n = ref.node;
  const type = ref.type ?? (n.typeCodes.length === 1 ? n.typeCodes[0] : undefined);
  if (!type || !isPrimitiveType(type) || type === 'xhtml') return NO_PLAN;
  if (n.max === 0 || n.slicing || n.fixed !== undefined || n.pattern !== undefined) return NO_PLAN;
  if (n.maxLength !== undefined || n.minValue !== undefined || n.maxValue !== undefined || n.contentReference) return NO_PLAN;
  if (n.primitiveExtra || n.controls !== undefined) return NO_PLAN;
  const binding = n.binding?.valueSet !== undefined && (n.binding.strength === 'required' || n.binding.strength === 'extensible');
  if (binding && n.isArray) return NO_PLAN;
  // Resource.id (typed string in R4) is checked as an id: left to the full path.
  if (n.name === 'id') return NO_PLAN;
  return { kind: jsonKindOf(type), type, array: n.isArray, min: n.min, max: n.max, whitespace: type === 'string' || type === 'markdown', binding };
}

/** A value with no finding by its plan's quick check (see PrimitivePlan). */
export function quickValid(plan: PrimitivePlan, value: unknown): boolean {
  if (!plan.array) return quickValidItem(plan, value);
  if (!Array.isArray(value) || value.length === 0 || value.length < plan.min || value.length > plan.max) return false;
  for (let i = 0; i < value.length; i++) if (!quickValidItem(plan, value[i])) return false;
  return true;
}

function quickValidItem(plan: PrimitivePlan, value: unknown): boolean {
  return (
    typeof value === plan.kind &&
    value !== '' &&
    checkPrimitive(plan.type, value) === undefined &&
    !(plan.whitespace && checkStringWhitespace(value as string) !== undefined)
  );
}

/** `base` + `seg`: the value's location (see at()). */
export function checkPrimitiveValue(run: Run, value: unknown, typeCode: string, node: ElementNode, base: string, seg: string | number | undefined, profile: CompiledProfile): void {
  if (value === null) {
    run.out.push(CODES.EMPTY_ELEMENT, at(base, seg), { what: 'A null value', whatFr: 'Une valeur null' });
    return;
  }
  const kind = jsonKindOf(typeCode);
  if (typeof value !== kind) {
    run.out.push(CODES.WRONG_JSON_TYPE, at(base, seg), { expected: `a JSON ${kind}`, type: typeCode, found: describeValue(value) });
    return;
  }
  if (value === '') {
    run.out.push(CODES.EMPTY_ELEMENT, at(base, seg), { what: 'An empty string', whatFr: 'Une chaîne vide' });
    return;
  }
  // R4 types Resource.id as a plain string, but it must be a valid id (as the HL7 validator checks).
  const err = checkPrimitive(typeCode === 'string' && node.name === 'id' && isResourceId(run, node) ? 'id' : typeCode, value);
  if (err) {
    run.out.push(CODES.PRIMITIVE_FORMAT, at(base, seg), { detail: err.en, detailFr: err.fr, type: typeCode });
    return;
  }
  if (typeof value === 'string') {
    if (kind === 'string' && (typeCode === 'string' || typeCode === 'markdown')) {
      const ws = checkStringWhitespace(value);
      if (ws) run.out.push(CODES.STRING_WHITESPACE, at(base, seg), { detail: ws });
    }
    if (node.maxLength !== undefined && value.length > node.maxLength) {
      run.out.push(CODES.LENGTH, at(base, seg), { max: node.maxLength });
    }
  }
  if (node.primitiveExtra) checkPrimitiveExtra(run, value, typeCode, node, base, seg, profile);
  if (node.minValue !== undefined || node.maxValue !== undefined) {
    const below = node.minValue !== undefined && (value as number | string) < node.minValue;
    const above = node.maxValue !== undefined && (value as number | string) > node.maxValue;
    if (below || above) {
      run.out.push(CODES.MIN_MAX_VALUE, at(base, seg), {
        value: String(value),
        range: `${node.minValue ?? ''}..${node.maxValue ?? ''}`,
      });
    }
  }
}

/**
 * A narrative's XHTML, and the invariants stated on a primitive element (a profile's, or
 * eld-3 on ElementDefinition.max), with the value as context.
 */
export function checkPrimitiveExtra(run: Run, value: unknown, typeCode: string, node: ElementNode, base: string, seg: string | number | undefined, profile: CompiledProfile): void {
  if (typeCode === 'xhtml' && typeof value === 'string') {
    for (const f of checkNarrative(value)) run.out.push(NARRATIVE_RULES[f.problem], at(base, seg), { detail: f.detail, detailFr: f.detailFr });
  }
  checkPrimitiveInvariants(run, value, node, base, seg, profile, typeCode);
}
