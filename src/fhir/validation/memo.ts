// The per-element memo of a Validator: what the walk computes once per compiled element
// (its resolution, invariants, slicing, reference targets...), stored on the element itself.
import type { ChildRef, ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import type { CompiledEntry, InvariantReads } from './invariants.js';
import type { ReferenceInfo } from './references.js';
import type { Resolved } from './resolution.js';
import type { SlicingMemo } from './slicing.js';
import type { Validator } from './validator.js';

/** Per-element memo of one Validator (stored on the element: no WeakMap lookups on the hot path). */
export class NodeMemo {
  required?: number[];
  /** The JSON names (`x`, `_x`) of the required children that are neither choices nor met by a slice alone (see lacksRequired). */
  requiredNames?: string[];
  /** Of a sliced element: the loaded slice profiles per resource type (see failsEveryProfile). */
  sliceProfilesByType?: Map<string, CompiledProfile[]>;
  invariants?: CompiledEntry[];
  primitiveInvariants?: CompiledEntry[];
  /** primitiveInvariants of a choice element, per type of value (see checkPrimitiveInvariants). */
  choiceInvariants?: Map<string, CompiledEntry[]>;
  /** Per parent element (see readsOf): the last one asked for, then the others. */
  readsParent?: ElementNode;
  reads?: InvariantReads;
  readsByParent?: Map<ElementNode, InvariantReads>;
  byType?: Map<string, Resolved | null>;
  /** The last entry of byType used. */
  lastType?: string;
  lastResolved?: Resolved | null;
  byProfile?: Map<CompiledProfile, Resolved | null>;
  sliceTargets?: Map<string, ElementNode | null>;
  /** A slice's targets by position in its sliced element's discriminators (see matchesSlice). */
  discTargets?: (ElementNode | null)[];
  discsOf?: { type: string; path: string }[];
  evaluable?: boolean;
  slicing?: SlicingMemo;
  containsTest?: (v: unknown) => boolean;
  profiles?: string[];
  reference?: ReferenceInfo;
  /**
   * The keys of the last object walked with this element as parent, by position, and what
   * they resolved to: objects of one element mostly list the same keys in the same order, and
   * comparing a key to the one at its position is cheaper than a lookup by name.
   */
  lastKeys?: string[];
  lastRefs?: (ChildRef | undefined)[];
  /** An extension element walked as the definition its instances name (see extensionDefinition). */
  plainExtension?: boolean;
  /** Resource types a resource-typed element allows (Resource/DomainResource dropped). */
  resourceTypes?: string[];
  /** Values of the element's first type are resources (Bundle.entry.resource, contained). */
  resourceTyped?: boolean;
  /** The element is `<Resource>.id` (a string in R4 that must still be a valid id). */
  resourceId?: boolean;
  constructor(readonly owner: Validator) {}
}

