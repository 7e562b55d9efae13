// TDDUI rules applied by the validator around the FHIR engine (not in rules/, which checks
// resource content): the Bundle entry types the IG allows.
import { defineRule } from '../fhir/outcome/rule.js';

export const TDDUI_ENGINE_RULES = {
  ENTRY_TYPE: defineRule({
    id: 'tddui-bundle-entry-type',
    severity: 'error',
    code: 'business-rule',
    summary: 'A TDDUI Bundle entry whose resource type no TDDUI profile (Bundle slice) covers.',
    en: 'A {type} cannot be sent in a TDDUI {version} Bundle: no TDDUI profile of that version covers this resource type (see the Bundle profile\'s entry slices)',
    fr: 'Une ressource {type} ne peut pas être transmise dans un Bundle TDDUI {version} : aucun profil TDDUI de cette version ne couvre ce type (voir les tranches d’entrée du profil Bundle)',
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
  IG_VERSION_SUBSTITUTED: defineRule({
    id: 'tddui-ig-version-substituted',
    severity: 'warning',
    code: 'not-supported',
    category: 'not-checked',
    summary: 'The resource pins a TDDUI version (meta.profile `|version`) that this receiver does not accept: it was validated with the nearest accepted version.',
    en: 'This resource declares TDDUI {requested}, which is not accepted here (accepted: {accepted}): it was validated with TDDUI {used} instead',
    fr: 'Cette ressource déclare TDDUI {requested}, version non acceptée ici (acceptées : {accepted}) : elle a été validée avec TDDUI {used}',
    reference: 'FHIR R4 Canonical references (url|version)',
  }),
  IG_VERSION_ACCEPTED: defineRule({
    id: 'tddui-ig-version',
    severity: 'information',
    code: 'informational',
    summary: 'Which TDDUI version a resource was validated under, when the receiver accepts several (how it was chosen, and how the other versions fared).',
    en: 'Validated under TDDUI {version} ({how}){others}',
    fr: 'Validé selon TDDUI {version} ({howFr}){othersFr}',
  }),
  IG_VERSION_NONE: defineRule({
    id: 'tddui-ig-version-none',
    severity: 'information',
    code: 'informational',
    summary: 'A resource that names no TDDUI version is valid under none of the accepted versions: the report shown is the closest one.',
    en: 'Not valid under any accepted TDDUI version: the report is that of TDDUI {version} (fewest errors); under {others}',
    fr: 'Non valide selon toutes les versions TDDUI acceptées : le rapport est celui de TDDUI {version} (le moins d’erreurs) ; selon {othersFr}',
  }),
} as const;
