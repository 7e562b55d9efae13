// A StructureDefinition validated as a resource (an IG author's profile): the consistency of
// its differential with its base that no R4 invariant states, as the HL7 validator reports
// while generating the snapshot, and the profiles it names. Checks decidable from the loaded
// definitions:
// - a choice element renamed for a type (`Observation.valueQuantity`) names one of the base
//   element's types (`Observation.valueBla` is no element at all);
// - a type's profile is a profile of that type (Count is its own type, not a Quantity profile);
// - a profile it inherits obligations from (extension inherit-obligations) is an obligation
//   profile on the same base.
// Anything not loaded is not judged here.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import { isObject, type Json } from './paths.js';
import type { Run } from './run.js';

export function checkStructureDefinition(run: Run, sd: Json, path: string): void {
  checkInheritedObligations(run, sd, path);
  const diff = isObject(sd.differential) && Array.isArray(sd.differential.element) ? sd.differential.element : [];
  if (diff.length === 0 || sd.derivation !== 'constraint' || typeof sd.type !== 'string') return;
  const base = run.profiles.core(sd.type);
  if (!base) return;
  diff.forEach((e, i) => {
    if (!isObject(e) || typeof e.path !== 'string') return;
    const at = `${path}.differential.element[${i}]`;
    checkChoiceName(run, base.root, e.path, at);
    const types = Array.isArray(e.type) ? e.type : [];
    types.forEach((t, ti) => {
      if (!isObject(t) || typeof t.code !== 'string' || !Array.isArray(t.profile)) return;
      const code = t.code;
      t.profile.forEach((p, pi) => {
        if (typeof p !== 'string') return;
        const target = run.profiles.get(p);
        if (target && target.type !== code) {
          run.out.push(CODES.SD_TYPE_PROFILE, `${at}.type[${ti}].profile[${pi}]`, { profile: p, profileType: target.type, type: code, element: String(e.path) });
        }
      });
    });
  });
}

/** `X.valueBla` where the base has `X.value[x]`: the suffix must be one of its types. */
function checkChoiceName(run: Run, root: ElementNode, elementPath: string, at: string): void {
  const segs = elementPath.split('.');
  if (segs.length < 2 || segs[0] !== root.path) return;
  let node: ElementNode | undefined = root;
  for (let i = 1; i < segs.length - 1 && node; i++) node = node.children?.find((c) => c.name === segs[i] && !c.sliceName);
  if (!node?.children) return;
  const last = segs[segs.length - 1]!;
  if (node.children.some((c) => c.name === last)) return;
  for (const c of node.children) {
    if (!c.isChoice || c.sliceName) continue;
    const stem = c.name.slice(0, -3);
    if (last.length <= stem.length || !last.startsWith(stem)) continue;
    const ch = last.charCodeAt(stem.length);
    if (ch < 65 || ch > 90) continue;
    const suffix = last.slice(stem.length);
    if (c.typeCodes.some((t) => t.toLowerCase() === suffix.toLowerCase())) return;
    run.out.push(CODES.SD_CHOICE_NAME, at, { path: elementPath, choice: c.path, types: c.typeCodes.join(', ') });
    return;
  }
}

/** The extensions that carry obligations from one profile to another (core and tools URLs, as the HL7 validator has used both). */
const INHERIT_OBLIGATIONS = new Set(['http://hl7.org/fhir/StructureDefinition/inherit-obligations', 'http://hl7.org/fhir/tools/StructureDefinition/inherit-obligations']);
const OBLIGATION_PROFILE = new Set(['http://hl7.org/fhir/StructureDefinition/obligation-profile', 'http://hl7.org/fhir/tools/StructureDefinition/obligation-profile']);

/**
 * A profile that inherits obligations names obligation profiles (flagged `obligation-profile`
 * = true) on its own base: their obligations are meant to apply to exactly the elements this
 * profile constrains. Judged, as by the HL7 validator, only when the profile's base is loaded.
 */
function checkInheritedObligations(run: Run, sd: Json, path: string): void {
  if (!Array.isArray(sd.extension) || typeof sd.baseDefinition !== 'string') return;
  const registry = run.profiles.registry;
  const base = sd.baseDefinition;
  if (!registry.resolve(base, 'StructureDefinition')) return;
  sd.extension.forEach((ext, i) => {
    if (!isObject(ext) || typeof ext.url !== 'string' || !INHERIT_OBLIGATIONS.has(ext.url)) return;
    const url = ext.valueCanonical ?? ext.valueUri;
    if (typeof url !== 'string') return; // an extension without its value fails ext-1
    const at = `${path}.extension[${i}]`;
    const target = registry.resolve(url, 'StructureDefinition');
    if (!target) {
      run.out.push(CODES.SD_OBLIGATIONS_UNKNOWN, at, { url, ...run.v.describeMissing(url) });
      return;
    }
    const flagged = Array.isArray(target.extension) && target.extension.some((e) => isObject(e) && typeof e.url === 'string' && OBLIGATION_PROFILE.has(e.url) && e.valueBoolean === true);
    if (!flagged) run.out.push(CODES.SD_OBLIGATIONS_NOT_OBLIGATION_PROFILE, at, { url });
    else if (target.baseDefinition !== base) run.out.push(CODES.SD_OBLIGATIONS_BASE, at, { url, targetBase: String(target.baseDefinition), base });
  });
}
