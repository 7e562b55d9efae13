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
