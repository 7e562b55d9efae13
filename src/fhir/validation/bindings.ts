// Bindings and codings: fixed[x] / pattern[x] values, required and extensible bindings (via
// the terminology), "not checked" notes for undecidable value sets, and every Coding against
// its code system whatever the binding.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CodeResult } from '../terminology/terminology.js';
import { compilePattern, deepEqual, describeValue } from './values.js';
import { at, isObject, type Json } from './paths.js';
import type { Run } from './run.js';

/** Types whose values a binding applies to. */
export const CODED_TYPES = new Set(['code', 'Coding', 'CodeableConcept', 'Quantity', 'string', 'uri']);

/** `urn:…`, `https:…`: a URI with a scheme (Coding.system and Identifier.system must be absolute). */
export function hasScheme(u: string): boolean {
  const c0 = u.charCodeAt(0) | 32;
  if (c0 < 97 || c0 > 122) return false;
  for (let i = 1; i < u.length; i++) {
    const c = u.charCodeAt(i);
    if (c === 58) return true; // ':'
    const l = c | 32;
    if (!((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) return false;
  }
  return false;
}

/** `system#code` for messages; any JSON (null, objects, junk) is rendered without throwing. */
function codingText(c: unknown): string {
  if (!isObject(c)) return describeValue(c);
  const part = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : describeValue(v));
  return `${part(c.system)}#${part(c.code)}`;
}

/** `base` + `seg`: the value's location (see at()). */
export function checkFixedPattern(run: Run, value: unknown, node: ElementNode, base: string, seg: string | number | undefined): void {
  if (node.fixed !== undefined && !deepEqual(value, node.fixed)) {
    // A complex value is compared part by part: each part that differs is its own finding, at its
    // own location (as the HL7 validator reports them, D-241).
    if (isObject(value) && isObject(node.fixed)) fixedDifferences(run, value, node.fixed, at(base, seg));
    else run.out.push(CODES.FIXED_VALUE, at(base, seg), { expected: JSON.stringify(node.fixed) });
  } else if (node.pattern !== undefined && !containsTestOf(run, node)(value)) {
    run.out.push(CODES.PATTERN_VALUE, at(base, seg), { expected: JSON.stringify(node.pattern) });
  }
}

/** The parts of a complex value that differ from the fixed value `fixed`, each reported at its location. */
function fixedDifferences(run: Run, value: Json, fixed: Json, path: string): void {
  for (const key in value) {
    const v = value[key];
    const f = fixed[key];
    if (f === undefined) run.out.push(CODES.FIXED_VALUE_EXTRA, `${path}.${key}`, { name: key, expected: JSON.stringify(fixed) });
    else if (!deepEqual(v, f)) fixedPartDiffers(run, v, f, `${path}.${key}`);
  }
  for (const key in fixed) {
    if (value[key] === undefined) run.out.push(CODES.FIXED_VALUE_MISSING, path, { name: key, expected: JSON.stringify(fixed[key]) });
  }
}

function fixedPartDiffers(run: Run, v: unknown, f: unknown, path: string): void {
  if (isObject(v) && isObject(f)) fixedDifferences(run, v, f, path);
  else if (Array.isArray(v) && Array.isArray(f) && v.length === f.length) {
    for (let i = 0; i < v.length; i++) if (!deepEqual(v[i], f[i])) fixedPartDiffers(run, v[i], f[i], `${path}[${i}]`);
  } else run.out.push(CODES.FIXED_VALUE, path, { expected: JSON.stringify(f) });
}

/** `base` + `seg`: the value's location (see at()). */
export function checkBinding(run: Run, value: unknown, typeCode: string, node: ElementNode, base: string, seg: string | number | undefined): void {
  const binding = node.binding;
  if (!binding?.valueSet || (binding.strength !== 'required' && binding.strength !== 'extensible')) return;
  const vs = binding.valueSet;
  const term = run.v.ctx.terminology;
  const rule = binding.strength === 'required' ? CODES.BINDING_REQUIRED : CODES.BINDING_EXTENSIBLE;
  let result: CodeResult;
  if (typeCode === 'code' || typeCode === 'string' || typeCode === 'uri') {
    if (typeof value !== 'string') return;
    // R4 CapabilityStatement.format: "'xml', 'json' and 'ttl' are allowed [...] Otherwise, mime
    // types are legal here" — the three short names are outside the mime types value set.
    if (node.path === 'CapabilityStatement.format' && (value === 'xml' || value === 'json' || value === 'ttl')) return;
    result = term.validateCode(vs, { code: value });
  } else if (typeCode === 'Coding' || typeCode === 'Quantity') {
    if (!isObject(value)) return;
    if (value.code === undefined) {
      if (typeCode === 'Coding' && binding.strength === 'required') run.out.push(CODES.BINDING_NO_CODE, at(base, seg), { valueSet: vs });
      return;
    }
    result = term.validateCode(vs, value as { system?: string; code?: string });
  } else {
    if (!isObject(value)) return;
    const codings = Array.isArray(value.coding) ? (value.coding as Json[]) : [];
    if (codings.length === 0) {
      if (binding.strength === 'required') run.out.push(CODES.BINDING_NO_CODE, at(base, seg), { valueSet: vs });
      return;
    }
    result = term.validateCodeableConcept(vs, value as { coding?: { system?: string; code?: string }[] });
  }
  if (result.status === 'invalid') {
    // The code as shown in the message: built only when there is a message.
    const shown =
      typeof value === 'string'
        ? `"${value}"`
        : typeCode === 'Coding' || typeCode === 'Quantity'
          ? codingText(value)
          : ((value as Json).coding as Json[]).map(codingText).join(', ');
    if (rule === CODES.BINDING_EXTENSIBLE && (node.fixed !== undefined || node.pattern !== undefined) && containsTestOf(run, node)(value)) {
      // The profile itself requires this code (D-26: FR Core's identifier type slices): an IG
      // defect, said once per value set and validation, not a finding about the data.
      const key = run.v.onceKey('extensible-ig-defect:', vs + '|' + shown);
      if (!run.out.bump(key)) run.out.once(key, CODES.BINDING_EXTENSIBLE_IG_DEFECT, at(base, seg), { code: shown, valueSet: vs, element: node.id });
      return;
    }
    run.out.push(rule, at(base, seg), { code: shown, valueSet: vs, detail: result.message ? ` — ${result.message}` : '', detailFr: result.messageFr ? ` — ${result.messageFr}` : '' });
  } else if (result.status === 'unknown') {
    bindingNotChecked(run, vs, result, base, seg);
  } else if (result.notices) {
    // IG defects the terminology worked around (D-14): once per value set per validation.
    for (const n of result.notices) run.out.once(n.key, CODES.VALUESET_INCLUDE_INTERSECTION, at(base, seg), () => ({ ...n.args }));
  }
}

/** One "not checked" note per value set and validation, counting its occurrences (location built once). */
export function bindingNotChecked(run: Run, vs: string, result: CodeResult, base: string, seg: string | number | undefined): void {
  const key = run.v.onceKey('binding:', vs);
  if (run.out.bump(key)) return;
  const missing = result.missing?.length ? result.missing.join(', ') : undefined;
  const reason = result.message ?? (missing ? `${missing} not loaded` : 'not decidable');
  const reasonFr = result.messageFr ?? (missing ? `${missing} non chargé` : 'indécidable');
  run.out.once(key, CODES.BINDING_NOT_CHECKED, at(base, seg), { valueSet: vs, reason, reasonFr });
}

/** A Coding against its code system, whatever the binding (Terminology.checkCoding). */
export function checkCoding(run: Run, coding: Json, path: string): void {
  const { system, code, display } = coding;
  if (typeof system !== 'string') return;
  if (!hasScheme(system)) {
    run.out.push(CODES.SYSTEM_NOT_ABSOLUTE, `${path}.system`, { system, type: 'Coding' });
    return;
  }
  if (typeof code !== 'string') return;
  const r = run.v.ctx.terminology.checkCoding(system, code, typeof display === 'string' ? display : undefined);
  if (r.kind === 'value-set') {
    run.out.push(CODES.CODING_SYSTEM_IS_VALUESET, `${path}.system`, { system });
    return;
  }
  if (r.kind === 'ok') return;
  if (r.kind === 'unknown-code') run.out.push(r.stale ? CODES.CODE_UNKNOWN_STALE : CODES.CODE_UNKNOWN_IN_SYSTEM, `${path}.code`, { code, system });
  else run.out.push(CODES.CODE_DISPLAY, `${path}.display`, { display: display as string, system, code, expected: r.expected.map((e) => `"${e}"`).join(' or ') });
}

/** `value` contains the element's fixed/pattern value (compiled once per element). */
export function containsTestOf(run: Run, node: ElementNode): (v: unknown) => boolean {
  const m = run.v.memoOf(node);
  return (m.containsTest ??= compilePattern(node.fixed ?? node.pattern));
}

export function inValueSet(run: Run, v: unknown, vs: string): boolean {
  const term = run.v.ctx.terminology;
  if (typeof v === 'string') return term.validateCode(vs, { code: v }).status === 'valid';
  if (isObject(v) && Array.isArray(v.coding)) return term.validateCodeableConcept(vs, v as never).status === 'valid';
  if (isObject(v)) return term.validateCode(vs, v as never).status === 'valid';
  return false;
}
