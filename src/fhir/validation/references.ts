// References: format, `#id` to a contained resource, resolution in the Bundle (urn:uuid,
// relative against the entry's fullUrl, absolute), `Reference.type`, target types and target
// profiles (via the run's memoised conformance of the target), contained ids.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import { isObject, type Json } from './paths.js';
import { isResourceType } from './elements.js';
import type { Run } from './run.js';
import { isExampleUrl } from './extensions.js';

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';

export interface ReferenceInfo {
  allowedTypes: Set<string>;
  anyType: boolean;
  /** Target profiles other than the core resource definitions. */
  profiled: string[];
  /**
   * The profile's `aggregation` names `bundled` and leaves out `referenced`: in a Bundle, the
   * target must be one of its entries (or contained), not data held elsewhere. (Contained-only
   * aggregations, MHD's and NdE's, keep the general rules.)
   */
  localOnly: boolean;
}

const REFERENCE_SHAPE =
  /^(?:(?:https?:\/\/[^\s]+\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?|urn:uuid:[0-9a-fA-F-]{36}|urn:oid:[0-2](?:\.\d+)+|https?:\/\/\S+)$/;

/** `urn:uuid:` + 36 of [0-9a-fA-F-]: the urn:uuid branch of REFERENCE_SHAPE (no other branch matches it). */
function isUrnUuid(ref: string): boolean {
  if (ref.length !== 45 || !ref.startsWith('urn:uuid:')) return false;
  for (let i = 9; i < 45; i++) {
    const c = ref.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 45 || ((c | 32) >= 97 && (c | 32) <= 102))) return false;
  }
  return true;
}

/** Whether a target profile is a core type's own definition (`…/StructureDefinition/Patient`). */
function isCoreType(run: Run, tp: string): boolean {
  if (!tp.startsWith(CORE_SD)) return false;
  const name = tp.slice(CORE_SD.length);
  return name === 'Resource' || name === 'DomainResource' || run.profiles.core(name)?.type === name;
}

/** What a Reference element allows, from its targetProfiles (computed once per element). */
export function referenceInfo(run: Run, node: ElementNode): ReferenceInfo {
  const m = run.v.memoOf(node);
  if (m.reference) return m.reference;
  const refType = node.types.find((t) => t.code === 'Reference');
  const targetProfiles = refType?.targetProfile ?? [];
  const aggregation = Array.isArray(refType?.aggregation) ? (refType.aggregation as unknown[]) : [];
  const allowedTypes = new Set<string>();
  for (const versioned of targetProfiles) {
    // A canonical may carry its version (`…/Organization|4.0.1`, CDS CareTeam): the type is the same.
    const tp = versioned.split('|')[0]!;
    const t = isCoreType(run, tp) ? tp.slice(CORE_SD.length) : run.profiles.get(versioned)?.type ?? run.profiles.get(tp)?.type;
    if (t) allowedTypes.add(t);
    else allowedTypes.add('*');
  }
  const anyType = allowedTypes.size === 0 || allowedTypes.has('Resource') || allowedTypes.has('*');
  // The core namespace also holds profiles (`…/StructureDefinition/vitalsigns`): not type names.
  m.reference = {
    allowedTypes,
    anyType,
    profiled: targetProfiles.filter((tp) => !isCoreType(run, tp.split('|')[0]!)),
    localOnly: aggregation.includes('bundled') && !aggregation.includes('referenced'),
  };
  return m.reference;
}

