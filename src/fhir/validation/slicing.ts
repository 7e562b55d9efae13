// Slicing: each item of a sliced element assigned to the first slice it matches (value,
// pattern, type, profile and exists discriminators on a small FHIRPath subset), slice
// cardinalities, closed and ordered slicings, unknown sub-extensions, and the closest slice
// profile of an item that matches none. What a sliced element needs is computed once
// (SlicingMemo), with an index of the slices by discriminator value.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import type { BundleIndex } from './bundle-index.js';
import { deepEqual } from './values.js';
import { isObject } from './paths.js';
import { containsTestOf, inValueSet } from './bindings.js';
import { isSubExtensionNode } from './extensions.js';
import { referenceInfo } from './references.js';
import { stopAtError, type Run } from './run.js';

/** What slice matching needs of a sliced element. */
export interface SlicingMemo {
  /** Per slice: can its discriminators be evaluated with what is loaded? */
  evaluable: boolean[];
  byProfile: boolean;
  /** Profile discriminators: profile url -> indexes of the slices whose resource has that profile. */
  slicesOfProfile: Map<string, number[]>;
  /** declaredFirst's answer for a resource declaring one profile, by that profile (computed once). */
  orderOfProfile: Map<string, number[] | undefined>;
  /** Parsed discriminator paths, by discriminator. */
  steps: Step[][];
  unevaluable: ElementNode[];
  /** The sub-extensions of a complex extension (relative urls). */
  subExtensions: boolean;
  /** The key of the last "not evaluable" note, and its profile (see sliceNoteKey). */
  noteProfile: CompiledProfile | undefined;
  noteKey: string | undefined;
  /** Candidate slices by discriminator value (see sliceIndex); null: slices are tried in order. */
  index: SliceIndex | null;
  /**
   * Profile slicing (Bundle entries): the resource type of the last item that stopped a check
   * run until its first error (D-284). Such a check looks at those items first next time: the
   * same defect (a version's rule most documents of a sender break) is then found at once.
   */
  failedType: string | undefined;
}

/**
 * The slices of a sliced element by the value their discriminator `di` expects, when that value
 * is a string (extension url, identifier system...) or a single code (a Coding or one-coding
 * CodeableConcept pattern). An item can only match a slice whose expected string equals one of
 * its values, or whose expected code is one of its codes: the other keyed slices are not tried.
 * Every candidate is still checked by matchesSlice, in slice order, so the first matching slice
 * is the same as when trying them all.
 */
interface SliceIndex {
  di: number;
  byString: Map<string, number[]>;
  byCode: Map<string, number[]>;
  /** Evaluable slices without a key for `di` (tried for every item). */
  others: number[];
}

/** The key of a discriminator's expected value: a string, a code, or undefined (not indexable). */
function expectedKey(expected: unknown): { string?: string; code?: string } | undefined {
  if (typeof expected === 'string') return { string: expected };
  if (!isObject(expected)) return undefined;
  const coding = expected.coding;
  if (Array.isArray(coding)) {
    return coding.length === 1 && isObject(coding[0]) && typeof coding[0].code === 'string' ? { code: coding[0].code } : undefined;
  }
  return typeof expected.code === 'string' ? { code: expected.code } : undefined;
}

/** Two ascending lists of slice indexes, merged (ascending, without repeats) onto `out`. */
function mergeAscending(a: readonly number[], b: readonly number[] | undefined, out: number[]): void {
  let i = 0;
  let j = 0;
  const nb = b ? b.length : 0;
  while (i < a.length || j < nb) {
    if (j >= nb || (i < a.length && a[i] < b![j])) out.push(a[i++]);
    else if (i < a.length && a[i] === b![j]) {
      out.push(a[i++]);
      j++;
    } else out.push(b![j++]);
  }
}

/** What assignSlices needs of a sliced element, computed once. */
export function slicingMemo(run: Run, node: ElementNode): SlicingMemo {
  const m = run.v.memoOf(node);
  if (m.slicing) return m.slicing;
  const slicing = node.slicing!;
  const discs = slicing.discriminators;
  const evaluable = node.slices.map((s) => discs.length > 0 && sliceIsEvaluable(run, s, discs, slicing.inferred === true));
  const byProfile = discs.some((d) => d.type === 'profile');
  const slicesOfProfile = new Map<string, number[]>();
  if (byProfile) {
    node.slices.forEach((s, i) => {
      const target = sliceTarget(run, s, 'resource') ?? s;
      for (const t of target.types) for (const p of t.profile ?? []) {
        const list = slicesOfProfile.get(p) ?? [];
        if (!list.includes(i)) list.push(i);
        slicesOfProfile.set(p, list);
      }
    });
  }
  m.slicing = {
    evaluable,
    byProfile,
    slicesOfProfile,
    orderOfProfile: new Map(),
    steps: discs.map((d) => parsePath(d.path)),
    unevaluable: node.slices.filter((s, i) => !evaluable[i] && (s.min > 0 || slicing.inferred)),
    subExtensions: isSubExtensionNode(node),
    noteProfile: undefined,
    noteKey: undefined,
    failedType: undefined,
    index: null,
  };
  m.slicing.index = sliceIndex(run, node, discs, evaluable);
  return m.slicing;
}

