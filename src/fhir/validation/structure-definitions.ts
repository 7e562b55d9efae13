// A StructureDefinition validated as a resource (an IG author's profile): the consistency of
// its differential with its base that no R4 invariant states, as the HL7 validator reports
// while generating the snapshot, and the profiles it names. Checks decidable from the loaded
// definitions:
// - a choice element renamed for a type (`Observation.valueQuantity`) names one of the base
//   element's types (`Observation.valueBla` is no element at all);
// - a type's profile is a profile of that type (Count is its own type, not a Quantity profile),
//   or names an element of that type (elementdefinition-profile-element, D-230);
// - a profile it inherits obligations from (extension inherit-obligations) is an obligation
//   profile on the same base;
// - a slicing's discriminator paths lead somewhere in the sliced element's types (`type` on an
//   Extension does not), and a slice does not restate its slicing differently (the slicing of
//   `extension:foo` is the slicing of `extension`).
// Anything not loaded is not judged here.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { profileElementOf, type TypeRef } from '../profiles/snapshot.js';
import { findById } from './resolution.js';
import { isObject, type Json } from './paths.js';
import type { Run } from './run.js';

export function checkStructureDefinition(run: Run, sd: Json, path: string): void {
  checkInheritedObligations(run, sd, path);
  const diff = isObject(sd.differential) && Array.isArray(sd.differential.element) ? sd.differential.element : [];
  const snapshot = isObject(sd.snapshot) && Array.isArray(sd.snapshot.element) ? sd.snapshot.element : [];
  checkDiscriminatorPaths(run, diff, `${path}.differential`);
  checkDiscriminatorPaths(run, snapshot, `${path}.snapshot`);
  if (diff.length === 0 || sd.derivation !== 'constraint' || typeof sd.type !== 'string') return;
  const base = run.profiles.core(sd.type);
  if (!base) return;
  if (typeof sd.baseDefinition === 'string') {
    const parent = run.profiles.get(sd.baseDefinition);
    if (parent) checkSlicingRestated(run, diff, parent, `${path}.differential`);
  }
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
        // A profile element (elementdefinition-profile-element) is of its element's type, not the profile's.
        const eid = profileElementOf(t as unknown as TypeRef, pi);
        const type = eid === undefined ? target?.type : target && findById(target.root, eid)?.typeCodes[0];
        if (target && type !== undefined && type !== code) {
          run.out.push(CODES.SD_TYPE_PROFILE, `${at}.type[${ti}].profile[${pi}]`, { profile: p, profileType: type, type: code, element: String(e.path) });
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

/**
 * Every discriminator path of a slicing must select something in the types of the sliced
 * element, as the HL7 validator checks by typing the path: judged only where the element is an
 * element of a base type or resource (`AuditEvent.agent.extension`), with its types stated on the
 * element itself, and only for paths made of element names, `$this`, `extension('…')` and
 * `ofType(…)` — anything else (`resolve()`, other functions) is not judged.
 */
function checkDiscriminatorPaths(run: Run, elements: unknown[], at: string): void {
  elements.forEach((e, i) => {
    if (!isObject(e) || !isObject(e.slicing) || !Array.isArray(e.slicing.discriminator) || typeof e.path !== 'string') return;
    const elementPath = e.path;
    const dot = elementPath.indexOf('.');
    if (dot < 0) return; // slicing at the root is another error
    const core = run.profiles.core(elementPath.slice(0, dot));
    const baseNode = core && nodeAt(core.root, elementPath);
    if (!baseNode) return;
    const contexts: ElementNode[] = [];
    for (const t of Array.isArray(e.type) ? e.type : []) {
      if (!isObject(t) || typeof t.code !== 'string') return;
      if (t.code === 'BackboneElement' || t.code === 'Element') contexts.push(baseNode);
      else {
        const root = typeRoot(run, t.code);
        if (!root) return; // a type we cannot walk: not judged
        contexts.push(root);
      }
    }
    if (contexts.length === 0) return;
    e.slicing.discriminator.forEach((d, di) => {
      if (!isObject(d) || typeof d.path !== 'string') return;
      if (selects(run, contexts, d.path) === false) {
        run.out.push(CODES.SD_DISCRIMINATOR_PATH, `${at}.element[${i}].slicing.discriminator[${di}]`, { discriminator: d.path, element: elementPath });
      }
    });
  });
}

/** The element at a path (`AuditEvent.agent.extension`) of a compiled definition, slices aside. */
function nodeAt(root: ElementNode, elementPath: string): ElementNode | undefined {
  const segs = elementPath.split('.');
  if (segs[0] !== root.path) return undefined;
  let node: ElementNode | undefined = root;
  for (let i = 1; i < segs.length && node; i++) node = node.children?.find((c) => c.name === segs[i]);
  return node;
}

/** The element tree of a complex type (its root), undefined for a primitive or unknown type. */
function typeRoot(run: Run, code: string): ElementNode | undefined {
  const def = run.profiles.core(code);
  if (!def || def.kind === 'primitive-type' || !def.root.children) return undefined;
  return def.root;
}

/**
 * Whether a discriminator path selects something from elements of these definitions: false when
 * one of its steps names an element none of them has, undefined when the path cannot be judged.
 */
function selects(run: Run, start: ElementNode[], path: string): boolean | undefined {
  let contexts = start;
  for (const step of splitSteps(path)) {
    if (step === '$this') continue;
    const fn = /^(\w+)\((.*)\)$/.exec(step);
    if (fn) {
      const arg = fn[2]!.trim().replace(/^['"]|['"]$/g, '');
      if ((fn[1] === 'extension' || fn[1] === 'modifierExtension') && fn[2]!.trim() !== '') {
        const ext = typeRoot(run, 'Extension');
        if (!ext) return undefined;
        contexts = [ext];
        continue;
      }
      if (fn[1] === 'ofType' && /^[A-Za-z]+$/.test(arg)) {
        const root = typeRoot(run, arg);
        if (!root) return undefined;
        contexts = [root];
        continue;
      }
      return undefined; // resolve() and other functions: not judged
    }
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(step)) return undefined;
    const next: ElementNode[] = [];
    let found = false;
    for (const ctx of contexts) {
      for (const c of ctx.children ?? []) {
        const name = c.isChoice ? c.name.slice(0, -3) : c.name;
        // A choice named for one of its types (`valueQuantity`) is not FHIRPath, but not judged wrong either.
        const typed = c.isChoice && step.startsWith(name) && step.length > name.length ? c.typeCodes.find((t) => t.toLowerCase() === step.slice(name.length).toLowerCase()) : undefined;
        if (name !== step && !typed) continue;
        found = true;
        if (c.contentReference) return undefined;
        if (c.children) next.push(c);
        else {
          for (const t of typed ? [typed] : c.typeCodes) {
            const root = typeRoot(run, t);
            if (root) next.push(root);
          }
        }
      }
    }
    if (!found) return false;
    if (next.length === 0) return undefined; // a primitive reached before the end: not judged further
    contexts = next;
  }
  return true;
}

/** The steps of a path (`extension('http://a.b/c').value`), split at the dots outside quotes and parentheses. */
function splitSteps(path: string): string[] {
  const steps: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of path.trim()) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '.' && depth === 0) {
      steps.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  steps.push(cur.trim());
  return steps;
}

interface SlicingJson {
  ordered?: unknown;
  rules?: unknown;
  discriminator?: unknown;
}

/**
 * A slice that states a slicing must state the one of the element it slices: the HL7
 * validator's snapshot generator reports a slice (`AuditEvent.agent.extension:extOtherId`)
 * whose slicing differs from the slicing set just before it (`AuditEvent.agent.extension`).
 * As there, only where the slicing element comes right before its first slice and slices an
 * element with no children and no slicing in the base (an extension, a datatype).
 */
function checkSlicingRestated(run: Run, diff: unknown[], parent: CompiledProfile, at: string): void {
  diff.forEach((intro, k) => {
    if (!isObject(intro) || !isObject(intro.slicing) || intro.sliceName !== undefined || typeof intro.id !== 'string' || typeof intro.path !== 'string') return;
    const prefix = `${intro.id}:`;
    const first = diff[k + 1];
    if (!isObject(first) || typeof first.id !== 'string' || !first.id.startsWith(prefix)) return;
    const baseNode = nodeAt(parent.root, intro.path);
    if (!baseNode || baseNode.slicing || (baseNode.children?.length ?? 0) > 0) return;
    for (let j = k + 1; j < diff.length; j++) {
      const slice = diff[j];
      if (!isObject(slice) || typeof slice.id !== 'string') continue;
      const name = slice.id.startsWith(prefix) ? slice.id.slice(prefix.length) : undefined;
      if (name === undefined || name.includes('.') || name.includes('/') || !isObject(slice.slicing)) continue;
      if (sameSlicing(intro.slicing, slice.slicing)) continue;
      run.out.push(CODES.SD_SLICING_RESTATED, `${at}.element[${j}].slicing`, {
        element: intro.id,
        slicing: describeSlicing(intro.slicing),
        slice: slice.id,
        restated: describeSlicing(slice.slicing),
      });
    }
  });
}

/** As the reference compares them: a slice may leave out `ordered` or `rules`, not add or change them. */
function sameSlicing(a: SlicingJson, b: SlicingJson): boolean {
  if (b.ordered !== undefined && a.ordered !== b.ordered) return false;
  if (b.rules !== undefined && a.rules !== b.rules) return false;
  const da = discriminators(a);
  const db = discriminators(b);
  return da.length === db.length && da.every((d, i) => d === db[i]);
}

function discriminators(s: SlicingJson): string[] {
  return (Array.isArray(s.discriminator) ? s.discriminator : []).map((d) => (isObject(d) ? `${String(d.type)}=${String(d.path)}` : '?'));
}

/** `unordered/open [value=url]`, `??` for what is not stated (the reference's wording). */
function describeSlicing(s: SlicingJson): string {
  const ordered = s.ordered === true ? 'ordered' : s.ordered === false ? 'unordered' : '??';
  return `${ordered}/${typeof s.rules === 'string' ? s.rules : '??'} [${discriminators(s).join(', ')}]`;
}
