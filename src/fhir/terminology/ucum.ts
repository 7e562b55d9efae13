// UCUM quantities: comparing two Quantities whose units differ (10000 m against a minimum of
// 50 km), as the HL7 validator does for minValueQuantity / maxValueQuantity and the SDC
// questionnaire minQuantity / maxQuantity. The unit arithmetic is the NLM's UCUM library
// (@lhncbc/ucum-lhc, the one fhirpath.js uses), loaded at the first comparison that needs a
// conversion: most validations never compare quantities, and the library's tables take ~0.1 s.
import { createRequire } from 'node:module';

export const UCUM = 'http://unitsofmeasure.org';

export interface QuantityLike {
  value?: unknown;
  unit?: unknown;
  system?: unknown;
  code?: unknown;
}

/**
 * The outcome of comparing a quantity with a limit: the sign of value − limit (both in the
 * limit's unit), or why they cannot be compared: no formal unit on either side (only `unit`
 * text, or a system without code), or units of different kinds (kg against [mi_i]).
 */
export type QuantityComparison = { kind: 'compared'; diff: number; converted?: number } | { kind: 'no-units' } | { kind: 'incompatible' };

interface UcumUtils {
  convertUnitTo(from: string, value: number, to: string): { status: string; toVal?: number };
}

let utils: UcumUtils | undefined;

function ucum(): UcumUtils {
  if (!utils) {
    const require = createRequire(import.meta.url);
    const lib = require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } };
    utils = lib.UcumLhcUtils.getInstance();
  }
  return utils;
}

/** Converts `value` from one UCUM unit to another; undefined when they are not commensurable (or not UCUM). */
export function convertUcum(value: number, from: string, to: string): number | undefined {
  if (from === to) return value;
  try {
    const r = ucum().convertUnitTo(from, value, to);
    return r.status === 'succeeded' && typeof r.toVal === 'number' ? r.toVal : undefined;
  } catch {
    return undefined;
  }
}

/** `q` against `limit` (see QuantityComparison). Values must be numbers (checked by the caller). */
export function compareQuantity(q: QuantityLike, limit: QuantityLike): QuantityComparison {
  const v = q.value as number;
  const l = limit.value as number;
  if (typeof q.code !== 'string' || typeof limit.code !== 'string' || typeof q.system !== 'string' || typeof limit.system !== 'string') return { kind: 'no-units' };
  if (q.system === limit.system && q.code === limit.code) return { kind: 'compared', diff: v - l };
  if (q.system !== UCUM || limit.system !== UCUM) return { kind: 'incompatible' };
  const converted = convertUcum(v, q.code, limit.code);
  if (converted === undefined) return { kind: 'incompatible' };
  // Conversion factors are binary fractions at best: compare at a relative tolerance.
  const diff = Math.abs(converted - l) <= 1e-9 * Math.max(Math.abs(converted), Math.abs(l)) ? 0 : converted - l;
  return { kind: 'compared', diff, converted };
}

/** `10000 m (UCUM#m)`-style text of a quantity, for messages. */
export function describeQuantity(q: QuantityLike): string {
  const unit = typeof q.unit === 'string' ? q.unit : typeof q.code === 'string' ? q.code : '';
  const formal = typeof q.code === 'string' ? ` (${q.system === UCUM ? 'UCUM' : String(q.system ?? '?')}#${q.code})` : '';
  return `${String(q.value)}${unit ? ` ${unit}` : ''}${formal}`;
}

interface BaseUnits {
  status: string;
  magnitude?: number;
  unitToExp?: Record<string, number>;
  fromUnitIsSpecial?: boolean;
}

/** Per UCUM code: the factor to its base units and their canonical text, or null (not UCUM). `special`: not a factor (Cel, [degF]). */
const canonicalUnits = new Map<string, { factor: number; unit: string; special: boolean } | null>();

/** `g.m-1.s-2`: the base units of a magnitude, sorted, `1` when dimensionless. */
function baseUnitText(exp: Record<string, number>): string {
  const parts = Object.entries(exp)
    .filter(([, n]) => n !== 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([u, n]) => (n === 1 ? u : `${u}${n}`));
  return parts.length ? parts.join('.') : '1';
}

/** 15 significant digits: the conversion factors' binary noise (0.005399999999999999 g) rounded away. */
function round15(x: number): number {
  return Number(x.toPrecision(15));
}

/**
 * A UCUM quantity in the base units of its kind (`5400 ug` → 0.0054 `g`, `36 h` → 129600 `s`,
 * `37 Cel` → 310.15 `K`), for search across units of one kind; undefined when the code is not a
 * UCUM unit. Factors are computed once per code (a few tenths of a millisecond each); only
 * non-linear units (temperatures) are converted value by value.
 */
export function toCanonicalUcum(value: number, code: string): { value: number; unit: string } | undefined {
  if (!Number.isFinite(value)) return undefined;
  let c = canonicalUnits.get(code);
  if (c === undefined) {
    c = null;
    try {
      const r = (ucum() as unknown as { convertToBaseUnits(u: string, v: number): BaseUnits }).convertToBaseUnits(code, 1);
      if (r.status === 'succeeded' && typeof r.magnitude === 'number' && r.unitToExp) {
        c = { factor: r.magnitude, unit: baseUnitText(r.unitToExp), special: r.fromUnitIsSpecial === true };
      }
    } catch {
      c = null;
    }
    canonicalUnits.set(code, c);
  }
  if (!c) return undefined;
  if (!c.special) return { value: round15(value * c.factor), unit: c.unit };
  try {
    const r = (ucum() as unknown as { convertToBaseUnits(u: string, v: number): BaseUnits }).convertToBaseUnits(code, value);
    return r.status === 'succeeded' && typeof r.magnitude === 'number' ? { value: round15(r.magnitude), unit: c.unit } : undefined;
  } catch {
    return undefined;
  }
}
