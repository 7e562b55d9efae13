// Invariants: the FHIRPath constraints of an element (base spec, datatype roots, profiles),
// compiled once per element, skipped when every element they read is absent, run with the
// frame's resource as %resource and its container as %rootResource (a contained resource's
// container; a Bundle entry's resource is its own root, as in the HL7 validator).
import { CODES } from '../outcome/codes.js';
import type { Severity } from '../outcome/issue.js';
import { makeIssueWithMessages, messagesOf } from '../outcome/rule.js';
import type { CompiledInvariant, InvariantResult } from '../fhirpath/invariants.js';
import { PRIMITIVE_NATIVE_CONSTRAINTS, type ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { at, type Json } from './paths.js';
import type { Run } from './run.js';
import type { Validator } from './validator.js';

/**
 * Per invariant of an element (same order as invariantsOf), which children of the element's
 * parent definition it may read: `reads[pos]` = 1 for a child position whose JSON names the
 * invariant may read, and `reads[children.length]` = 1 when it may read `resourceType`. null:
 * never skippable. Lets the walk decide "every element it reads is absent" from the child
 * refs it has already found, instead of going over the object's keys again per invariant.
 */
export type InvariantReads = (Uint8Array | null)[];

/** A compiled invariant of an element, with the text of its finding (built at its first failure: it depends only on the constraint). */
export interface CompiledEntry {
  c: ElementNode['constraints'][number];
  inv: CompiledInvariant;
  messages: { en: string; fr: string | undefined } | undefined;
}

/** Compiled invariants of a primitive element, but those its value checks cover (see ElementNode.primitiveExtra). */
export function primitiveInvariantsOf(v: Validator, node: ElementNode): CompiledEntry[] {
  const m = v.memoOf(node);
  return (m.primitiveInvariants ??= invariantsOf(v, node).filter((e) => !PRIMITIVE_NATIVE_CONSTRAINTS.has(e.c.key)));
}

/** Compiled invariants of an element (skipping those with no expression or handled natively elsewhere). */
export function invariantsOf(v: Validator, node: ElementNode): CompiledEntry[] {
  const m = v.memoOf(node);
  let list = m.invariants;
  if (!list) {
    list = [];
    for (const c of node.constraints) {
      const inv = v.invariants.compile(c, node.path);
      if (inv) list.push({ c, inv, messages: undefined });
    }
    m.invariants = list;
  }
  return list;
}

/** Which children of `parent` each invariant of `node` may read (memoised per node and parent). */
export function readsOf(v: Validator, node: ElementNode, parent: ElementNode, compiled: { inv: CompiledInvariant }[]): InvariantReads {
  const m = v.memoOf(node);
  if (m.readsParent === parent) return m.reads!;
  let reads = m.readsByParent?.get(parent);
  if (!reads) {
    const size = (parent.children?.length ?? 0) + 1;
    reads = compiled.map(({ inv }) => {
      if (inv.readNames === null) return null;
      const r = new Uint8Array(size);
      if (parent.childIndex) for (const ref of parent.childIndex.values()) if (v.invariants.mayRead(inv, ref.key)) r[ref.pos] = 1;
      if (v.invariants.mayRead(inv, 'resourceType')) r[size - 1] = 1;
      return r;
    });
    (m.readsByParent ??= new Map()).set(parent, reads);
  }
  m.readsParent = parent;
  m.reads = reads;
  return reads;
}

/**
 * `known`: how many entries of this depth's scratch refs are every key of `obj` (but
 * `resourceType` of a resource), or -1 when some key is not among them.
 */
export function checkInvariants(run: Run, obj: Json, node: ElementNode, path: string, profile: CompiledProfile, parent: ElementNode, known: number, isResource: boolean): void {
  if (node.constraints.length === 0) return;
  const compiled = invariantsOf(run.v, node);
  if (compiled.length === 0) return;
  const frame = run.frames[run.frames.length - 1];
  const reads = known >= 0 ? readsOf(run.v, node, parent, compiled) : undefined;
  const hits = run.scratch[run.depth];
  for (let k = 0; k < compiled.length; k++) {
    const entry = compiled[k];
    const inv = entry.inv;
    if (reads) {
      const r = reads[k];
      if (r !== null) {
        let read = isResource && r[r.length - 1] === 1;
        for (let h = 0; h < known && !read; h++) read = r[hits[h].pos] === 1;
        if (!read && run.v.invariants.emptyOk(inv)) continue;
      }
    } else if (run.v.invariants.canSkip(inv, obj)) continue;
    const r = inv.run(obj, frame?.resource ?? obj, frame?.root ?? obj);
    if (r.ok !== true) invariantFailed(run, entry, r, node, path, profile);
  }
}

/** Reports an invariant that failed (or could not be evaluated) at `path`. */
export function invariantFailed(run: Run, entry: CompiledEntry, r: InvariantResult, node: ElementNode, path: string, profile: CompiledProfile): void {
  const c = entry.c;
  if (r.ok === 'error') {
    run.out.once(`inv-error:${c.key}:${node.path}`, CODES.INVARIANT_ERROR, path, { key: c.key, detail: r.message, detailFr: `le moteur FHIRPath a signalé « ${r.message} »` });
    return;
  }
  const severity: Severity = c.bestPractice ? 'information' : c.severity === 'error' ? 'error' : 'warning';
  // The message depends only on the constraint: built once (most failures are best-practice
  // notes such as dom-6 on every narrative-less resource).
  const messages = (entry.messages ??= messagesOf(CODES.INVARIANT, { key: c.key, human: c.human }));
  run.out.pushIssue(CODES.INVARIANT, makeIssueWithMessages(CODES.INVARIANT, path, messages, severity, c.source ?? profile.url));
}

/**
 * The invariants stated on a primitive element (a profile's, or eld-3 on ElementDefinition.max),
 * with the value as context. On a choice (`Observation.effective[x]`) they are compiled for the
 * type the value has (`Observation.effectiveDateTime`): a raw value is typed by its path only,
 * and R4's vs-1 `($this as dateTime)...` was empty, hence failed, on every vital sign.
 */
export function checkPrimitiveInvariants(run: Run, value: unknown, node: ElementNode, base: string, seg: string | number | undefined, profile: CompiledProfile, typeCode?: string): void {
  const compiled = node.path.endsWith('[x]') && typeCode !== undefined ? choiceInvariantsOf(run.v, node, typeCode) : primitiveInvariantsOf(run.v, node);
  if (compiled.length === 0) return;
  const frame = run.frames[run.frames.length - 1];
  for (const entry of compiled) {
    const r = entry.inv.run(value, frame?.resource ?? value, frame?.root ?? value);
    if (r.ok !== true) invariantFailed(run, entry, r, node, at(base, seg), profile);
  }
}

/** primitiveInvariantsOf for a choice element's value of one type (memoised per type). */
function choiceInvariantsOf(v: Validator, node: ElementNode, typeCode: string): CompiledEntry[] {
  const m = v.memoOf(node);
  let list = m.choiceInvariants?.get(typeCode);
  if (!list) {
    const typed = node.path.slice(0, -3) + typeCode.charAt(0).toUpperCase() + typeCode.slice(1);
    list = [];
    for (const c of node.constraints) {
      if (PRIMITIVE_NATIVE_CONSTRAINTS.has(c.key)) continue;
      const inv = v.invariants.compile(c, typed);
      if (inv) list.push({ c, inv, messages: undefined });
    }
    (m.choiceInvariants ??= new Map()).set(typeCode, list);
  }
  return list;
}
