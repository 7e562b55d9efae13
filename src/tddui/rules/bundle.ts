// Bundle-level rules (B3): request.url names the resource type (or, as the official
// examples do, the TDDUI profile name of that type).
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { makeIssue } from '../../fhir/outcome/rule.js';
import { TDDUI_RULES as R } from './catalogue.js';
import { isObject, type RuleContext } from './context.js';

/** TDDUI profile names (as used in request.url by the examples) per resource type. */
const PROFILE_NAME_PREFIX: Record<string, RegExp> = {
  Patient: /^TDDUIPatient(INS)?$/,
  Organization: /^TDDUIOrganization$/,
  Encounter: /^TDDUIEncounter(Sejour|Evenement)$/,
  Practitioner: /^TDDUIPractitioner$/,
  PractitionerRole: /^TDDUIPractitionerRole$/,
  Task: /^TDDUITask(TransportProfessionnel|TransportUsager|Action|Bilan|MoyenRessource|Prestation)$/,
  DocumentReference: /^TDDUIDocumentReference$/,
  QuestionnaireResponse: /^TDDUIQuestionnaireResponse$/,
  CarePlan: /^TDDUICarePlanProjetPersonnalise$/,
  Consent: /^TDDUIConsentAccord$/,
  Goal: /^TDDUIGoal(Attente|Objectif)$/,
  ServiceRequest: /^TDDUIServiceRequestBesoin$/,
  RelatedPerson: /^TDDUIRelatedPersonContact$/,
};

export function bundleRules(ctx: RuleContext, out: ValidationIssue[]): void {
  if (!ctx.isBundle) return;
  for (const item of ctx.items) {
    const req = item.entry?.request;
    if (!isObject(req) || typeof req.url !== 'string') continue;
    if (typeof item.resource.resourceType !== 'string') continue; // reported by the engine
    const type = item.resource.resourceType;
    const q = req.url.indexOf('?');
    const url = q === -1 ? req.url : req.url.slice(0, q);
    // hasOwn: a resourceType such as "constructor" must not reach Object.prototype.
    if (url === type || (Object.hasOwn(PROFILE_NAME_PREFIX, type) && PROFILE_NAME_PREFIX[type].test(url))) continue;
    out.push(makeIssue(R.REQUEST_URL, `${item.entryPath}.request.url`, { url: req.url, type }));
  }
}
