// How the children of an element are found: its own (from the snapshot), or those of its
// type or type profile, with the invariant roots that come with them; memoised per element
// (and type) on the validator's NodeMemo.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { profileElementOf } from '../profiles/snapshot.js';
import type { Run } from './run.js';

/** How the children of an element are found, memoised per element (and type). */
export interface Resolved {
  /** The element whose children are walked. */
  node: ElementNode;
  /** The profile those children belong to; null: the caller's profile (the element's own children). */
  profile: CompiledProfile | null;
  typeRoot?: ElementNode;
  /** Extra invariant roots (datatype, type profile) and the profile they are reported for (null: the context's). */
  extra: { root: ElementNode; profile: CompiledProfile | null }[];
  /** `extra` without the roots that have no invariant to run (most datatype roots: ele-1 only); computed once. */
  extraInvariants?: Resolved['extra'];
  /** A type profile checked only partly / not loaded: reported once per run that uses it. */
  partial?: CompiledProfile;
  partialKey?: string;
  unknownProfile?: string;
  /**
   * The type names several profiles (Patient.address: Address with profile A or B): they are
   * alternatives, each resolved here (undefined: not loaded); see profile-choice.ts.
   */
  choices?: ProfileChoice[];
}

/** One of the profiles an element's type names as alternatives. */
export interface ProfileChoice {
  url: string;
  resolved: Resolved | undefined;
}

/** A Resolved with all its fields (one object shape). */
export function resolved(
  node: ElementNode,
  profile: CompiledProfile | null,
  typeRoot: ElementNode | undefined,
  extra: Resolved['extra'],
  partial?: CompiledProfile,
  unknownProfile?: string,
): Resolved {
  return { node, profile, typeRoot, extra, extraInvariants: undefined, partial, partialKey: partial ? `partial:${partial.url}` : undefined, unknownProfile, choices: undefined };
}

/** The element with snapshot id `id` under `root`, slices included (`Composition.section:codeA`). */
export function findById(root: ElementNode | undefined, id: string): ElementNode | undefined {
  if (!root) return undefined;
  if (root.id === id) return root;
  if (!id.startsWith(root.id)) return undefined;
  for (const c of root.children ?? []) {
    const hit = findById(c, id);
    if (hit) return hit;
  }
  for (const s of root.slices) {
    const hit = findById(s, id);
    if (hit) return hit;
  }
  return undefined;
}

/** Children of an element: its own (from the snapshot) or those of its type / type profile; memoised per element. */
export function resolve(run: Run, node: ElementNode, typeCode: string, profile: CompiledProfile, path: string): Resolved | null {
  const m = run.v.memoOf(node);
  let r: Resolved | null | undefined;
  if (node.contentReference && !node.children) {
    r = (m.byProfile ??= new Map()).get(profile);
    if (r === undefined) {
      const id = node.contentReference.slice(node.contentReference.indexOf('#') + 1);
      // The element as the base type defines it: a profile's constraints on the referenced
      // element (Parameters.parameter's name pattern) do not apply again at every nesting level
      // (Parameters.parameter.part), where the HL7 validator does not apply them either.
      const target = findById(run.profiles.core(id.split('.')[0])?.root, id) ?? findById(profile.root, id);
      r = target ? resolved(target, null, undefined, extraRoots(run, target, typeCode, false)) : null;
      m.byProfile.set(profile, r);
    }
  } else if (m.lastType === typeCode) {
    // Most elements are walked with one type: the last answer first, then the map.
    r = m.lastResolved as Resolved | null;
  } else {
    r = (m.byType ??= new Map()).get(typeCode);
    if (r === undefined) {
      r = computeResolved(run, node, typeCode);
      m.byType.set(typeCode, r);
    }
    m.lastType = typeCode;
    m.lastResolved = r;
  }
  if (r) noteResolution(run, r, path);
  return r;
}