/** See SliceIndex: built for the first value/pattern discriminator that keys some slices (4 slices or more). */
export function sliceIndex(run: Run, node: ElementNode, discs: { type: string; path: string }[], evaluable: boolean[]): SliceIndex | null {
  if (node.slices.length < 4) return null;
  for (let di = 0; di < discs.length; di++) {
    if (discs[di].type !== 'value' && discs[di].type !== 'pattern') continue;
    const index: SliceIndex = { di, byString: new Map(), byCode: new Map(), others: [] };
    let keyed = 0;
    node.slices.forEach((slice, si) => {
      if (!evaluable[si]) return;
      const target = sliceTarget(run, slice, discs[di].path);
      const key = target ? expectedKey(target.fixed ?? target.pattern) : undefined;
      if (!key) {
        index.others.push(si);
        return;
      }
      const map = key.string !== undefined ? index.byString : index.byCode;
      const k = key.string ?? key.code!;
      const list = map.get(k);
      if (list) list.push(si);
      else map.set(k, [si]);
      keyed++;
    });
    if (keyed > 0) return index;
  }
  return null;
}

/**
 * The slices item `i` may match, ascending, into `out`, when the item's values at the indexed
 * discriminator give at most one key; false: try every slice. Fills `values[di]`.
 */
export function candidateSlices(
  run: Run,
  idx: SliceIndex,
  sm: SlicingMemo,
  item: unknown,
  values: (unknown[] | undefined)[],
  path: string,
  i: number,
  itemPathOf: (i: number) => string,
  out: number[],
): boolean {
  const vals = (values[idx.di] ??= evalSteps(item, sm.steps[idx.di], run, path, i, itemPathOf));
  let str: string | undefined;
  let code: string | undefined;
  let keys = 0;
  for (const v of vals) {
    if (typeof v === 'string') {
      if (str !== v) keys++;
      str = v;
    } else if (isObject(v)) {
      const coding = v.coding;
      if (Array.isArray(coding)) {
        for (const c of coding) {
          if (!isObject(c) || typeof c.code !== 'string') continue;
          if (code !== c.code) keys++;
          code = c.code;
        }
      } else if (typeof v.code === 'string') {
        if (code !== v.code) keys++;
        code = v.code;
      }
    }
  }
  if (keys > 1) return false;
  out.length = 0;
  const hits = str !== undefined ? idx.byString.get(str) : code !== undefined ? idx.byCode.get(code) : undefined;
  mergeAscending(idx.others, hits, out);
  return true;
}

/** The once() key of "slices not evaluable" for this element and profile (the last one is kept on the memo). */
export function sliceNoteKey(run: Run, sm: SlicingMemo, node: ElementNode, profile: CompiledProfile): string {
  sm.noteProfile = profile;
  return (sm.noteKey = `slice:${profile.url}:${node.id}`);
}

