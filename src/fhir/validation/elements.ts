// The element walk: a JSON object against its element definition (known and unknown
// properties, required children, cardinalities, choice types, arrays, `_x` primitive
// extensions, nested and contained resources), handing each concern to its module:
// primitive-values, bindings, slicing, references, extensions, invariants, datatypes.
import { CODES } from '../outcome/codes.js';
import type { ChildRef, ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { isPrimitiveType } from './primitives.js';
import { describeValue } from './values.js';
import { at, isObject, type Json, type JsonName } from './paths.js';
import { resolve, type Resolved } from './resolution.js';
import { NO_PLAN, primitivePlanOf, quickValid, checkPrimitiveValue, type PrimitivePlan } from './primitive-values.js';
import { CODED_TYPES, checkBinding, checkCoding, checkFixedPattern, hasScheme } from './bindings.js';
import { checkInvariants, invariantsOf } from './invariants.js';
import { assignSlices, sliceRequirement } from './slicing.js';
import { checkReference } from './references.js';
import { checkExtension, extensionDefinition, isSubExtensionNode, modifierMismatch } from './extensions.js';
import { checkAttachment } from './datatypes.js';
import { validateProfileChoice } from './profile-choice.js';
import { checkComplexControls, checkPrimitiveControls } from './element-controls.js';
import type { Run } from './run.js';
import type { Validator } from './validator.js';

const RESOURCE_ID = /^[A-Z][A-Za-z]+\.id$/;
/**
 * Nesting limit (JSON objects below the root). Real TDDUI content stays under ~30 levels; the
 * limit keeps hostile input from exhausting the stack, and what lies below it is an error,
 * not a pass.
 */
export const MAX_DEPTH = 128;

/** Key positions remembered per element (NodeMemo.lastKeys): bounded, whatever the input. */
const KEY_CACHE = 32;

const EMPTY_NODES: ElementNode[] = [];
/** Shared, never written to. */
const EMPTY_VALUES: unknown[] = [];
/** Built with ChildRef's fields in ChildRef's order: one object shape where JsonNames are read. */
const EXTENSION_NAME: JsonName = { node: undefined, type: undefined, pos: -1, key: 'extension', ukey: '_extension', plan: undefined } as JsonName;

/** Positions of the children with min > 0, or with a slice whose min > 0. */
export function requiredOf(v: Validator, parent: ElementNode): number[] {
  const m = v.memoOf(parent);
  let list = m.required;
  if (!list) {
    list = [];
    (parent.children ?? []).forEach((c, i) => {
      if (c.min > 0 || c.slices.some((sl) => sl.min > 0)) list!.push(i);
    });
    m.required = list;
  }
  return list;
}

/** Validates a JSON object (resource, datatype or backbone element) against `node`. */
export function validateComplex(run: Run, obj: unknown, node: ElementNode, typeCode: string, path: string, profile: CompiledProfile): void {
  if (!isObject(obj)) {
    run.out.push(CODES.WRONG_JSON_TYPE, path, { expected: 'a JSON object', type: typeCode, found: describeValue(obj) });
    return;
  }
  if (run.depth >= MAX_DEPTH) {
    run.out.push(CODES.TOO_DEEP, path, { max: MAX_DEPTH });
    return;
  }
  const resolved = resolve(run, node, typeCode, profile, path);
  if (!resolved) return;
  // No try/finally: a FailFast unwinds to conformanceOf(), which restores the depth.
  run.depth++;
  if (resolved.choices !== undefined) validateProfileChoice(run, obj, node, typeCode, path, profile, resolved.choices);
  else walkChildren(run, obj, node, typeCode, path, resolved.profile ?? profile, resolved);
  run.depth--;
}

export function walkChildren(run: Run, obj: Json, node: ElementNode, typeCode: string, path: string, ctxProfile: CompiledProfile, resolved: Resolved): void {
  const parent = resolved.node;
  const index = parent.childIndex;
  const isResource = parent === ctxProfile.root && ctxProfile.kind === 'resource';
  const children = parent.children ?? EMPTY_NODES;
  let keys = 0;
  let underscores = false;
  // The JSON properties found, as their child refs: a scratch array per depth, reused from
  // one object to the next (no allocation per object). Nested walks use deeper slots.
  // (Entries past `n` are stale: the length is never reset, which would cost a runtime call.)
  const hits = (run.scratch[run.depth] ??= []);
  // Their values, read inside the for-in loop (where V8 reads them through the enum cache,
  // much cheaper than a keyed load by name later). undefined for `_x` alone.
  const values = (run.scratchValues[run.depth] ??= []);
  let n = 0;
  /** Choice elements present with a type that is not allowed (already reported). */
  let present: Set<number> | undefined;
  /** Some key is not one of `hits` (unknown, reported): invariant skips then look at the keys themselves. */
  let irregular = false;
  const pm = run.v.memoOf(parent);
  const lastKeys = (pm.lastKeys ??= []);
  const lastRefs = (pm.lastRefs ??= []);
  for (const key in obj) {
    const slot = keys++;
    if (isResource && key === 'resourceType') continue;
    const underscore = key.charCodeAt(0) === 95; /* _ */
    let hit: ChildRef | undefined;
    if (slot < KEY_CACHE && lastKeys[slot] === key) hit = lastRefs[slot];
    else {
      hit = key === 'fhir_comments' ? undefined : index?.get(underscore ? key.slice(1) : key);
      if (slot < KEY_CACHE) {
        lastKeys[slot] = key;
        lastRefs[slot] = hit;
      }
    }
    if (!hit) {
      const base = underscore ? key.slice(1) : key;
      irregular = true;
      const choice = choiceFor(run, children, base);
      if (choice) {
        // `valueString` where the (profiled) choice allows other types: name the rule that fails.
        run.out.push(CODES.TYPE_NOT_ALLOWED, `${path}.${key}`, {
          type: choice.type,
          allowed: choice.node.typeCodes.join(', '),
        });
        (present ??= new Set()).add(choice.pos);
      } else run.out.push(CODES.UNKNOWN_ELEMENT, `${path}.${key}`, { name: key, type: typeCode });
      continue;
    }
    if (underscore) {
      // `_x` only for primitives; handled with `x`, or alone when `x` is absent.
      const t = hit.type ?? hit.node.typeCodes[0] ?? '';
      if (!isPrimitiveType(t)) {
        irregular = true;
        run.out.push(CODES.UNKNOWN_ELEMENT, `${path}.${key}`, { name: key, type: typeCode });
        continue;
      }
      underscores = true;
      if (key.slice(1) in obj) continue;
    }
    const value = underscore ? undefined : obj[key];
    // Definition order (insertion sort: a handful of keys; stable, so a choice's names keep their order).
    let j = n - 1;
    while (j >= 0 && hits[j].pos > hit.pos) {
      hits[j + 1] = hits[j];
      values[j + 1] = values[j];
      j--;
    }
    hits[j + 1] = hit;
    values[j + 1] = value;
    n++;
  }
  if (keys === 0 && !isResource) {
    // A resource with nothing but its type is valid (the HL7 validator accepts it); an element is not.
    run.out.push(CODES.EMPTY_ELEMENT, path, { what: 'An empty object', whatFr: 'Un objet vide' });
  } else if (keys === 1 && !isResource && 'id' in obj) {
    // ele-1: an element needs a value or children other than its id.
    run.out.push(CODES.EMPTY_ELEMENT, path, { what: 'An element with only an id', whatFr: 'Un élément qui n’a qu’un id' });
  }
  // Absent children matter only when required: walk the (few) required positions, then the found ones.
  const required = requiredOf(run.v, parent);
  for (let r = 0; r < required.length; r++) {
    const pos = required[r];
    let seen = false;
    for (let h = 0; h < n && !seen; h++) seen = hits[h].pos === pos;
    if (!seen && !present?.has(pos)) {
      const child = children[pos];
      if (child.min > 0) run.out.push(CODES.CARDINALITY_MIN, path, { element: child.path, min: child.min, count: 0 }, undefined, ctxProfile.url);
      // A required slice of an absent element is missing whatever its discriminator.
      for (const sl of child.slices) {
        if (sl.min > 0) {
          const requires = child.slicing ? sliceRequirement(run, sl, child.slicing.discriminators) : { requires: '', requiresFr: '' };
          run.out.push(CODES.SLICE_MIN, path, { element: child.path, slice: sl.sliceName, min: sl.min, count: 0, ...requires, closest: '', closestFr: '' }, undefined, ctxProfile.url);
        }
      }
    }
  }
  for (let h = 0; h < n; ) {
    const hit = hits[h];
    const child = children[hit.pos];
    let end = h + 1;
    while (end < n && hits[end].pos === hit.pos) end++;
    if (end - h > 1) {
      // Several names of one choice element (valueString and valueBoolean).
      const group = hits.slice(h, end);
      run.out.push(CODES.MULTIPLE_CHOICE, path, { names: group.map((x) => x.key).join(', '), element: child.path });
      for (let g = h; g < end; g++) validateChildValues(run, obj, values[g], hits[g], child, path, ctxProfile, underscores);
    } else {
      const value = values[h];
      const plan = (hit.plan ??= primitivePlanOf(hit)) as PrimitivePlan;
      // Most values are valid primitives: their quick check reports nothing (see PrimitivePlan).
      if (plan === NO_PLAN || underscores || !quickValid(plan, value)) {
        validateChildValues(run, obj, value, hit, child, path, ctxProfile, underscores);
      } else if (plan.binding) checkBinding(run, value, plan.type, child, path, hit.key);
    }
    h = end;
  }
  // The keys the invariant skips look at: the child refs found (`hits`), and `resourceType`.
  const known = irregular ? -1 : n;
  checkInvariants(run, obj, node, path, ctxProfile, parent, known, isResource);
  const extra = (resolved.extraInvariants ??= resolved.extra.filter((e) => invariantsOf(run.v, e.root).length > 0));
  for (let x = 0; x < extra.length; x++) {
    const e = extra[x];
    checkInvariants(run, obj, e.root, path, e.profile ?? ctxProfile, parent, known, isResource);
  }
  if (typeCode === 'Extension') checkExtension(run, obj, node, path);
  else if (typeCode === 'Reference') checkReference(run, obj, node, path);
}

/** The choice element (`value[x]`) a JSON name such as `valueString` belongs to, if any. */
export function choiceFor(run: Run, children: ElementNode[], name: string): { node: ElementNode; pos: number; type: string } | undefined {
  for (let pos = 0; pos < children.length; pos++) {
    const c = children[pos];
    if (!c.isChoice || c.sliceName) continue;
    const base = c.name.slice(0, -3);
    if (name.length > base.length && name.startsWith(base)) {
      const ch = name.charCodeAt(base.length);
      if (ch < 65 || ch > 90) continue;
      // Only a real FHIR type name makes it a disallowed type; `valueBool` stays an unknown element.
      const suffix = name.slice(base.length);
      const t = isPrimitiveType(suffix.charAt(0).toLowerCase() + suffix.slice(1)) ? suffix.charAt(0).toLowerCase() + suffix.slice(1) : suffix;
      if (run.profiles.core(t)) return { node: c, pos, type: t };
    }
  }
  return undefined;
}

/** One JSON property (and its `_x` sibling) of an object, against its element definition. */
export function validateChildValues(
  run: Run,
  obj: Json,
  value: unknown,
  ref: JsonName,
  child: ElementNode,
  path: string,
  profile: CompiledProfile,
  underscores: boolean,
): void {
  const key = ref.key;
  // `_x` is read only when the object has underscore keys at all (most have none).
  const ext = underscores ? obj[ref.ukey] : undefined;
  const typeCode = ref.type ?? (child.typeCodes.length === 1 ? child.typeCodes[0] : undefined);
  if (child.isArray) {
    // The items' locations derive from the array's.
    const elPath = `${path}.${key}`;
    if ((value !== undefined && !Array.isArray(value)) || (ext !== undefined && !Array.isArray(ext))) {
      run.out.push(CODES.ARRAY_EXPECTED, elPath, { name: key });
      return;
    }
    const arr = (value as unknown[] | undefined) ?? EMPTY_VALUES;
    const exts = (ext as unknown[] | undefined) ?? EMPTY_VALUES;
    const n = Math.max(arr.length, exts.length);
    if (n === 0) {
      run.out.push(CODES.EMPTY_ELEMENT, elPath, { what: 'An empty array', whatFr: 'Un tableau vide' });
      return;
    }
    if (n < child.min) {
      run.out.push(CODES.CARDINALITY_MIN, path, { element: child.path, min: child.min, count: n }, undefined, profile.url);
    }
    if (n > child.max) {
      run.out.push(CODES.CARDINALITY_MAX, elPath, { element: child.path, max: child.max, count: n }, undefined, profile.url);
    }
    // Slices: each item is validated against the slice it matches (or the base element).
    const assigned = child.slicing && child.slices.length > 0 ? assignSlices(run, arr, child, elPath, profile) : undefined;
    for (let i = 0; i < n; i++) {
      const item = arr[i];
      const itemExt = exts[i];
      const target = assigned?.[i] ?? child;
      // JSON FHIR: a repeating primitive with only extensions is `null` in the value array and
      // its extensions in the `_name` array ("line": [null], "_line": [{"extension": [...]}]).
      const extOnly = (item === undefined || item === null) && itemExt !== undefined && itemExt !== null;
      validateValue(run, item ?? null, itemExt, target, typeCode, elPath, i, profile, extOnly);
    }
  } else {
    if (Array.isArray(value) || Array.isArray(ext)) {
      run.out.push(CODES.ARRAY_UNEXPECTED, `${path}.${key}`, { name: key });
      return;
    }
    if (child.max === 0) {
      run.out.push(CODES.CARDINALITY_MAX, `${path}.${key}`, { element: child.path, max: 0, count: 1 }, undefined, profile.url);
    }
    let target = child;
    if (child.slicing && child.slices.length > 0) {
      // A sliced single-valued element (typically a choice sliced by type).
      target = assignSlices(run, [value], child, `${path}.${key}`, profile, typeCode)?.[0] ?? child;
    }
    validateValue(run, value === undefined ? null : value, ext, target, typeCode, path, key, profile, value === undefined);
  }
}

/**
 * Validates one value against an element definition. Its location is `base` + `seg` (see
 * at()): built here for complex values, and only for findings for primitive ones (most
 * values), which then need no string of their own.
 */
export function validateValue(
  run: Run,
  value: unknown,
  ext: unknown,
  node: ElementNode,
  typeCode: string | undefined,
  base: string,
  seg: string | number,
  profile: CompiledProfile,
  extOnly = false,
): void {
  if (!typeCode) {
    if (node.types.length === 0 && (node.children || node.contentReference)) typeCode = 'BackboneElement';
    else if (node.types.length === 0) return;
    else typeCode = node.typeCodes[0];
  }
  if (isPrimitiveType(typeCode)) {
    if (!extOnly) checkPrimitiveValue(run, value, typeCode, node, base, seg, profile);
    else if (ext === null || ext === undefined) run.out.push(CODES.EMPTY_ELEMENT, at(base, seg), { what: 'A null value', whatFr: 'Une valeur null' });
    if (ext !== undefined && ext !== null) {
      validatePrimitiveExtensions(run, ext, typeCode, at(base, seg), profile);
      // The resource's own id is its identity, not data: no extensions (as the HL7 validator).
      if (node.name === 'id' && isObject(ext) && Array.isArray(ext.extension) && isResourceId(run, node)) {
        for (const x of ext.extension) run.out.push(CODES.RESOURCE_ID_EXTENSION, at(base, seg), { url: isObject(x) && typeof x.url === 'string' ? x.url : '?' });
      }
    }
    if (!extOnly) checkFixedPattern(run, value, node, base, seg);
    if (node.binding && !extOnly) checkBinding(run, value, typeCode, node, base, seg);
    if (node.controls !== undefined) checkPrimitiveControls(run, node.controls, value, ext, extOnly, node, typeCode, base, seg, profile);
    return;
  }
  const path = at(base, seg);
  if (value === null) {
    run.out.push(CODES.EMPTY_ELEMENT, path, { what: 'A null value', whatFr: 'Une valeur null' });
    return;
  }
  if (isResourceTyped(run, node, typeCode)) {
    validateContainedResource(run, value, node, path);
    return;
  }
  if (node.types.length > 0 && !node.typeCodes.includes(typeCode)) {
    run.out.push(CODES.TYPE_NOT_ALLOWED, path, { type: typeCode, allowed: node.typeCodes.join(', ') });
    return;
  }
  if (run.visitor !== undefined && run.visitor.types.has(typeCode) && isObject(value)) run.visitor.visit(typeCode, value, path);
  if (typeCode === 'Coding' && isObject(value)) checkCoding(run, value, path);
  else if (typeCode === 'Attachment' && isObject(value) && typeof value.data === 'string' && (value.size !== undefined || value.hash !== undefined)) {
    checkAttachment(run, value, path);
  } else if (typeCode === 'Identifier' && isObject(value) && typeof value.system === 'string' && !hasScheme(value.system)) {
    run.out.push(CODES.SYSTEM_NOT_ABSOLUTE, `${path}.system`, { system: value.system, type: 'Identifier' });
  }
  if (typeCode === 'Extension' && node.children === undefined && isObject(value)) {
    // Walked once, against the definition its url names, when there is one (see extensionDefinition).
    const def = extensionDefinition(run, value, node);
    if (def && def.root.isModifier !== (node.name === 'modifierExtension') && (node.name === 'extension' || node.name === 'modifierExtension') && !isSubExtensionNode(node)) {
      modifierMismatch(run, value.url as string, node.name === 'modifierExtension', path);
    }
    if (def) validateComplex(run, value, def.root, typeCode, path, def);
    else validateComplex(run, value, node, typeCode, path, profile);
  } else validateComplex(run, value, node, typeCode, path, profile);
  checkFixedPattern(run, value, node, path, undefined);
  if (node.binding && CODED_TYPES.has(typeCode)) checkBinding(run, value, typeCode, node, path, undefined);
  if (node.controls !== undefined) checkComplexControls(run, node.controls, value, typeCode, path, profile);
}

export function isResourceId(run: Run, node: ElementNode): boolean {
  const m = run.v.memoOf(node);
  return (m.resourceId ??= RESOURCE_ID.test(node.path) && run.profiles.core(node.path.slice(0, -3))?.kind === 'resource');
}

/** Whether values of `node` typed `typeCode` are resources (memoised for the element's first type). */
export function isResourceTyped(run: Run, node: ElementNode, typeCode: string): boolean {
  if (typeCode !== node.typeCodes[0]) return isResourceTypeCode(run, typeCode);
  const m = run.v.memoOf(node);
  return (m.resourceTyped ??= isResourceTypeCode(run, typeCode));
}

export function isResourceTypeCode(run: Run, typeCode: string): boolean {
  return typeCode === 'Resource' || typeCode === 'DomainResource' || isResourceType(run, typeCode);
}

export function isResourceType(run: Run, code: string): boolean {
  const p = run.profiles.core(code);
  return !!p && p.kind === 'resource';
}

/** Bundle.entry.resource, contained resources, Parameters.parameter.resource. */
export function validateContainedResource(run: Run, value: unknown, node: ElementNode, path: string): void {
  const m = run.v.memoOf(node);
  let profiles = (m.profiles ??= node.types.flatMap((t) => t.profile ?? []));
  if (isObject(value) && typeof value.resourceType === 'string') {
    const allowed = (m.resourceTypes ??= node.types.map((t) => t.code).filter((c) => c !== 'Resource' && c !== 'DomainResource'));
    if (allowed.length > 0 && !allowed.includes(value.resourceType)) {
      run.out.push(CODES.TYPE_NOT_ALLOWED, path, { type: value.resourceType, allowed: allowed.join(', ') });
      return;
    }
    if (node.types.length > 1 && profiles.length > 0) {
      // Several types, each with its profiles (contained Patient | Practitioner...): only the
      // profiles of the resource's own type apply, and they are alternatives — the first one
      // it conforms to (else the first, whose errors are reported).
      const own = node.types.filter((t) => t.code === value.resourceType).flatMap((t) => t.profile ?? []);
      profiles = own.length > 1 ? [own.find((u) => run.conforms(value, path, u) === true) ?? own[0]!] : own;
    }
  }
  run.validateResource(value, path, profiles);
}

/** `_x` objects of primitives: only `id` and `extension`. */
export function validatePrimitiveExtensions(run: Run, ext: unknown, typeCode: string, path: string, profile: CompiledProfile): void {
  const core = run.profiles.core(typeCode);
  if (!core) return;
  if (!isObject(ext)) {
    run.out.push(CODES.WRONG_JSON_TYPE, path, { expected: 'a JSON object', type: `_${typeCode}`, found: describeValue(ext) });
    return;
  }
  for (const k in ext) {
    if (k !== 'id' && k !== 'extension') run.out.push(CODES.UNKNOWN_ELEMENT, `${path}.${k}`, { name: k, type: typeCode });
  }
  const extNode = core.root.childIndex?.get('extension')?.node;
  if (extNode && ext.extension !== undefined) validateChildValues(run, ext, ext.extension, EXTENSION_NAME, extNode, path, profile, false);
}
