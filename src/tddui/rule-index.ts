// Every rule id the validator and the server can report, in one list: the FHIR engine's checks
// (src/fhir/outcome/codes.ts), the TDDUI rules around the engine and the business rules. Used
// by `tddui rules`, the reports' summaries by rule and the rules reference page.
import { CODES } from '../fhir/outcome/codes.js';
import type { Rule } from '../fhir/outcome/rule.js';
import { TDDUI_ENGINE_RULES } from './engine-rules.js';
import { ALL_TDDUI_RULES } from './rules/catalogue.js';

export type RuleGroup = 'tddui' | 'fhir';

export interface IndexedRule {
  group: RuleGroup;
  rule: Rule;
}

let index: Map<string, IndexedRule> | undefined;

/** Every validation rule, TDDUI rules first, each id once. */
export function allRules(): IndexedRule[] {
  return [...ruleIndex().values()];
}

function ruleIndex(): Map<string, IndexedRule> {
  if (!index) {
    index = new Map();
    for (const rule of [...Object.values(TDDUI_ENGINE_RULES), ...ALL_TDDUI_RULES]) index.set(rule.id, { group: 'tddui', rule });
    for (const rule of Object.values(CODES) as Rule[]) if (!index.has(rule.id)) index.set(rule.id, { group: 'fhir', rule });
  }
  return index;
}

/** The rule of an id (`tddui-nir-key`, `fhir-cardinality-min`). */
export function findRule(id: string): IndexedRule | undefined {
  return ruleIndex().get(id);
}

/** The ids sharing the most words with an unknown one (typos, a missing prefix), best first. */
export function nearestRuleIds(id: string, limit = 5): string[] {
  const words = new Set(id.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean));
  return allRules()
    .map(({ rule }) => ({ id: rule.id, score: rule.id.split('-').filter((w) => words.has(w)).length }))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((x) => x.id);
}