/** Assigns each item to the first slice it matches; checks slice cardinalities and closed slicing. */
export function assignSlices(
  run: Run,
  items: unknown[],
  node: ElementNode,
  path: string,
  profile: CompiledProfile,
  singleType?: string,
): (ElementNode | undefined)[] {
  const slicing = node.slicing!;
  const sm = slicingMemo(run, node);
  const slices = node.slices;
  const out: (ElementNode | undefined)[] = new Array(items.length);
  // (A loop: Array.prototype.fill is a runtime call.)
  const counts: number[] = [];
  for (let si = 0; si < slices.length; si++) counts.push(0);
  let lastSliceIndex = -1;
  const itemPathOf = (i: number) => (items.length === 1 && singleType !== undefined ? path : `${path}[${i}]`);
  // One list per call: matchesSlice may walk other resources (and their slicings) meanwhile.
  const candidates = sm.index && singleType === undefined ? [] : undefined;
  // Stopping at the first error (D-284): the items of the type that failed last are looked at
  // first. Which items match which slices does not depend on the order (unordered slicing).
  const visit = run.out.failFast && sm.failedType !== undefined && !slicing.ordered ? failedFirst(items, sm.failedType) : undefined;
  for (let step = 0; step < items.length; step++) {
    const i = visit ? visit[step] : step;
    const item = items[i];
    const values: (unknown[] | undefined)[] = [];
    const order = sm.byProfile
      ? declaredFirst(run, item, sm)
      : candidates && candidateSlices(run, sm.index!, sm, item, values, path, i, itemPathOf, candidates)
        ? candidates
        : undefined;
    const n = order ? order.length : slices.length;
    for (let k = 0; k < n; k++) {
      const si = order ? order[k] : k;
      if (!sm.evaluable[si]) continue;
      const s = slices[si];
      if (matchesSlice(run, item, s, slicing, sm, path, i, itemPathOf, values, singleType)) {
        out[i] = s;
        counts[si]++;
        if (slicing.ordered && si < lastSliceIndex) run.out.push(CODES.SLICE_ORDER, itemPathOf(i), { slice: s.sliceName, element: node.path });
        if (si > lastSliceIndex) lastSliceIndex = si;
        break;
      }
    }
    if (!out[i]) {
      const itemPath = itemPathOf(i);
      const closed = slicing.rules === 'closed';
      // Stopping at the first error: an unmatched item of a closed slicing is one, and so is one
      // that fails every slice profile of its type (explained below against the closest, which
      // costs a full validation against each). Nothing to explain then.
      if (run.out.failFast && (closed || (sm.byProfile && failsEveryProfile(run, item, node, itemPath)))) {
        if (sm.byProfile) sm.failedType = resourceTypeOf(item);
        stopAtError();
      }
      const explained = sm.byProfile ? explainUnmatchedProfile(run, item, node, itemPath, profile, closed) : undefined;
      // Inside a complex extension, a relative url names a sub-extension: it must be one of its slices.
      if (sm.subExtensions && isObject(item)) {
        const url = item.url;
        if (typeof url === 'string' && !url.includes(':') && slices.length > 0) {
          run.out.push(CODES.SUB_EXTENSION_UNKNOWN, itemPath, {
            url,
            extension: profile.type === 'Extension' ? profile.url : `the extension at ${path.slice(0, path.lastIndexOf('.'))}`,
            allowed: slices.map((sl) => sl.sliceName).join(', '),
          });
        }
      }
      // openAtEnd (unmatched items after all slices) is not checked.
      if (closed) run.out.push(CODES.SLICE_CLOSED, itemPath, { element: node.path, ...(explained ?? closestSlice(run, item, node, sm)) });
    }
  }
  if (sm.unevaluable.length > 0 && !run.out.bump(sm.noteProfile === profile ? sm.noteKey! : sliceNoteKey(run, sm, node, profile))) {
    run.out.once(sm.noteKey!, CODES.SLICE_NOT_EVALUABLE, path, () => ({
      element: node.path,
      slice: sm.unevaluable.map((s) => s.sliceName).join(', '),
      profile: profile.url,
      reason: slicing.inferred
        ? `the slicing is defined in a base profile that is not loaded${profile.missing.length ? ` (${profile.missing.join(', ')})` : ''}`
        : 'no discriminator value is defined for them',
      reasonFr: slicing.inferred
        ? `le découpage est défini dans un profil de base qui n’est pas chargé${profile.missing.length ? ` (${profile.missing.join(', ')})` : ''}`
        : 'aucune valeur de discriminant ne les définit',
    }));
  }
  for (let si = 0; si < slices.length; si++) {
    if (!sm.evaluable[si]) continue;
    const s = slices[si];
    const n = counts[si];
    if (n < s.min) {
      // Said where the element that came closest to the slice is, when one did (issue 20).
      const near = closestItem(run, items, out, s, slicing.discriminators, itemPathOf);
      const where = near?.path ?? path.slice(0, path.lastIndexOf('.'));
      const closest = near ? { closest: `; closest element: ${near.path}, where ${near.en}`, closestFr: ` ; l’élément le plus proche est ${near.path}, où ${near.fr}` } : { closest: '', closestFr: '' };
      run.out.push(CODES.SLICE_MIN, where, { element: node.path, slice: s.sliceName, min: s.min, count: n, ...sliceRequirement(run, s, slicing.discriminators), ...closest }, undefined, profile.url);
    }
    if (n > s.max) {
      run.out.push(CODES.SLICE_MAX, path, { element: node.path, slice: s.sliceName, max: s.max, count: n }, undefined, profile.url);
    }
  }
  return out;
}

/** The resource type of a Bundle entry (or of a resource item). */
function resourceTypeOf(item: unknown): string | undefined {
  if (!isObject(item)) return undefined;
  const res = isObject(item.resource) ? item.resource : item;
  return typeof res.resourceType === 'string' ? res.resourceType : undefined;
}

/** Item indexes, those whose resource has type `type` first, each group in document order. */
function failedFirst(items: unknown[], type: string): number[] | undefined {
  const first: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < items.length; i++) (resourceTypeOf(items[i]) === type ? first : rest).push(i);
  return first.length === 0 || rest.length === 0 ? undefined : first.concat(rest);
}

/**
 * Whether the resource of `item` has a slice profile of its type (one that explainUnmatchedProfile
 * below would validate it against) and conforms to none: the first error of each is enough.
 */