export function checkReference(run: Run, obj: Json, node: ElementNode, path: string): void {
  const ref = obj.reference;
  if (typeof ref !== 'string') return;
  const { allowedTypes, anyType, profiled, localOnly } = referenceInfo(run, node);
  if (ref.startsWith('#')) {
    // `#id` names a resource contained in the container (for a contained resource, a sibling).
    const frame = run.frames[run.frames.length - 1];
    const contained = frame && Array.isArray(frame.root.contained) ? (frame.root.contained as Json[]) : [];
    if (ref !== '#' && !contained.some((c) => isObject(c) && c.id === ref.slice(1))) {
      run.out.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ' (no contained resource has this id)', detailFr: ' (aucune ressource contenue n’a cet id)' });
    }
    return;
  }
  let declaredType: string | undefined;
  // urn:uuid (most references in a transaction) is checked without the regex.
  if (!isUrnUuid(ref)) {
    const shape = REFERENCE_SHAPE.exec(ref);
    if (!shape) {
      // A reference with white space cannot be a URL (an error, as in the HL7 validator); any
      // other shape (`XXX/_history/1`, `something`) may be a URL this validator cannot read; a
      // malformed `urn:uuid:`/`urn:oid:` can never resolve (an error).
      run.out.push(CODES.REFERENCE_FORMAT, `${path}.reference`, { reference: ref }, /\s/.test(ref) || ref === '' || ref.startsWith('urn:') ? undefined : 'warning');
      return;
    }
    declaredType = shape[1];
    if (declaredType !== undefined && typeof obj.type === 'string' && obj.type !== declaredType) {
      run.out.push(CODES.REFERENCE_TYPE_MISMATCH, `${path}.type`, { type: obj.type, reference: ref, found: declaredType });
    }
  }
  if (declaredType && !anyType && !allowedTypes.has(declaredType) && isResourceType(run, declaredType)) {
    run.out.push(CODES.REFERENCE_TARGET_TYPE, `${path}.reference`, { type: declaredType, allowed: [...allowedTypes].join(', ') });
    return;
  }
  if (!run.bundle) return;
  const frame = run.frames[run.frames.length - 1];
  let target = run.bundle.resolve(ref, frame?.entry);
  // Several entries with the target's fullUrl (versions of one resource): an unversioned
  // reference is ambiguous, a versioned one must name a version the Bundle has (as the HL7
  // validator reads bundle.html#references).
  const sharing = target ? run.bundle.sharingFullUrl(target) : undefined;
  if (sharing) {
    const version = /\/_history\/([^/]+)$/.exec(ref)?.[1];
    if (version === undefined) {
      run.out.push(CODES.REFERENCE_AMBIGUOUS, `${path}.reference`, { reference: ref, count: String(sharing.length) });
      return;
    }
    target = sharing.find((t) => isObject(t.resource.meta) && t.resource.meta.versionId === version);
    if (!target) {
      run.out.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ` (${sharing.length} entries carry this resource, none in version ${version})`, detailFr: ` (${sharing.length} entrées portent cette ressource, aucune en version ${version})` });
      return;
    }
  }
  if (!target) {
    if (ref.startsWith('urn:')) {
      run.out.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ' (no Bundle entry has this fullUrl)', detailFr: ' (aucune entrée du Bundle n’a ce fullUrl)' });
    } else if (run.bundle.document && frame?.entry !== undefined && !/^https?:/.test(ref)) {
      // A document carries what it references (relative references resolve by the fullUrl rules).
      run.out.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ' (a document must contain what it references; a relative reference resolves against the fullUrl of the entry it is in)', detailFr: ' (un document doit contenir ce qu’il référence ; une référence relative se résout par rapport au fullUrl de son entrée)' });
    } else if (localOnly) {
      // The profile says the target travels with it (aggregation bundled, not referenced).
      run.out.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ' (the profile requires the target to be in the Bundle: aggregation "bundled", not "referenced")', detailFr: ' (le profil exige que la cible soit dans le Bundle : agrégation « bundled », pas « referenced »)' });
    } else {
      run.out.push(CODES.REFERENCE_OUTSIDE_BUNDLE, `${path}.reference`, { reference: ref });
    }
    return;
  }
  if (typeof target.resource.resourceType !== 'string') return; // the target's own error says it
  const targetType = target.resource.resourceType;
  if (declaredType !== undefined && declaredType !== targetType) {
    run.out.push(CODES.REFERENCE_RESOLVED_TYPE, `${path}.reference`, { reference: ref, found: targetType, target: target.path });
    return;
  }
  if (declaredType === undefined && typeof obj.type === 'string' && obj.type !== targetType) {
    run.out.push(CODES.REFERENCE_TYPE_MISMATCH, `${path}.type`, { type: obj.type, reference: ref, found: targetType });
  }
  if (!anyType && !allowedTypes.has(targetType)) {
    run.out.push(CODES.REFERENCE_TARGET_TYPE, `${path}.reference`, { type: targetType, allowed: [...allowedTypes].join(', ') });
    return;
  }
  if (profiled.length === 0) return;
  let known = 0;
  // Any one target profile will do: try those the target declares first (it is validated
  // against them anyway, so the answer is usually memoised) before walking it against others.
  const meta = target.resource.meta;
  const declared = isObject(meta) && Array.isArray(meta.profile) ? meta.profile : undefined;
  // Two passes over the (few) target profiles, declared ones first, instead of a sorted copy.
  const twoPasses = declared !== undefined && profiled.length > 1;
  for (let pass = twoPasses ? 0 : 1; pass < 2; pass++) {
    for (const tp of profiled) {
      if (twoPasses && declared.includes(tp) !== (pass === 0)) continue;
      const ok = run.conforms(target.resource, target.path, tp);
      if (ok === undefined) continue;
      known++;
      if (ok) return;
    }
  }
  if (known === 0) {
    for (const tp of profiled) {
      // From a package nobody knows: an error, as for extensions (D-41, D-48).
      if (!isExampleUrl(tp) && run.profiles.registry.packageFor(tp) === undefined) run.out.push(CODES.PROFILE_NOT_FOUND, `${path}.reference`, { url: tp, profile: run.frames[run.frames.length - 1]?.profile.url ?? '' });
      else run.out.once(`profile:${tp}`, CODES.PROFILE_UNKNOWN, `${path}.reference`, { url: tp, ...run.v.describeMissing(tp) });
    }
    return;
  }
  run.out.push(CODES.REFERENCE_TARGET_PROFILE, `${path}.reference`, {
    target: target.path,
    profiles: profiled.join(' or '),
  });
  run.targetOf.set(run.out.issues[run.out.issues.length - 1], target.path);
}

/** Contained resources are found by id (`#id`): two with one id make references ambiguous. */
export function checkContainedIds(run: Run, contained: unknown[], path: string): void {
  const seen = new Set<string>();
  contained.forEach((c, i) => {
    if (!isObject(c) || typeof c.id !== 'string') return;
    if (seen.has(c.id)) run.out.push(CODES.CONTAINED_DUPLICATE_ID, `${path}.contained[${i}].id`, { id: c.id });
    seen.add(c.id);
  });
}
