// The AGGIR algorithm: from the modalities A/B/C of the eight discriminant variables to a rank
// (1–13) and a GIR (1–6). Coefficients and thresholds are those of the official algorithm, Code de
// l'action sociale et des familles, annexe 2-2 ("Algorithme de la grille AGGIR"). The TDDUI IG
// gives no algorithm (tddui-business-rules A4); this one is the legal reference it relies on.
import { AGGIR_PA_ITEMS, AGGIR_PH_ITEMS, type AggirVariable } from '../pivot/constants.js';

export type Modality = 'A' | 'B' | 'C';

/** The eight variables the algorithm weighs (déplacement extérieur and communication weigh 0). */
const ORDER = ['coherence', 'orientation', 'toilette', 'habillage', 'alimentation', 'elimination', 'transferts', 'deplacementInterieur'] as const;
type Discriminant = (typeof ORDER)[number];

interface Group {
  /** Values for modality C, then for modality B, in ORDER. A weighs 0. */
  c: number[];
  b: number[];
  /** [minimum sum, rank] tested in order; no match → next group. */
  ranks: [number, number][];
}

const GROUPS: Group[] = [
  { c: [2000, 1200, 40, 40, 60, 100, 800, 200], b: [0, 0, 16, 16, 20, 16, 120, 32], ranks: [[4380, 1], [4140, 2], [3390, 3]] },
  { c: [1500, 1200, 40, 40, 60, 100, 800, -80], b: [320, 120, 16, 16, 0, 16, 120, -40], ranks: [[2016, 4]] },
  { c: [0, 0, 40, 40, 60, 160, 1000, 400], b: [0, 0, 16, 16, 20, 20, 200, 40], ranks: [[1700, 5], [1432, 6]] },
  { c: [0, 0, 0, 0, 2000, 400, 2000, 200], b: [0, 0, 0, 0, 200, 200, 200, 0], ranks: [[2400, 7]] },
  { c: [400, 400, 400, 400, 400, 800, 800, 200], b: [0, 0, 100, 100, 100, 100, 100, 0], ranks: [[1200, 8]] },
  { c: [200, 200, 500, 500, 500, 500, 500, 200], b: [100, 100, 100, 100, 100, 100, 100, 0], ranks: [[800, 9]] },
  { c: [150, 150, 300, 300, 500, 500, 400, 200], b: [0, 0, 200, 200, 200, 200, 200, 100], ranks: [[650, 10]] },
  { c: [0, 0, 3000, 3000, 3000, 3000, 1000, 1000], b: [0, 0, 2000, 2000, 2000, 2000, 2000, 1000], ranks: [[4000, 11], [2000, 12], [-Infinity, 13]] },
];

/** Annexe 2-2 §2: rank → GIR. */
const RANK_TO_GIR = [0, 1, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6];

export function aggirRank(m: Record<Discriminant, Modality>): number {
  for (const g of GROUPS) {
    let sum = 0;
    ORDER.forEach((v, i) => {
      if (m[v] === 'C') sum += g.c[i];
      else if (m[v] === 'B') sum += g.b[i];
    });
    for (const [min, rank] of g.ranks) if (sum >= min) return rank;
  }
  return 13; // unreachable: group H always answers
}

export function computeGir(m: Record<Discriminant, Modality>): number {
  return RANK_TO_GIR[aggirRank(m)];
}

/** Modality from the four adverbs (guide AGGIR): all done → A, none → C, otherwise B. */
export function modalityFromAdverbs(a: { spontanement?: boolean; totalement?: boolean; correctement?: boolean; habituellement?: boolean }): Modality | undefined {
  const v = [a.spontanement, a.totalement, a.correctement, a.habituellement];
  if (v.some((x) => x === undefined)) return undefined;
  if (v.every(Boolean)) return 'A';
  if (v.every((x) => !x)) return 'C';
  return 'B';
}

/**
 * Modality of a variable measured by several questionnaire items (TDDUI AGGIR PA splits toilette,
 * habillage, alimentation, élimination): A when all are A, C when all are C, B otherwise.
 * This combination is the project's reading of the AGGIR guide (the IG gives none); the generator
 * gives the items of one variable the same modality, where every reading agrees.
 */
export function combine(ms: Modality[]): Modality {
  if (ms.every((m) => m === 'A')) return 'A';
  if (ms.every((m) => m === 'C')) return 'C';
  return 'B';
}

/**
 * GIR of an AGGIR evaluation of the pivot (`aggir-pa` / `aggir-ph`), from the modality of each item
 * (or its adverbs). Undefined when a discriminant variable is missing.
 */
export function girOfEvaluation(type: 'aggir-pa' | 'aggir-ph', variables: { item: string; modalite?: Modality; adverbes?: Parameters<typeof modalityFromAdverbs>[0] }[]): number | undefined {
  const defs = type === 'aggir-pa' ? AGGIR_PA_ITEMS : AGGIR_PH_ITEMS;
  const byVar = new Map<AggirVariable, Modality[]>();
  for (const v of variables) {
    const def = defs.find((d) => d.linkId === v.item);
    const m = v.modalite ?? (v.adverbes ? modalityFromAdverbs(v.adverbes) : undefined);
    if (!def || !m) continue;
    byVar.set(def.variable, [...(byVar.get(def.variable) ?? []), m]);
  }
  const m = {} as Record<Discriminant, Modality>;
  for (const v of ORDER) {
    const list = byVar.get(v);
    if (!list) return undefined;
    m[v] = combine(list);
  }
  return computeGir(m);
}