function failsEveryProfile(run: Run, item: unknown, node: ElementNode, itemPath: string): boolean {
  if (!isObject(item)) return false;
  const res = isObject(item.resource) ? item.resource : item;
  if (typeof res.resourceType !== 'string') return false;
  const m = run.v.memoOf(node);
  const byType = (m.sliceProfilesByType ??= new Map());
  let profiles = byType.get(res.resourceType);
  if (profiles === undefined) {
    profiles = [];
    for (const s of node.slices) {
      const target = sliceTarget(run, s, 'resource') ?? s;
      for (const t of target.types) {
        for (const url of t.profile ?? []) {
          const p = run.profiles.get(url);
          if (p && p.type === res.resourceType) profiles.push(p);
        }
      }
    }
    if (byType.size < 100) byType.set(res.resourceType, profiles);
  }
  if (profiles.length === 0) return false;
  const resPath = item === res ? itemPath : `${itemPath}.resource`;
  for (const p of profiles) {
    const c = run.conformanceOf(res, resPath, p, true);
    if (c.state === 'running' || c.ok) return false;
  }
  return true;
}

/**
 * An item that matches no profile slice (typically a Bundle entry): report the errors it has
 * against the closest slice profile of its type, so the sender sees what to fix. In a closed
 * slicing the item is wrong once (it belongs to no slice): those errors are said in the one
 * closed-slicing error (returned as its `closest` text) instead of as errors of their own, as
 * the HL7 validator details its slice attempts inside that one message (D-245).
 */
export function explainUnmatchedProfile(
  run: Run,
  item: unknown,
  node: ElementNode,
  itemPath: string,
  profile: CompiledProfile,
  closed = false,
): { closest: string; closestFr: string } | undefined {
  if (!isObject(item)) return undefined;
  const res = isObject(item.resource) ? item.resource : item;
  if (typeof res.resourceType !== 'string') return undefined;
  const resPath = item === res ? itemPath : `${itemPath}.resource`;
  let best: { p: CompiledProfile; errors: number } | undefined;
  const declared = isObject(res.meta) && Array.isArray(res.meta.profile) ? (res.meta.profile as unknown[]) : [];
  for (const s of node.slices) {
    const target = sliceTarget(run, s, 'resource') ?? s;
    for (const url of target.types.flatMap((t) => t.profile ?? [])) {
      const p = run.profiles.get(url);
      if (!p || p.type !== res.resourceType) continue;
      if (declared.includes(url)) {
        // The sender said which slice it meant: explain against that one.
        best = { p, errors: -1 };
        break;
      }
      if (best?.errors === -1) continue;
      const c = run.conformanceOf(res, resPath, p);
      const errors = c.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
      if (!best || errors < best.errors) best = { p, errors };
    }
  }
  if (closed) {
    if (!best) return undefined;
    const errors = run.conformanceOf(res, resPath, best.p).issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    const shown = errors.slice(0, 3);
    const more = errors.length - shown.length;
    const en = shown.map((i) => `${i.expression}: ${i.message}`).join('; ') + (more > 0 ? `; and ${more} more` : '');
    const fr = shown.map((i) => `${i.expression} : ${i.messageFr ?? i.message}`).join(' ; ') + (more > 0 ? ` ; et ${more} autre(s)` : '');
    return {
      closest: `; the closest slice profile is ${best.p.url}${en ? `, against which ${en}` : ''}`,
      closestFr: ` ; le profil de tranche le plus proche est ${best.p.url}${fr ? `, au regard duquel ${fr}` : ''}`,
    };
  }
  run.out.push(CODES.SLICE_UNMATCHED, itemPath, {
    element: node.path,
    profile: best ? `${profile.url}; closest slice profile: ${best.p.url}` : profile.url,
  });
  if (best) run.validateAgainst(res, resPath, best.p);
  return undefined;
}

/**
 * What makes an element belong to `slice`, for a reader who does not know slicing (issue 20):
 * ` (an element belongs to this slice when type.coding.code = "SEJ")`, in English and French.
 * Empty when the discriminators give no readable value.
 */
export function sliceRequirement(run: Run, slice: ElementNode, discs: readonly { type: string; path: string }[]): { requires: string; requiresFr: string } {
  const en: string[] = [];
  const fr: string[] = [];
  for (const d of discs) {
    const target = sliceTarget(run, slice, d.path);
    if (!target) continue;
    const base = d.path === '$this' ? '' : d.path;
    if (d.type === 'value' || d.type === 'pattern') {
      const expected = target.fixed ?? target.pattern;
      for (const [p, v] of leaves(expected, base)) {
        const text = `${p || '$this'} = ${JSON.stringify(v)}`;
        en.push(text);
        fr.push(text);
      }
    } else if (d.type === 'type' && target.types.length === 1) {
      en.push(`${base || '$this'} is a ${target.types[0].code}`);
      fr.push(`${base || '$this'} est de type ${target.types[0].code}`);
    } else if (d.type === 'profile' && target.types.some((t) => t.profile?.length)) {
      const profiles = target.types.flatMap((t) => t.profile ?? []).join(' | ');
      en.push(`${base || '$this'} conforms to ${profiles}`);
      fr.push(`${base || '$this'} est conforme à ${profiles}`);
    }
  }
  if (en.length === 0) return { requires: '', requiresFr: '' };
  return {
    requires: ` (an element belongs to this slice when ${en.join(' and ')})`,
    requiresFr: ` (un élément appartient à cette tranche quand ${fr.join(' et ')})`,
  };
}

