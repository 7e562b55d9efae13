// Compiled profiles, cached: each StructureDefinition is expanded (snapshot.ts) and compiled
// (compile.ts) once, on first use or up front with `compileAll()`.
// A Profiles object answers for one view of the packages (one IG in use): a canonical means
// what it means in that view. The compiled forms are keyed by the StructureDefinition itself
// and shared by every view of one store (ProfileCache), so FR Core is compiled once for the
// TDDUI 2.2.0 and 2.3.0 views that both use it.
import type { ConformanceRegistry } from '../packages/registry.js';
import { compileSnapshot, type ElementNode } from './compile.js';
import { SnapshotGenerator, type BaseSupplements, type StructureDefinition } from './snapshot.js';

export interface CompiledProfile {
  url: string;
  version?: string;
  name: string;
  /** Resource or datatype the profile constrains (`Patient`, `Extension`, `HumanName`). */
  type: string;
  kind: string;
  derivation?: string;
  sd: StructureDefinition;
  root: ElementNode;
  /** Canonicals needed but not loaded: validation against this profile is partial when non-empty. */
  missing: string[];
  notes: string[];
  /** Contexts where an extension may be used (extensions only). */
  context?: { type: string; expression: string }[];
  /** FHIRPath invariants the host element of an extension must meet (StructureDefinition.contextInvariant). */
  contextInvariant?: string[];
}

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';

/** Snapshots and compiled profiles of one store, shared by its views. */
export class ProfileCache {
  readonly snapshots: SnapshotGenerator;
  private readonly compiled = new WeakMap<StructureDefinition, CompiledProfile | null>();

  constructor(
    private readonly registry: ConformanceRegistry,
    supplements?: BaseSupplements,
  ) {
    this.snapshots = new SnapshotGenerator(registry, supplements);
  }

  /**
   * A constraint's kind is its type's (resource, complex-type...): some published profiles
   * state a wrong one (a Patient profile declared `complex-type`), as the HL7 validator ignores.
   */
  private kindOf(sd: StructureDefinition): string {
    if (sd.derivation !== 'constraint') return sd.kind;
    const base = this.registry.resolve(`http://hl7.org/fhir/StructureDefinition/${sd.type}`, 'StructureDefinition') as StructureDefinition | undefined;
    return base?.kind ?? sd.kind;
  }

  compile(sd: StructureDefinition): CompiledProfile | undefined {
    const hit = this.compiled.get(sd);
    if (hit !== undefined) return hit ?? undefined;
    let result: CompiledProfile | null = null;
    const snap = this.snapshots.generate(sd);
    if (snap.elements.length > 0) {
      result = {
        url: sd.url,
        version: sd.version,
        name: sd.name ?? sd.url,
        type: sd.type,
        kind: this.kindOf(sd),
        derivation: sd.derivation,
        sd,
        root: compileSnapshot(snap.elements),
        missing: snap.missing,
        notes: snap.notes,
        context: sd.context,
        contextInvariant: (sd as { contextInvariant?: string[] }).contextInvariant,
      };
    }
    this.compiled.set(sd, result);
    return result ?? undefined;
  }
}

export class Profiles {
  readonly snapshots: SnapshotGenerator;
  readonly cache: ProfileCache;
  private readonly compiled = new Map<string, CompiledProfile | null>();

  constructor(
    readonly registry: ConformanceRegistry,
    supplements?: BaseSupplements,
    shared?: ProfileCache,
  ) {
    this.cache = shared ?? new ProfileCache(registry, supplements);
    this.snapshots = this.cache.snapshots;
  }

  /** How many canonicals this view has looked up so far (compiled, or found not loaded): what it holds. */
  get size(): number {
    return this.compiled.size;
  }

  /** The compiled profile for a canonical URL (with optional |version) in this view; undefined when not loaded. */
  get(canonical: string): CompiledProfile | undefined {
    const hit = this.compiled.get(canonical);
    if (hit !== undefined) return hit ?? undefined;
    const sd = this.registry.resolve<StructureDefinition>(canonical, 'StructureDefinition');
    const result = sd ? (this.cache.compile(sd) ?? null) : null;
    this.compiled.set(canonical, result);
    return result ?? undefined;
  }

  /** The base definition of a resource type or datatype (`Patient`, `HumanName`, `string`). */
  core(type: string): CompiledProfile | undefined {
    let hit = this.coreByType.get(type);
    if (hit === undefined) {
      hit = this.get(CORE_SD + type) ?? null;
      this.coreByType.set(type, hit);
    }
    return hit ?? undefined;
  }

  private readonly coreByType = new Map<string, CompiledProfile | null>();

  /** Compiles every StructureDefinition of the non-core packages (start-up warm-up). */
  compileAll(): number {
    let n = 0;
    for (const sd of this.registry.all<StructureDefinition>('StructureDefinition')) {
      if (sd.url.startsWith(CORE_SD) && sd.snapshot) continue;
      if (this.get(sd.url)) n++;
    }
    return n;
  }

  /** Generated snapshot as a StructureDefinition (for export and for other validators). */
  withSnapshot(canonical: string): StructureDefinition | undefined {
    const sd = this.registry.resolve<StructureDefinition>(canonical, 'StructureDefinition');
    if (!sd) return undefined;
    const snap = this.snapshots.generate(sd);
    return { ...sd, snapshot: { element: snap.elements } };
  }
}
