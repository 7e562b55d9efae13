// Resource patching for the PATCH interaction: JSON Patch (application/json-patch+json) and
// FHIRPath Patch (a Parameters resource). Both return a patched deep copy and never touch the input.
export { applyJsonPatch, jsonEqual, parsePointer } from './json-patch.js';
export { applyFhirPathPatch } from './fhirpath-patch.js';
export { PatchError } from './errors.js';