/** The [path, expected value] leaves of a slice's value and pattern discriminators (paths without functions). */
function expectedLeaves(run: Run, slice: ElementNode, discs: readonly { type: string; path: string }[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const d of discs) {
    if ((d.type !== 'value' && d.type !== 'pattern') || d.path.includes('(')) continue;
    const target = sliceTarget(run, slice, d.path);
    if (target) out.push(...leaves(target.fixed ?? target.pattern, d.path === '$this' ? '' : d.path));
  }
  return out;
}

/** The values at a dotted path of a JSON item, arrays flattened (`type.coding.code`). */
function valuesAt(item: unknown, path: string): unknown[] {
  let cur: unknown[] = [item];
  for (const step of path ? path.split('.') : []) {
    const next: unknown[] = [];
    for (const c of cur) {
      const v = isObject(c) ? c[step] : undefined;
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined) next.push(v);
    }
    cur = next;
  }
  return cur.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

/**
 * How close `item` comes to a slice's expected leaves: how many it has (matched), how many it
 * has a value for, and the differences in English and French (`type.coding.code is "XXX", not
 * "SEJ"`). Undefined when the item has none of the slice's discriminating paths.
 */
function closeness(item: unknown, expected: [string, unknown][]): { matched: number; present: number; en: string; fr: string } | undefined {
  let matched = 0;
  let present = 0;
  // An item with none of the expected values is close only when each value it has is a near
  // miss ("documents" for "document"); an extension's other url is another extension, never close.
  let nearMisses = true;
  const en: string[] = [];
  const fr: string[] = [];
  for (const [p, v] of expected) {
    const found = valuesAt(item, p);
    if (found.length) present++;
    if (found.some((f) => deepEqual(f, v))) {
      matched++;
      continue;
    }
    if (p === 'url' || p.endsWith('.url') || !found.some((f) => nearMiss(f, v))) nearMisses = false;
    const shown = found.map(brief).join(', ');
    en.push(found.length ? `${p || '$this'} is ${shown}, not ${JSON.stringify(v)}` : `${p || '$this'} is missing (${JSON.stringify(v)} expected)`);
    fr.push(found.length ? `${p || '$this'} vaut ${shown} et non ${JSON.stringify(v)}` : `${p || '$this'} est absent (${JSON.stringify(v)} attendu)`);
  }
  if (present === 0 || en.length === 0 || (matched === 0 && !nearMisses)) return undefined;
  return { matched, present, en: en.join(' and '), fr: fr.join(' et ') };
}

/**
 * A found value as a message shows it: primitives as JSON, objects and arrays as a bounded
 * excerpt. The value comes from the input, which may be deeply nested or alias one object many
 * times (JSON.stringify would overflow the stack or print megabytes).
 */
function brief(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
  return Array.isArray(value) ? `[${value.length}]` : `{${Object.keys(value).slice(0, 3).join(', ')}${Object.keys(value).length > 3 ? ', ...' : ''}}`;
}

