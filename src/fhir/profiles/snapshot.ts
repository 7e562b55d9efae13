// Snapshot generation: expands a StructureDefinition's differential along its baseDefinition
// chain into the full element list (FHIR "snapshot"), as the IG packages publish differentials only.
// When a base or a type profile is not loaded (e.g. FR Core), generation falls back to the
// core type definition and records what was missing, so validation can go on with what is
// known and say once what could not be checked.
import type { ConformanceRegistry } from '../packages/registry.js';

export interface TypeRef {
  code: string;
  profile?: string[];
  targetProfile?: string[];
  [k: string]: unknown;
}

export interface ElementDefinition {
  id: string;
  path: string;
  sliceName?: string;
  min?: number;
  max?: string;
  type?: TypeRef[];
  contentReference?: string;
  slicing?: { discriminator?: { type: string; path: string }[]; rules?: string; ordered?: boolean };
  binding?: { strength: string; valueSet?: string };
  constraint?: { key: string; severity: string; human: string; expression?: string; source?: string; [k: string]: unknown }[];
  [k: string]: unknown;
}

export interface StructureDefinition {
  resourceType: 'StructureDefinition';
  url: string;
  version?: string;
  name?: string;
  type: string;
  kind: string;
  abstract?: boolean;
  baseDefinition?: string;
  derivation?: string;
  context?: { type: string; expression: string }[];
  snapshot?: { element: ElementDefinition[] };
  differential?: { element: ElementDefinition[] };
  [k: string]: unknown;
}

export interface Snapshot {
  elements: ElementDefinition[];
  /** Canonical URLs that were needed but not loaded (bases, type profiles), transitively. */
  missing: string[];
  /** Differential elements that could not be applied (usually because a base was missing). */
  notes: string[];
}

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';
const EXT_PROFILE_ELEMENT = 'http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element';

/**
 * The element a type profile names (`elementdefinition-profile-element` on `type.profile[i]`,
 * e.g. `Composition.section:codeA` of a section library): that element of the profile, not the
 * profile's root, is the type constraint. Undefined for a plain type profile.
 */
export function profileElementOf(type: TypeRef, i = 0): string | undefined {
  const meta = (type._profile as ({ extension?: { url?: string; valueString?: string }[] } | null)[] | undefined)?.[i];
  const ext = meta?.extension?.find((x) => x.url === EXT_PROFILE_ELEMENT);
  return typeof ext?.valueString === 'string' ? ext.valueString : undefined;
}

/** The element with id `id` of a snapshot and its descendants (its own slices excluded); undefined if absent. */
export function elementTree(elements: readonly ElementDefinition[], id: string): ElementDefinition[] | undefined {
  const at = elements.findIndex((e) => e.id === id);
  if (at < 0) return undefined;
  const out = [elements[at]];
  for (let j = at + 1; j < elements.length && elements[j].id.startsWith(id + '.'); j++) out.push(elements[j]);
  return out;
}

/**
 * The ids of differential elements, for those that have none (older or XML-converted
 * profiles state `path` and `sliceName` only): the path, with the slice name on the last
 * segment for a slice, and on an ancestor's segment for the elements that follow a slice
 * below its path (`Composition.section` sliceName codeA, then `Composition.section.title` is
 * `Composition.section:codeA.title`), as the HL7 snapshot generator numbers them.
 */
export function differentialIds(diffs: readonly { id?: string; path: string; sliceName?: string }[]): string[] {
  /** Path -> the slice whose elements follow (until that path is named again). */
  const sliceAt = new Map<string, string>();
  return diffs.map((e) => {
    const path = e.path;
    let id = e.id;
    if (typeof id !== 'string') {
      const segs = path.split('.');
      let prefix = '';
      id = segs
        .map((seg, i) => {
          prefix = i === 0 ? seg : `${prefix}.${seg}`;
          const slice = i < segs.length - 1 ? sliceAt.get(prefix) : e.sliceName;
          return slice ? `${seg}:${slice}` : seg;
        })
        .join('.');
    }
    if (typeof path === 'string') {
      for (const k of [...sliceAt.keys()]) if (k === path || k.startsWith(path + '.')) sliceAt.delete(k);
      if (e.sliceName) sliceAt.set(path, e.sliceName);
    }
    return id;
  });
}

