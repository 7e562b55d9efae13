// Canonical URLs of the TDDUI IG that the platform relies on.
export const TDDUI_CANONICAL = 'https://interop.esante.gouv.fr/ig/fhir/tddui';
export const TDDUI_BUNDLE_PROFILE = `${TDDUI_CANONICAL}/StructureDefinition/tddui-bundle`;
export const TDDUI_PACKAGE = 'ans.fhir.fr.tddui';