/** A string value within two edits of the expected one (or equal but for case): a typing slip. */
function nearMiss(found: unknown, expected: unknown): boolean {
  if (typeof found !== 'string' || typeof expected !== 'string') return false;
  if (found.toLowerCase() === expected.toLowerCase()) return true;
  if (Math.abs(found.length - expected.length) > 2 || found.length > 200 || expected.length > 200) return false;
  // Levenshtein distance, one row at a time.
  let prev = Array.from({ length: expected.length + 1 }, (_, j) => j);
  for (let i = 1; i <= found.length; i++) {
    const row = [i];
    for (let j = 1; j <= expected.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (found[i - 1] === expected[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[expected.length] <= 2;
}

/**
 * Of the items no slice took, the one that comes closest to `slice` (most expected values, then
 * most discriminating paths present), with its location and differences; undefined when none has
 * any of the slice's discriminating paths.
 */
export function closestItem(
  run: Run,
  items: readonly unknown[],
  assigned: readonly (ElementNode | undefined)[],
  slice: ElementNode,
  discs: readonly { type: string; path: string }[],
  itemPathOf: (i: number) => string,
): { path: string; en: string; fr: string } | undefined {
  const expected = expectedLeaves(run, slice, discs);
  if (expected.length === 0) return undefined;
  let best: { i: number; matched: number; present: number; en: string; fr: string } | undefined;
  for (let i = 0; i < items.length; i++) {
    if (assigned[i]) continue;
    const c = closeness(items[i], expected);
    if (c && (!best || c.matched > best.matched || (c.matched === best.matched && c.present > best.present))) best = { i, ...c };
  }
  return best && { path: itemPathOf(best.i), en: best.en, fr: best.fr };
}

/** The slice an item that matches none comes closest to, as the `closest` / `closestFr` message arguments. */
function closestSlice(run: Run, item: unknown, node: ElementNode, sm: SlicingMemo): { closest: string; closestFr: string } {
  let best: { name: string; matched: number; present: number; en: string; fr: string } | undefined;
  node.slices.forEach((s, si) => {
    if (!sm.evaluable[si]) return;
    const c = closeness(item, expectedLeaves(run, s, node.slicing!.discriminators));
    if (c && (!best || c.matched > best.matched || (c.matched === best.matched && c.present > best.present))) best = { name: s.sliceName ?? `#${si}`, ...c };
  });
  if (!best) return { closest: '', closestFr: '' };
  const b = best as { name: string; en: string; fr: string };
  return { closest: `; the closest slice is ${b.name}: ${b.en}`, closestFr: ` ; la tranche la plus proche est ${b.name} : ${b.fr}` };
}

/** The primitive leaves of a fixed or pattern value as [FHIRPath-like path, value] pairs. */
function leaves(value: unknown, path: string): [string, unknown][] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.flatMap((v) => leaves(v, path));
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
  return [[path, value]];
}

export function sliceIsEvaluable(run: Run, slice: ElementNode, discs: { type: string; path: string }[], inferred: boolean): boolean {
  const m = run.v.memoOf(slice);
  if (m.evaluable !== undefined) return m.evaluable;
  let any = false;
  for (const d of discs) {
    const target = sliceTarget(run, slice, d.path);
    if (!target) continue;
    if (d.type === 'value' || d.type === 'pattern') {
      // A required binding discriminates only in a declared slicing: an inferred one (base not
      // loaded) knows only the values the loaded profile gives, and every Identifier.use is
      // "bound" to identifier-use, which would make every slice match (or none).
      if (target.fixed !== undefined || target.pattern !== undefined || (target.binding?.strength === 'required' && !inferred)) any = true;
      else if (d.path.endsWith('url') || d.path === 'url') any = false;
    } else any = true;
  }
  m.evaluable = any;
  return any;
}

/** The element of a slice at a discriminator path (`url`, `system`, `extension('u').value`, `$this`...). */
export function sliceTarget(run: Run, slice: ElementNode, path: string): ElementNode | undefined {
  const m = run.v.memoOf(slice);
  const byPath = (m.sliceTargets ??= new Map());
  const hit = byPath.get(path);
  if (hit !== undefined) return hit ?? undefined;
  const found = findSliceTarget(run, slice, path);
  byPath.set(path, found ?? null);
  return found;
}

export function findSliceTarget(run: Run, slice: ElementNode, path: string): ElementNode | undefined {
  if (path === '$this') return slice;
  let node: ElementNode | undefined = slice;
  for (const step of splitPath(path)) {
    if (!node) return undefined;
    if (step === 'resolve()' || step.startsWith('ofType(')) continue;
    const ext = /^extension\('([^']+)'\)$/.exec(step);
    const children = nodeChildren(run, node);
    if (ext) {
      const extNode = children?.childIndex?.get('extension')?.node;
      const slice2 = extNode?.slices.find(
        (s) => s.types.some((t) => t.profile?.includes(ext[1])) || s.children?.some((c) => c.name === 'url' && c.fixed === ext[1]),
      );
      node = slice2 ?? run.profiles.get(ext[1])?.root;
      continue;
    }
    const hit = children?.childIndex?.get(step) ?? children?.childIndex?.get(`${step}`);
    node = hit?.node ?? children?.children?.find((c) => c.name === `${step}[x]`);
  }
  return node;
}

export function nodeChildren(run: Run, node: ElementNode): ElementNode | undefined {
  if (node.children) return node;
  const t = node.types[0];
  if (!t) return undefined;
  const prof = t.profile?.[0] ? run.profiles.get(t.profile[0]) : undefined;
  return (prof ?? run.profiles.core(node.typeCodes[0]))?.root;
}

/** Slice indexes, those whose profile the item's resource declares in meta.profile first; undefined: slice order. */
export function declaredFirst(run: Run, item: unknown, sm: SlicingMemo): number[] | undefined {
  const res = isObject(item) && isObject(item.resource) ? item.resource : item;
  const meta = isObject(res) && isObject(res.meta) ? res.meta : undefined;
  if (!meta || !Array.isArray(meta.profile) || meta.profile.length === 0) return undefined;
  const profiles = meta.profile as unknown[];
  // The order is a function of the declared profiles: for the usual single one, built once
  // per profile (a Bundle validation would otherwise build one per entry).
  if (profiles.length === 1 && typeof profiles[0] === 'string') {
    const p = profiles[0];
    let order = sm.orderOfProfile.get(p);
    if (order === undefined && !sm.orderOfProfile.has(p)) {
      // Bounded: a sender could declare any number of distinct urls.
      if (sm.orderOfProfile.size >= 256) sm.orderOfProfile.clear();
      sm.orderOfProfile.set(p, (order = declaredOrder(run, profiles, sm)));
    }
    return order;
  }
  return declaredOrder(run, profiles, sm);
}

export function declaredOrder(run: Run, profiles: unknown[], sm: SlicingMemo): number[] | undefined {
  let first: number[] | undefined;
  for (const p of profiles) {
    const list = typeof p === 'string' ? sm.slicesOfProfile.get(p) : undefined;
    if (list) for (const i of list) if (!(first ??= []).includes(i)) first.push(i);
  }
  if (!first) return undefined;
  first.sort((a, b) => a - b);
  const n = sm.evaluable.length;
  const taken = new Uint8Array(n);
  for (const i of first) taken[i] = 1;
  for (let i = 0; i < n; i++) if (!taken[i]) first.push(i);
  return first;
}

export function matchesSlice(
  run: Run,
  item: unknown,
  slice: ElementNode,
  slicing: NonNullable<ElementNode['slicing']>,
  sm: SlicingMemo,
  path: string,
  index: number,
  itemPathOf: (i: number) => string,
  cache: (unknown[] | undefined)[],
  singleType?: string,
): boolean {
  const discs = slicing.discriminators;
  // The slice's element at each discriminator path, memoised by discriminator position (a
  // slice belongs to one sliced element, hence to one list of discriminators).
  const sliceMemo = run.v.memoOf(slice);
  if (sliceMemo.discsOf !== discs) {
    sliceMemo.discsOf = discs;
    sliceMemo.discTargets = discs.map((d) => sliceTarget(run, slice, d.path) ?? null);
  }
  const targets = sliceMemo.discTargets!;
  for (let di = 0; di < discs.length; di++) {
    const d = discs[di];
    const target = targets[di];
    if (!target) return false;
    switch (d.type) {
      case 'value':
      case 'pattern': {
        const expected = target.fixed ?? target.pattern;
        if (expected !== undefined) {
          const values = (cache[di] ??= evalSteps(item, sm.steps[di], run, path, index, itemPathOf));
          if (target.fixed !== undefined && d.type === 'value') {
            if (!values.some((v) => deepEqual(v, expected))) return false;
          } else {
            const test = containsTestOf(run, target);
            if (!values.some(test)) return false;
          }
        } else if (target.binding?.strength === 'required' && target.binding.valueSet && !slicing.inferred) {
          const vs = target.binding.valueSet;
          if (!(cache[di] ??= evalSteps(item, sm.steps[di], run, path, index, itemPathOf)).some((v) => inValueSet(run, v, vs))) return false;
        } else if (!slicePathIsSkippable(d.path)) {
          // Inferred slicing: discriminator paths this slice has no value for are ignored.
          continue;
        }
        break;
      }
      case 'exists': {
        const values = (cache[di] ??= evalSteps(item, sm.steps[di], run, path, index, itemPathOf));
        if (target.min > 0 && values.length === 0) return false;
        if (target.max === 0 && values.length > 0) return false;
        break;
      }
      case 'type': {
        // After resolve(), the types are those of the referenced resources (the targetProfiles).
        const allowed = sm.steps[di].at(-1)?.kind === 'resolve' ? [...referenceInfo(run, target).allowedTypes] : target.typeCodes;
        if (d.path === '$this' && singleType) {
          if (!allowed.includes(singleType)) return false;
        } else {
          const values = (cache[di] ??= evalSteps(item, sm.steps[di], run, path, index, itemPathOf));
          if (!values.some((v) => isObject(v) && typeof v.resourceType === 'string' && allowed.includes(v.resourceType))) {
            if (!values.some((v) => allowed.includes(jsonTypeGuess(v)))) return false;
          }
        }
        break;
      }
      case 'profile': {
        const profiles = run.v.memoOf(target).profiles ??= target.types.flatMap((t) => t.profile ?? []);
        const values = (cache[di] ??= evalSteps(item, sm.steps[di], run, path, index, itemPathOf));
        let any = false;
        for (const v of values) {
          if (!isObject(v) || typeof v.resourceType !== 'string' || UNRESOLVED.has(v)) continue;
          const atPath = run.bundle?.pathOf(v) ?? (d.path === '$this' ? itemPathOf(index) : `${itemPathOf(index)}.${d.path.replace(/\.?resolve\(\)/, '')}`);
          if (profiles.some((p) => run.conforms(v, atPath, p) === true)) any = true;
        }
        if (!any) return false;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

/** Stubs standing for references that could not be resolved (type discriminators only). */
const UNRESOLVED = new WeakSet<object>();
const stubs = new Map<string, Record<string, unknown>>();
function unresolvedStub(type: string): Record<string, unknown> {
  let s = stubs.get(type);
  if (!s) {
    s = Object.freeze({ resourceType: type }) as Record<string, unknown>;
    UNRESOLVED.add(s);
    stubs.set(type, s);
  }
  return s;
}

/** The resource type a Reference names without resolving it: `Type/id` (relative or absolute) or Reference.type. */
function referencedType(ref: Record<string, unknown>): string | undefined {
  if (typeof ref.reference === 'string') {
    const m = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/.exec(ref.reference);
    if (m) return m[1];
  }
  return typeof ref.type === 'string' && /^[A-Z][A-Za-z]+$/.test(ref.type) ? ref.type : undefined;
}

function slicePathIsSkippable(path: string): boolean {
  return path === 'url';
}

function jsonTypeGuess(v: unknown): string {
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'decimal';
  if (typeof v === 'string') return 'string';
  return '';
}

function splitPath(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const ch of path) {
    if (ch === "'") quote = !quote;
    if (!quote && ch === '(') depth++;
    if (!quote && ch === ')') depth--;
    if (ch === '.' && depth === 0 && !quote) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

type Step = { kind: 'name'; name: string } | { kind: 'ext'; url: string } | { kind: 'resolve' } | { kind: 'ofType' } | { kind: 'this' };

const parsedPaths = new Map<string, Step[]>();

/** A discriminator path parsed once (a tiny FHIRPath subset: names, extension('u'), resolve(), ofType()). */
function parsePath(path: string): Step[] {
  let steps = parsedPaths.get(path);
  if (!steps) {
    steps = path === '$this'
      ? [{ kind: 'this' }]
      : splitPath(path).map((step): Step => {
          const ext = /^extension\('([^']+)'\)$/.exec(step);
          if (ext) return { kind: 'ext', url: ext[1] };
          if (step === 'resolve()') return { kind: 'resolve' };
          if (step.startsWith('ofType(')) return { kind: 'ofType' };
          return { kind: 'name', name: step };
        });
    parsedPaths.set(path, steps);
  }
  return steps;
}

/** The contained resource `id` of the resource being walked (or of its container). */
function containedById(run: Run, id: string): Record<string, unknown> | undefined {
  const frame = run.frames[run.frames.length - 1];
  if (!frame) return undefined;
  for (const holder of frame.resource === frame.root ? [frame.resource] : [frame.resource, frame.root]) {
    if (!Array.isArray(holder.contained)) continue;
    for (const c of holder.contained) if (isObject(c) && c.id === id) return c;
  }
  return undefined;
}

/** Evaluates parsed discriminator steps on JSON. */
function evalSteps(
  item: unknown,
  steps: Step[],
  run: Run,
  path: string,
  index: number,
  itemPathOf: (i: number) => string,
): unknown[] {
  let current: unknown[] = [item];
  for (const step of steps) {
    if (step.kind === 'this') return current;
    const next: unknown[] = [];
    for (const c of current) {
      if (!isObject(c)) continue;
      if (step.kind === 'ext') {
        if (Array.isArray(c.extension)) for (const e of c.extension) if (isObject(e) && e.url === step.url) next.push(e);
      } else if (step.kind === 'resolve') {
        const ref = c.reference;
        // `#id`: a resource contained in the resource being walked (its container's for a contained one).
        const contained = typeof ref === 'string' && ref.startsWith('#') ? containedById(run, ref.slice(1)) : undefined;
        const r = contained === undefined && typeof ref === 'string' ? run.bundle?.resolve(ref, itemPathOf(index)) : undefined;
        if (contained) next.push(contained);
        else if (r) next.push(r.resource);
        else {
          // Not in the Bundle (or no Bundle): what the reference says of its target's type
          // (`RelatedPerson/x`, or Reference.type), as the HL7 validator does for a type
          // discriminator; a stub that no value or profile discriminator can match.
          const type = referencedType(c);
          if (type) next.push(unresolvedStub(type));
        }
      } else if (step.kind === 'ofType') {
        next.push(c);
      } else {
        const name = step.name;
        let v = c[name];
        if (v === undefined) {
          // Choice element named without its type suffix (`value` for valueCodeableConcept).
          for (const k in c) {
            if (k.length > name.length && k.startsWith(name)) {
              const ch = k.charCodeAt(name.length);
              if (ch >= 65 && ch <= 90) {
                v = c[k];
                break;
              }
            }
          }
        }
        if (Array.isArray(v)) for (const x of v) next.push(x);
        else if (v !== undefined) next.push(v);
      }
    }
    current = next;
  }
  return current;
}