/** What could not be checked is reported in every run that uses the resolution. */
export function noteResolution(run: Run, r: Resolved, path: string): void {
  if (r.partial && !run.out.bump(r.partialKey!)) {
    const p = r.partial;
    run.out.once(r.partialKey!, CODES.PROFILE_PARTIAL, path, { profile: p.url, missing: p.missing.join(', '), ...run.v.describeMissing(p.missing[0]) });
  }
  if (r.unknownProfile) noteUnknownProfile(run, r.unknownProfile, path);
}

export function noteUnknownProfile(run: Run, url: string, path: string): void {
  const key = run.v.onceKey('profile:', url);
  if (!run.out.bump(key)) run.out.once(key, CODES.PROFILE_UNKNOWN, path, { url, ...run.v.describeMissing(url) });
}

export function computeResolved(run: Run, node: ElementNode, typeCode: string): Resolved | null {
  if (node.children && node.childIndex) {
    // A root is walked with its own profile; its invariants are its own.
    const isRoot = !node.path.includes('.');
    return resolved(node, null, undefined, isRoot ? [] : extraRoots(run, node, typeCode, true));
  }
  const i = node.typeCodes.indexOf(typeCode);
  const t = i >= 0 ? node.types[i] : node.types[0];
  const profileUrl = t?.profile?.[0];
  // Several profiles on the one type of a datatype element are alternatives (the HL7 validator
  // tries each; on a choice element [x] it reads the first only, as here). Extensions are
  // identified by their url, references and resources checked elsewhere.
  if (t && t.profile && t.profile.length > 1 && node.types.length === 1 && !node.isChoice && typeCode !== 'Extension' && typeCode !== 'Reference' && run.profiles.core(typeCode)?.kind === 'complex-type') {
    const choices = t.profile.map((url): ProfileChoice => {
      const p = run.profiles.get(url);
      return { url, resolved: p ? resolved(p.root, p, p.root, [], p.missing.length > 0 ? p : undefined) : undefined };
    });
    const first = choices.find((c) => c.resolved)?.resolved;
    if (first) return { ...first, partial: undefined, partialKey: undefined, choices };
  }
  let unknownProfile: string | undefined;
  if (profileUrl) {
    const p = run.profiles.get(profileUrl);
    const eid = p && profileElementOf(t);
    if (p && eid !== undefined) {
      // An element of the profile is the type constraint (its children, slicing, constraints).
      const target = findById(p.root, eid);
      if (target) return resolved(target, p, target, extraRoots(run, target, typeCode, false), p.missing.length > 0 ? p : undefined);
    } else if (p) {
      return resolved(p.root, p, p.root, p.root !== node ? [{ root: p.root, profile: null }] : [], p.missing.length > 0 ? p : undefined);
    }
    if (typeCode !== 'Extension') unknownProfile = profileUrl;
  }
  const core = run.profiles.core(typeCode);
  if (!core) return null;
  return resolved(core.root, core, core.root, core.root !== node ? [{ root: core.root, profile: null }] : [], undefined, unknownProfile);
}

/**
 * Invariant roots beyond the element itself: a snapshot element carries only its own
 * constraints; those of its datatype (per-1 on Period...) and type profile live on their roots.
 */
export function extraRoots(run: Run, node: ElementNode, typeCode: string, typed: boolean): Resolved['extra'] {
  const out: Resolved['extra'] = [];
  const core = run.profiles.core(typeCode);
  if (core && core.kind !== 'resource' && core.root !== node) out.push({ root: core.root, profile: null });
  if (typed) {
    const i = node.typeCodes.indexOf(typeCode);
    // A type profile naming one of its elements brought that element's constraints into the
    // snapshot (snapshot.ts): its root's invariants are not the element's.
    const tp = i >= 0 && profileElementOf(node.types[i]) === undefined ? node.types[i].profile?.[0] : undefined;
    const prof = tp ? run.profiles.get(tp) : undefined;
    if (prof && prof.root !== node) out.push({ root: prof.root, profile: prof });
  }
  return out;
}