/** Keys of a profile element that stay the using element's own when it becomes the type constraint. */
const TEMPLATE_KEEP = new Set(['id', 'path', 'sliceName', 'sliceIsConstraining', 'min', 'max', 'base', 'slicing', 'type', 'contentReference']);

/** Differential keys that do not affect validation. */
const DOC_KEYS = new Set([
  'id',
  'path',
  'short',
  'definition',
  'comment',
  'requirements',
  'alias',
  'mapping',
  'example',
  'isSummary',
  'isModifierReason',
  'meaningWhenMissing',
  'orderMeaning',
  'base',
  'label',
  'code',
]);

function splitId(id: string): string[] {
  // Slice names may contain dots only in exotic IGs; TDDUI and FR Core do not use them.
  return id.split('.');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/**
 * What is known of base profiles that are not loaded: differential elements (by base canonical
 * URL) applied in place of the missing base, before the profile's own differential. An IG
 * layer supplies them from its own documentation (e.g. the FR Core INS slice systems named by
 * the TDDUI pages); they are ignored as soon as the real base is loaded.
 */
export type BaseSupplements = ReadonlyMap<string, readonly ElementDefinition[]>;

export class SnapshotGenerator {
  /** Keyed by the StructureDefinition itself: two versions of one url are two snapshots. */
  private readonly cache = new WeakMap<StructureDefinition, Snapshot>();
  private readonly inProgress = new Set<StructureDefinition>();

  /**
   * `registry` resolves what a StructureDefinition refers to (its base, the profiles of its
   * types) in the scope of the package it comes from (`registry.scopeOf(sd)`): a TDDUI 2.3.0
   * profile's FR Core base is the FR Core version TDDUI 2.3.0 depends on. The snapshots do not
   * depend on the view they are asked from, so one generator serves every view of a store.
   */
  constructor(
    private readonly registry: ConformanceRegistry,
    private readonly supplements: BaseSupplements = new Map(),
  ) {}

  /** Snapshot of a StructureDefinition given by canonical URL (resolved in `scope`); undefined if not loaded. */
  forUrl(url: string, scope: ConformanceRegistry = this.registry): Snapshot | undefined {
    const sd = scope.resolve<StructureDefinition>(url, 'StructureDefinition');
    return sd ? this.generate(sd) : undefined;
  }

  generate(sd: StructureDefinition): Snapshot {
    const cached = this.cache.get(sd);
    if (cached) return cached;
    if (this.inProgress.has(sd)) {
      return { elements: sd.snapshot?.element ?? [], missing: [], notes: [`circular base definition at ${sd.url}`] };
    }
    this.inProgress.add(sd);
    try {
      const result = this.build(sd);
      this.cache.set(sd, result);
      return result;
    } finally {
      this.inProgress.delete(sd);
    }
  }

  private build(sd: StructureDefinition): Snapshot {
    // Published snapshots (core definitions, complete packages) are used as they are.
    if (sd.snapshot?.element?.length) return { elements: sd.snapshot.element, missing: [], notes: [] };
    const missing: string[] = [];
    const notes: string[] = [];
    const scope = this.registry.scopeOf(sd);
    let baseSnap: Snapshot | undefined;
    if (sd.baseDefinition) {
      const base = scope.resolve<StructureDefinition>(sd.baseDefinition, 'StructureDefinition');
      if (base) baseSnap = this.generate(base);
      else {
        missing.push(sd.baseDefinition);
        const fallback = scope.resolve<StructureDefinition>(CORE_SD + sd.type, 'StructureDefinition');
        if (fallback) baseSnap = this.generate(fallback);
      }
    }
    if (!baseSnap) {
      notes.push(`no base definition available for ${sd.url}`);
      return { elements: clone(sd.differential?.element ?? []), missing, notes };
    }
    missing.push(...baseSnap.missing);
    const work = new Work(this, scope, clone(baseSnap.elements), missing, notes, baseSnap.elements, sd.url);
    const root = sd.type;
    const diffs = sd.differential?.element ?? [];
    const ids = differentialIds(diffs);
    for (let d = 0; d < diffs.length; d++) {
      const diff = diffs[d];
      const id = ids[d];
      // A logical model or a type whose base names another root: re-root ids on the fly.
      const el = id === root ? work.elements[0] : work.ensure(id);
      if (!el) {
        notes.push(`differential element ${id} of ${sd.url} could not be placed`);
        continue;
      }
      work.merge(el, diff);
    }
    // Known elements of a missing base come after the differential (so slices it creates carry
    // the profile's constraints on the sliced element) and only fill in what it leaves unset.
    const supplement = sd.baseDefinition && missing.includes(sd.baseDefinition) ? this.supplements.get(sd.baseDefinition.split('|')[0]) : undefined;
    if (supplement) {
      notes.push(`${sd.baseDefinition} is not loaded: ${supplement.length} known element(s) of it were used instead`);
      const setByProfile = new Map<string, Set<string>>();
      diffs.forEach((d, i) => setByProfile.set(ids[i], new Set(Object.keys(d))));
      for (const s of supplement) {
        const el = work.ensure(s.id);
        if (!el) continue;
        const own = setByProfile.get(s.id);
        const kept = Object.fromEntries(Object.entries(s).filter(([k]) => !own?.has(k) && !(own && (k.startsWith('fixed') || k.startsWith('pattern')) && [...own].some((o) => o.startsWith('fixed') || o.startsWith('pattern')))));
        work.merge(el, { ...kept, id: s.id, path: s.path });
      }
    }
    return { elements: work.elements, missing: [...new Set(missing)], notes };
  }

  /** Snapshot elements of the type (or type profile) an element must be expanded with. */
  typeElements(type: TypeRef, missing: string[], scope: ConformanceRegistry = this.registry): ElementDefinition[] | undefined {
    const profile = type.profile?.[0];
    if (profile) {
      const snap = this.forUrl(profile, scope);
      if (snap) {
        missing.push(...snap.missing);
        const eid = profileElementOf(type);
        if (eid === undefined) return snap.elements;
        // An element of the profile: its subtree, or (not expanded there) its type's elements.
        const tree = elementTree(snap.elements, eid);
        if (tree && tree.length > 1) return tree;
        return this.typeElements({ code: type.code }, missing, scope);
      }
      missing.push(profile);
    }
    const code = type.code;
    const url = code.includes('/') ? code : CORE_SD + code;
    return this.forUrl(url, scope)?.elements;
  }
}

/** Mutable state of one snapshot generation. */
class Work {
  constructor(
    private readonly gen: SnapshotGenerator,
    private readonly scope: ConformanceRegistry,
    readonly elements: ElementDefinition[],
    private readonly missing: string[],
    private readonly notes: string[],
    /** The base's snapshot, as it was before this profile's differential. */
    private readonly base: ElementDefinition[] = [],
    /** The canonical of the profile being generated (a type profile may name one of its own elements). */
    private readonly url?: string,
  ) {}

  private indexOf(id: string): number {
    for (let i = 0; i < this.elements.length; i++) if (this.elements[i].id === id) return i;
    return -1;
  }

  /** Index just past the element at `i` and all its descendants and slices. */
  private endOfGroup(i: number): number {
    const id = this.elements[i].id;
    let j = i + 1;
    while (j < this.elements.length) {
      const other = this.elements[j].id;
      if (other.startsWith(id + '.') || other.startsWith(id + ':')) j++;
      else break;
    }
    return j;
  }

  private hasChildren(i: number): boolean {
    const next = this.elements[i + 1];
    return !!next && next.id.startsWith(this.elements[i].id + '.');
  }

  /** Finds the element with `id`, creating slices and expanding datatypes as needed. */
  ensure(id: string): ElementDefinition | undefined {
    const existing = this.indexOf(id);
    if (existing >= 0) return this.elements[existing];
    const segs = splitId(id);
    if (segs.length < 2) return undefined;
    const parent = this.ensure(segs.slice(0, -1).join('.'));
    if (!parent) return undefined;
    const last = segs[segs.length - 1];
    const colon = last.indexOf(':');
    if (colon >= 0) return this.ensureSlice(parent, last.slice(0, colon), last.slice(colon + 1));
    return this.ensureChild(parent, last);
  }

  private ensureChild(parent: ElementDefinition, name: string): ElementDefinition | undefined {
    const childId = `${parent.id}.${name}`;
    let i = this.indexOf(childId);
    if (i >= 0) return this.elements[i];
    const pi = this.indexOf(parent.id);
    if (!this.hasChildren(pi)) this.expand(pi);
    i = this.indexOf(childId);
    if (i >= 0) return this.elements[i];
    // A renamed choice (`valueString` for `value[x]`): constrain the choice to that type.
    if (!name.endsWith('[x]')) {
      for (let j = pi + 1; j < this.elements.length; j++) {
        const el = this.elements[j];
        if (!el.id.startsWith(parent.id + '.')) break;
        const rest = el.id.slice(parent.id.length + 1);
        if (!rest.endsWith('[x]') || rest.includes('.') || rest.includes(':')) continue;
        const prefix = rest.slice(0, -3);
        if (!name.startsWith(prefix)) continue;
        const typeName = name.slice(prefix.length);
        const t = el.type?.find((x) => capitalize(x.code) === typeName);
        if (t) {
          el.type = [t];
          return el;
        }
      }
    }
    return undefined;
  }

  private ensureSlice(parent: ElementDefinition, name: string, sliceName: string): ElementDefinition | undefined {
    const base = this.ensureChild(parent, name);
    if (!base) return undefined;
    const sliceId = `${base.id}:${sliceName}`;
    const existing = this.indexOf(sliceId);
    if (existing >= 0) return this.elements[existing];
    const bi = this.indexOf(base.id);
    // Copy the unsliced element and its children (not its other slices) as the new slice.
    const copies: ElementDefinition[] = [];
    for (let j = bi; j < this.elements.length; j++) {
      const el = this.elements[j];
      if (j > bi && !el.id.startsWith(base.id + '.')) {
        if (el.id.startsWith(base.id + ':')) continue;
        break;
      }
      const c = clone(el);
      c.id = sliceId + el.id.slice(base.id.length);
      copies.push(c);
    }
    const head = copies[0];
    head.sliceName = sliceName;
    delete head.slicing;
    // A slice of a choice element named after a type (`value[x]:valueString`) narrows the type.
    if (name.endsWith('[x]') && head.type) {
      const prefix = name.slice(0, -3);
      const t = head.type.find((x) => prefix + capitalize(x.code) === sliceName);
      if (t) head.type = [t];
    }
    this.elements.splice(this.endOfGroup(bi), 0, ...copies);
    return head;
  }

  /** Inserts the children of element `i` from its type (or contentReference). */
  private expand(i: number): void {
    const el = this.elements[i];
    let source: ElementDefinition[] | undefined;
    let sourceRoot: string | undefined;
    if (el.contentReference) {
      // The referenced element as the base defines it: this profile's constraints on it
      // (Parameters.parameter's name pattern, part min 3) do not apply again to every nesting
      // level (Parameters.parameter.part), as in the HL7 snapshot generator.
      const refId = el.contentReference.slice(el.contentReference.indexOf('#') + 1);
      const bi = this.base.findIndex((e) => e.id === refId);
      if (bi >= 0) {
        let end = bi + 1;
        while (end < this.base.length && (this.base[end].id.startsWith(refId + '.') || this.base[end].id.startsWith(refId + ':'))) end++;
        source = this.base.slice(bi, end).filter((e) => !e.id.slice(refId.length).includes(':'));
        sourceRoot = refId;
      } else {
        const ri = this.indexOf(refId);
        if (ri >= 0) {
          const end = this.endOfGroup(ri);
          source = this.elements.slice(ri, end).filter((e) => !e.id.slice(refId.length).startsWith(':'));
          sourceRoot = refId;
        }
      }
    } else if (el.type?.length === 1) {
      source = this.gen.typeElements(el.type[0], this.missing, this.scope);
      sourceRoot = source?.[0]?.id;
    } else {
      this.notes.push(`cannot expand ${el.id}: ${el.type?.length ?? 0} types`);
    }
    if (!source || !sourceRoot) return;
    const rootPath = refPath(sourceRoot);
    const copies: ElementDefinition[] = [];
    for (const s of source) {
      if (s.id === sourceRoot || !s.id.startsWith(sourceRoot + '.')) continue;
      const c = clone(s);
      c.id = el.id + s.id.slice(sourceRoot.length);
      c.path = el.path + s.path.slice(rootPath.length);
      copies.push(c);
    }
    if (el.contentReference) {
      // The element now has its own children; the reference is resolved.
      el.type = source[0]?.type ? clone(source[0].type) : el.type;
      delete el.contentReference;
    }
    this.elements.splice(i + 1, 0, ...copies);
  }

  /**
   * A differential type whose profile names an element of a profile (profile-element): that
   * element becomes the type constraint, as in the HL7 snapshot generator — the element takes
   * its definition (constraints, pattern, binding... but keeps its own identity, cardinality,
   * slicing and types) and its children, slices and their constraints replace this element's.
   * The differential then applies on top (its own children follow in the differential).
   */
  private applyProfileElement(el: ElementDefinition, type: TypeRef): void {
    const eid = profileElementOf(type);
    const url = type.profile?.[0];
    if (eid === undefined || url === undefined) return;
    let tree: ElementDefinition[] | undefined;
    if (this.url !== undefined && url.split('|')[0] === this.url) {
      // An element of the profile being generated (a section that nests sections of its own kind).
      tree = elementTree(this.elements, eid)?.map(clone);
    } else {
      const snap = this.gen.forUrl(url, this.scope);
      if (!snap) {
        this.missing.push(url);
        return;
      }
      this.missing.push(...snap.missing);
      tree = elementTree(snap.elements, eid);
    }
    if (!tree) {
      this.notes.push(`type profile element ${eid} of ${url} (on ${el.id}) not found`);
      return;
    }
    const [head, ...descendants] = tree;
    for (const [k, v] of Object.entries(head)) {
      if (TEMPLATE_KEEP.has(k) || DOC_KEYS.has(k)) continue;
      this.merge(el, { id: el.id, path: el.path, [k]: v });
    }
    const i = this.indexOf(el.id);
    let end = i + 1;
    while (end < this.elements.length && this.elements[end].id.startsWith(el.id + '.')) end++;
    const copies = descendants.map((d) => {
      const c = clone(d);
      c.id = el.id + d.id.slice(head.id.length);
      c.path = el.path + d.path.slice(head.path.length);
      return c;
    });
    this.elements.splice(i + 1, end - i - 1, ...copies);
  }

  merge(el: ElementDefinition, diff: ElementDefinition): void {
    if (diff.type?.length === 1 && profileElementOf(diff.type[0]) !== undefined) this.applyProfileElement(el, diff.type[0]);
    for (const [k, v] of Object.entries(diff)) {
      if (DOC_KEYS.has(k)) continue;
      if (k === 'constraint') {
        const list = el.constraint ? [...el.constraint] : [];
        for (const c of v as NonNullable<ElementDefinition['constraint']>) {
          const at = list.findIndex((x) => x.key === c.key);
          if (at >= 0) list[at] = c;
          else list.push(c);
        }
        el.constraint = list;
      } else if (k === 'slicing') {
        el.slicing = { ...(el.slicing ?? {}), ...(v as object) };
      } else if (k === 'binding') {
        el.binding = { ...(el.binding ?? {}), ...(v as object) } as ElementDefinition['binding'];
      } else if (k === 'type') {
        el.type = clone(v as TypeRef[]);
      } else if (k === 'extension') {
        // The element's extensions (a profile's controls: mustHaveValue, narrative controls...):
        // the differential's replace the base's of the same url.
        const own = v as { url?: string }[];
        if (!Array.isArray(own)) continue;
        const urls = new Set(own.map((x) => x.url));
        el.extension = [...((el.extension as { url?: string }[] | undefined) ?? []).filter((x) => !urls.has(x.url)), ...clone(own)];
      } else if (k.startsWith('fixed') || k.startsWith('pattern')) {
        for (const old of Object.keys(el)) if (old.startsWith('fixed') || old.startsWith('pattern')) delete el[old];
        el[k] = clone(v);
      } else {
        el[k] = clone(v);
      }
    }
  }
}

function refPath(id: string): string {
  return id.replace(/:[^.]*/g, '');
}
