// Evaluation and event rules: I12 (evaluation actors), A2 (GIR only in AGGIR grids),
// A6 (situation SSIAD "aucun motif"), C1 (event status).
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { makeIssue } from '../../fhir/outcome/rule.js';
import { TDDUI_RULES as R } from './catalogue.js';
import { asArray, isObject, type Json, type RuleContext } from './context.js';

const QR_PARTICIPANT = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-qr-participant';
const EVENT_SYSTEM = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const EVENT_STATUSES = new Set(['planned', 'triaged', 'finished', 'cancelled']);

export function evaluationRules(ctx: RuleContext, out: ValidationIssue[]): void {
  for (const item of ctx.items) {
    const r = item.resource;
    if (r.resourceType === 'QuestionnaireResponse') {
      const selfEvaluation = isObject(r.source) && typeof r.source.reference === 'string' && /Patient\//.test(r.source.reference);
      const hasParticipant = asArray(r.extension).some((e) => isObject(e) && e.url === QR_PARTICIPANT);
      if (!selfEvaluation && r.source === undefined && r.author === undefined && !hasParticipant) {
        out.push(makeIssue(R.EVALUATION_ACTOR, item.path));
      }
      const q = typeof r.questionnaire === 'string' ? r.questionnaire : '';
      const items = flatten(asArray(r.item), new Where(item, undefined, 'item'));
      if (q && !/aggir/i.test(q)) {
        const gir = items.find((i) => i.node.linkId === 'resultat-eval');
        if (gir) out.push(makeIssue(R.GIR_ONLY_AGGIR, gir.path, { questionnaire: q.split('/').pop() ?? q }));
      }
      if (/situation-ssiad/.test(q)) {
        const none = items.find((i) => i.node.linkId === 'aucun-motif' && isTrue(i.node));
        if (none) {
          const other = items.find((i) => i.node.linkId !== 'aucun-motif' && isTrue(i.node));
          if (other) out.push(makeIssue(R.SITUATION_NO_REASON, none.path, { other: String(other.node.linkId) }));
        }
      }
    } else if (r.resourceType === 'Encounter' && typeof r.status === 'string') {
      const isEvent = asArray(r.identifier).some((i) => isObject(i) && i.system === EVENT_SYSTEM);
      if (isEvent && !EVENT_STATUSES.has(r.status)) out.push(makeIssue(R.EVENT_STATUS, `${item.path}.status`, { status: r.status }));
    }
  }
}

function isTrue(node: Json): boolean {
  return asArray(node.answer).some((a) => isObject(a) && a.valueBoolean === true);
}

/** Where a list of items is (`<parent>.<suffix>`); its string is built only for a finding. */
class Where {
  private at?: string = undefined;
  constructor(
    private readonly item: { readonly path: string } | undefined,
    private readonly parent: QItem | undefined,
    private readonly suffix: string,
  ) {}

  get path(): string {
    return (this.at ??= `${this.parent ? this.parent.path : this.item!.path}.${this.suffix}`);
  }
}

/** A questionnaire item and its location (`<list>[i]`, built on first use). */
class QItem {
  private at?: string = undefined;
  constructor(
    readonly node: Json,
    private readonly list: Where,
    private readonly index: number,
  ) {}

  get path(): string {
    return (this.at ??= `${this.list.path}[${this.index}]`);
  }
}

function flatten(list: unknown[], where: Where, out: QItem[] = [], depth = 0): QItem[] {
  if (depth > 20) return out;
  list.forEach((n, i) => {
    if (!isObject(n)) return;
    const q = new QItem(n, where, i);
    out.push(q);
    // (An absent list adds nothing: no location object for it.)
    if (n.item !== undefined) flatten(asArray(n.item), new Where(undefined, q, 'item'), out, depth + 1);
    asArray(n.answer).forEach((a, j) => {
      if (isObject(a) && a.item !== undefined) flatten(asArray(a.item), new Where(undefined, q, `answer[${j}].item`), out, depth + 1);
    });
  });
  return out;
}
