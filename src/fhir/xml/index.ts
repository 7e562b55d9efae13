// FHIR R4 JSON ⇄ XML. The base definitions (element order, types, cardinalities) are loaded
// lazily on the first call, so both functions work without any set-up.
export { jsonToXml, type JsonToXmlOptions, FHIR_NS, XHTML_NS } from './json-to-xml.js';
export { xmlToJson } from './xml-to-json.js';
export { FhirXmlError } from './errors.js';
export { fhirModel, FhirModel, type ElementDef, type TypeContext } from './model.js';
