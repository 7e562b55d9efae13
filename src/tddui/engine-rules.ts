// TDDUI rules applied by the validator around the FHIR engine (not in rules/, which checks
// resource content): the Bundle entry types the IG allows.
import { defineRule } from '../fhir/outcome/rule.js';

export const TDDUI_ENGINE_RULES = {
  ENTRY_TYPE: defineRule({
    id: 'tddui-bundle-entry-type',
    severity: 'error',
    code: 'business-rule',
    summary: 'A TDDUI Bundle entry whose resource type no TDDUI profile (Bundle slice) covers.',
    en: 'A {type} cannot be sent in a TDDUI Bundle: no TDDUI profile covers this resource type (flux 1 lists the 21 usable profiles)',
    fr: 'Une ressource {type} ne peut pas être transmise dans un Bundle TDDUI : aucun profil TDDUI ne couvre ce type (le flux 1 liste les 21 profils utilisables)',
    reference: 'tddui-business-rules B4; StructureDefinition-tddui-bundle',
  }),
  ENTRY_RESOURCE: defineRule({
    id: 'tddui-bundle-entry-resource',
    severity: 'error',
    code: 'required',
    summary: 'A TDDUI Bundle entry carries no resource (the IG makes every entry a POST of a resource).',
    en: 'This entry has no resource: every entry of a TDDUI transaction creates a resource (request.method = POST)',
    fr: 'Cette entrée ne contient pas de ressource : chaque entrée d’une transaction TDDUI crée une ressource (request.method = POST)',
    reference: 'tddui-business-rules B1, B2, B4; StructureDefinition-tddui-bundle',
  }),
} as const;
