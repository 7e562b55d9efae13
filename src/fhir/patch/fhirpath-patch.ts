// FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource whose
// `operation` parameters add / insert / delete / replace / move elements designated by
// FHIRPath. The `fhirpath` package selects the nodes; each node (a fhirpath ResourceNode) knows
// its parent node, property name and array index, which is how we find the JSON slot to change.
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import type { FhirResource } from '../json.js';
import { type ElementDef, type FhirModel, type TypeContext, fhirModel } from '../xml/model.js';
import { PatchError } from './errors.js';
import { isObject } from '../json.js';

type Json = Record<string, unknown>;

/** What fhirpath returns with resolveInternalTypes: false (fields we rely on, see fhirpath's types.js). */
interface ResourceNode {
  data: unknown;
  _data: unknown;
  parentResNode: ResourceNode | null;
  path: string | null;
  fhirNodeDataType: string | null;
  propName: string | null;
  index: number | null;
}

/** A JSON slot: `container[key]`, or `container[key][index]` for repeating elements. */
interface Slot {
  container: Json;
  key: string;
  /** The element name without the choice suffix (`value` for `valueString`). */
  name: string;
  index: number | null;
  /** Definition of the element, when the model knows the container's type. */
  def?: ElementDef;
}

interface Operation {
  type: 'add' | 'insert' | 'delete' | 'replace' | 'move';
  path: string;
  name?: string;
  value?: { value: unknown; type?: string };
  index?: number;
  source?: number;
  destination?: number;
}

const TYPES = new Set(['add', 'insert', 'delete', 'replace', 'move']);


/** A JSON object of the resource (fhirpath wraps decimals in FP_Decimal objects: those are values). */
function isPlainObject(v: unknown): v is Json {
  return isObject(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** The JSON value of a primitive node's data. */
function primitiveJson(v: unknown): unknown {
  const toJSON = (v as { toJSON?: () => unknown } | null)?.toJSON;
  return typeof toJSON === 'function' ? toJSON.call(v) : v;
}

function isNode(v: unknown): v is ResourceNode {
  return isObject(v) && 'parentResNode' in v && 'data' in v && 'propName' in v;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function setOwn(obj: Json, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

class Patcher {
  constructor(
    private readonly model: FhirModel,
    readonly root: Json,
  ) {}

  private fail(status: 400 | 422, message: string, fr: string, op: number): never {
    throw new PatchError(status, message, fr, op);
  }

  select(path: string, op: number): ResourceNode[] {
    let result: unknown;
    try {
      result = fhirpath.evaluate(this.root, path, {}, r4model, { resolveInternalTypes: false });
    } catch (e) {
      this.fail(400, `invalid FHIRPath "${path}": ${(e as Error).message}`, `FHIRPath « ${path} » invalide : « ${(e as Error).message} »`, op);
    }
    const nodes = Array.isArray(result) ? result : [result];
    for (const n of nodes) {
      if (!isNode(n)) this.fail(422, `"${path}" selects a computed value, not an element of the resource`, `« ${path} » sélectionne une valeur calculée, pas un élément de la ressource`, op);
    }
    return nodes as ResourceNode[];
  }

  private one(path: string, op: number): ResourceNode {
    const nodes = this.select(path, op);
    if (nodes.length !== 1) this.fail(422, `"${path}" must select exactly one element, it selects ${nodes.length}`, `« ${path} » doit sélectionner exactement un élément, il en sélectionne ${nodes.length}`, op);
    return nodes[0];
  }

  /** Context (type or backbone path) describing the children of a node. */
  private contextOf(node: ResourceNode): TypeContext | undefined {
    return (node.path ? this.model.context(node.path) : undefined) ?? (node.fhirNodeDataType ? this.model.context(node.fhirNodeDataType) : undefined);
  }

  private isPrimitiveNode(node: ResourceNode): boolean {
    return !isPlainObject(node.data);
  }

  /** The JSON object holding a node's children: the node's object, or the `_x` object of a primitive. */
  private childObject(node: ResourceNode, op: number, create: boolean): Json | undefined {
    if (!this.isPrimitiveNode(node)) return node.data as Json;
    const slot = this.slotOf(node, op);
    const extraKey = '_' + slot.key;
    let extra = slot.container[extraKey];
    if (slot.index === null) {
      if (!isObject(extra) && create) setOwn(slot.container, extraKey, (extra = {}));
      return isObject(extra) ? extra : undefined;
    }
    const len = (slot.container[slot.key] as unknown[]).length;
    if (!Array.isArray(extra)) {
      if (!create) return undefined;
      setOwn(slot.container, extraKey, (extra = new Array(len).fill(null)));
    }
    const arr = extra as unknown[];
    if (!isObject(arr[slot.index]) && create) arr[slot.index] = {};
    return isObject(arr[slot.index]) ? (arr[slot.index] as Json) : undefined;
  }

  /** Where a selected node lives in the JSON. */
  slotOf(node: ResourceNode, op: number): Slot {
    const parent = node.parentResNode;
    if (!parent || node.propName === null) this.fail(422, 'the resource itself cannot be the target of this operation', 'la ressource elle-même ne peut pas être la cible de cette opération', op);
    const container = this.childObject(parent, op, false);
    if (!container) this.fail(422, `cannot locate the element ${node.propName}`, `élément ${node.propName} introuvable`, op);
    const name = node.propName;
    let key = name;
    if (!Object.hasOwn(container, key) && !Object.hasOwn(container, '_' + key)) {
      // Choice element: fhirpath names it `value`, JSON names it `valueQuantity`.
      key = Object.keys(container).find((k) => k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)) && (!node.fhirNodeDataType || k.slice(name.length).toLowerCase() === node.fhirNodeDataType.toLowerCase())) ?? key;
    }
    const raw = Object.hasOwn(container, key) ? container[key] : container['_' + key];
    const index = Array.isArray(raw) ? (node.index ?? 0) : null;
    // Safety net: the slot must really hold the node (object identity, or equal primitive).
    const held = index === null ? raw : (raw as unknown[])[index];
    const heldExtra = index === null ? container['_' + key] : (container['_' + key] as unknown[] | undefined)?.[index];
    const data = primitiveJson(node.data);
    const same = isPlainObject(node.data)
      ? held === node.data
      : held === data || (held !== null && held !== undefined && String(held) === String(data)) || (held == null && heldExtra === node._data);
    if (!same) this.fail(422, `cannot locate the element ${name} in the resource`, `élément ${name} introuvable dans la ressource`, op);
    const def = this.contextOf(parent)?.byName.get(key)?.def ?? (parent && this.isPrimitiveNode(parent) ? this.model.context('Element')?.byName.get(key)?.def : undefined);
    return { container, key, name, index, def };
  }

  // --- operations -------------------------------------------------------------------------

  add(o: Operation, op: number): void {
    const node = this.one(o.path, op);
    const name = o.name!;
    const primitiveTarget = this.isPrimitiveNode(node);
    let def: ElementDef | undefined;
    let key = name;
    if (primitiveTarget) {
      if (name !== 'extension' && name !== 'id') this.fail(422, `a primitive value can only receive "extension" or "id", not "${name}"`, `une valeur primitive ne peut recevoir que « extension » ou « id », pas « ${name} »`, op);
      def = this.model.context('Element')!.byName.get(name)!.def;
    } else {
      const ctx = this.contextOf(node);
      if (!ctx) this.fail(422, `unknown type at "${o.path}"`, `type inconnu en « ${o.path} »`, op);
      const hit = ctx.byName.get(name) ?? (o.value?.type ? ctx.byName.get(name + cap(o.value.type)) : undefined);
      if (!hit) this.fail(422, `"${name}" is not an element of ${ctx.key}`, `« ${name} » n’est pas un élément de ${ctx.key}`, op);
      def = hit.def;
      key = def.choice ? hit.def.name + cap(o.value?.type ?? hit.type) : name;
      if (def.choice && !o.value?.type) this.fail(400, `the value for the choice element ${name}[x] must be given as value[x]`, `la valeur de l’élément à choix ${name}[x] doit être donnée en value[x]`, op);
      if (def.choice && !def.types.includes(o.value!.type!)) this.fail(422, `${name}[x] does not allow the type ${o.value!.type}`, `${name}[x] n’admet pas le type ${o.value!.type}`, op);
    }
    const value = this.materialise(o, def, op);
    const target = this.childObject(node, op, true)!;
    if (def.choice) {
      const other = Object.keys(target).find((k) => k !== key && k.startsWith(def!.name) && def!.types.some((t) => k === def!.name + cap(t)));
      if (other) this.fail(422, `${def.name}[x] already has a value (${other}); use replace`, `${def.name}[x] a déjà une valeur (${other}) ; utiliser replace`, op);
    }
    const current = target[key];
    if (def.single) {
      if (current !== undefined) this.fail(422, `${key} already has a value; use replace`, `${key} a déjà une valeur ; utiliser replace`, op);
      setOwn(target, key, value);
    } else if (current === undefined) {
      setOwn(target, key, [value]);
    } else if (Array.isArray(current)) {
      current.push(value);
      const extra = target['_' + key];
      if (Array.isArray(extra)) extra.push(null);
    } else this.fail(422, `${key} is not a list`, `${key} n’est pas une liste`, op);
  }

  /** The list designated by a collection path, even when it is empty (then the parent is selected instead). */
  private list(path: string, op: number): { slot: Omit<Slot, 'index'>; items: unknown[] } {
    const nodes = this.select(path, op);
    if (nodes.length) {
      const slots = nodes.map((n) => this.slotOf(n, op));
      const first = slots[0];
      if (slots.some((s) => s.container !== first.container || s.key !== first.key)) this.fail(422, `"${path}" does not select a single list`, `« ${path} » ne sélectionne pas une seule liste`, op);
      const items = first.container[first.key];
      if (!Array.isArray(items)) this.fail(422, `"${path}" is not a list`, `« ${path} » n’est pas une liste`, op);
      if (nodes.length !== items.length) this.fail(422, `"${path}" must select the whole list (filters select part of it)`, `« ${path} » doit sélectionner toute la liste (un filtre n’en sélectionne qu’une partie)`, op);
      return { slot: first, items };
    }
    // Empty list: find the parent from a trailing `.name`.
    const m = /^(.*)\.([A-Za-z][A-Za-z0-9]*)$/.exec(path.trim());
    if (!m) this.fail(422, `"${path}" selects nothing`, `« ${path} » ne sélectionne rien`, op);
    const parent = this.one(m[1], op);
    const ctx = this.contextOf(parent);
    const def = ctx?.byName.get(m[2])?.def;
    if (!def || def.single || this.isPrimitiveNode(parent)) this.fail(422, `"${path}" is not a list`, `« ${path} » n’est pas une liste`, op);
    return { slot: { container: parent.data as Json, key: m[2], name: m[2], def }, items: [] };
  }

  insert(o: Operation, op: number): void {
    const { slot, items } = this.list(o.path, op);
    if (o.index! > items.length) this.fail(422, `index ${o.index} is out of bounds (list of ${items.length})`, `l’indice ${o.index} est hors limites (liste de ${items.length})`, op);
    const value = this.materialise(o, slot.def, op);
    if (!items.length && !Object.hasOwn(slot.container, slot.key)) setOwn(slot.container, slot.key, [value]);
    else items.splice(o.index!, 0, value);
    const extra = slot.container['_' + slot.key];
    if (Array.isArray(extra)) extra.splice(o.index!, 0, null);
  }

  delete(o: Operation, op: number): void {
    const nodes = this.select(o.path, op);
    if (!nodes.length) return; // "Path of the element to delete (if found)"
    if (nodes.length > 1) this.fail(422, `"${o.path}" must select at most one element, it selects ${nodes.length}`, `« ${o.path} » doit sélectionner au plus un élément, il en sélectionne ${nodes.length}`, op);
    this.remove(nodes[0], op);
  }

  private remove(node: ResourceNode, op: number): void {
    const slot = this.slotOf(node, op);
    const extraKey = '_' + slot.key;
    if (slot.index === null) {
      delete slot.container[slot.key];
      delete slot.container[extraKey];
    } else {
      for (const k of [slot.key, extraKey]) {
        const arr = slot.container[k];
        if (!Array.isArray(arr)) continue;
        arr.splice(slot.index, 1);
        if (arr.every((x) => x === null)) delete slot.container[k];
      }
    }
    // FHIR has no empty elements: an element left without content goes too (not the resource).
    const parent = node.parentResNode!;
    if (!parent.parentResNode || Object.keys(slot.container).length) return;
    if (!this.isPrimitiveNode(parent)) {
      this.remove(parent, op);
      return;
    }
    // An emptied `_x` of a primitive goes, the value stays (or the whole item, if it had no value).
    const ps = this.slotOf(parent, op);
    const xKey = '_' + ps.key;
    if (ps.index === null) {
      delete ps.container[xKey];
      if (ps.container[ps.key] === undefined) delete ps.container[ps.key];
      return;
    }
    const values = ps.container[ps.key] as unknown[] | undefined;
    const extras = ps.container[xKey] as unknown[];
    if (values?.[ps.index] == null) {
      values?.splice(ps.index, 1);
      extras.splice(ps.index, 1);
    } else extras[ps.index] = null;
    if (extras.every((x) => x === null)) delete ps.container[xKey];
    if (values && values.every((x) => x === null)) delete ps.container[ps.key];
  }

  replace(o: Operation, op: number): void {
    const slot = this.slotOf(this.one(o.path, op), op);
    const def = slot.def;
    let key = slot.key;
    if (def?.choice && o.value?.type && key !== def.name + cap(o.value.type)) {
      // Replacing valueQuantity by a valueString changes the JSON name.
      if (!def.types.includes(o.value.type)) this.fail(422, `${def.name}[x] does not allow the type ${o.value.type}`, `${def.name}[x] n’admet pas le type ${o.value.type}`, op);
      if (slot.index !== null) this.fail(422, 'cannot change the type of one item of a list', 'impossible de changer le type d’un seul élément d’une liste', op);
      delete slot.container[key];
      delete slot.container['_' + key];
      key = def.name + cap(o.value.type);
    }
    const value = this.materialise(o, def, op);
    if (slot.index === null) setOwn(slot.container, key, value);
    else (slot.container[key] as unknown[])[slot.index] = value;
  }

  move(o: Operation, op: number): void {
    const { slot, items } = this.list(o.path, op);
    const { source, destination } = o as Required<Operation>;
    if (source >= items.length || destination >= items.length) {
      this.fail(422, `source ${source} / destination ${destination} out of bounds (list of ${items.length})`, `source ${source} / destination ${destination} hors limites (liste de ${items.length})`, op);
    }
    for (const k of [slot.key, '_' + slot.key]) {
      const arr = slot.container[k];
      if (!Array.isArray(arr)) continue;
      const [moved] = arr.splice(source, 1);
      arr.splice(destination, 0, moved);
    }
  }

  /** The JSON value of an operation's `value` (value[x], or nested parts for backbone elements). */
  private materialise(o: Operation, def: ElementDef | undefined, op: number): unknown {
    const v = o.value!;
    if (v.type !== undefined) {
      if (def && !def.choice) this.checkShape(def, v.value, op);
      return structuredClone(v.value);
    }
    const ctx = def ? this.model.childContext(def, def.types[0] ?? 'BackboneElement') : undefined;
    return this.fromParts(v.value as Json[], ctx, op);
  }

  /** The JSON shape of a value must fit the element: a primitive, an object, or a resource. */
  private checkShape(def: ElementDef, value: unknown, op: number): void {
    const type = def.types[0];
    if (!type) return;
    const kind = def.children ? 'complex' : this.model.kind(type);
    const ok =
      kind === 'primitive' ? value !== null && typeof value !== 'object' : kind === 'resource' ? isObject(value) && typeof value.resourceType === 'string' : isObject(value);
    if (!ok) this.fail(422, `the value does not fit ${def.path} (${type})`, `la valeur ne convient pas à ${def.path} (${type})`, op);
  }

  private fromParts(parts: Json[], ctx: TypeContext | undefined, op: number): Json {
    if (!ctx) this.fail(422, 'a value given as parts needs a complex element as target', 'une valeur donnée en parties demande un élément complexe pour cible', op);
    const out: Json = {};
    for (const p of parts) {
      if (!isObject(p) || typeof p.name !== 'string') this.fail(400, 'each part of a value must have a name', 'chaque partie d’une valeur doit avoir un nom', op);
      const given = partValue(p, op);
      const hit = ctx.byName.get(p.name) ?? (given?.type ? ctx.byName.get(p.name + cap(given.type)) : undefined);
      if (!hit) this.fail(422, `"${p.name}" is not an element of ${ctx.key}`, `« ${p.name} » n’est pas un élément de ${ctx.key}`, op);
      if (!given) this.fail(400, `part "${p.name}" has no value`, `la partie « ${p.name} » n’a pas de valeur`, op);
      const key = hit.def.choice ? hit.def.name + cap(given.type ?? hit.type) : hit.def.name;
      const value = given.type !== undefined ? structuredClone(given.value) : this.fromParts(given.value as Json[], this.model.childContext(hit.def, hit.type), op);
      if (hit.def.single) {
        if (Object.hasOwn(out, key)) this.fail(400, `part "${p.name}" given twice for a single element`, `la partie « ${p.name} » est donnée deux fois pour un élément simple`, op);
        setOwn(out, key, value);
      } else {
        const arr = (out[key] as unknown[] | undefined) ?? [];
        arr.push(value);
        setOwn(out, key, arr);
      }
    }
    return out;
  }
}

/** value[x] of a part: `{ value, type }`, or `{ value: parts }` when given as nested parts; undefined when absent. */
function partValue(p: Json, op: number): { value: unknown; type?: string } | undefined {
  const keys = Object.keys(p).filter((k) => /^value[A-Z]/.test(k));
  if (keys.length > 1) throw new PatchError(400, `part "${String(p.name)}" has several values (${keys.join(', ')})`, `la partie « ${String(p.name)} » a plusieurs valeurs (${keys.join(', ')})`, op);
  if (keys.length === 1) {
    const suffix = keys[0].slice(5);
    const model = fhirModel();
    const lower = suffix.charAt(0).toLowerCase() + suffix.slice(1);
    const type = model.kind(lower) === 'primitive' ? lower : suffix;
    return { value: p[keys[0]], type };
  }
  if (p.resource !== undefined) {
    if (!isObject(p.resource) || typeof p.resource.resourceType !== 'string') throw new PatchError(400, 'resource part must be a resource', 'la partie resource doit être une ressource', op);
    return { value: p.resource, type: 'Resource' };
  }
  if (Array.isArray(p.part)) return { value: p.part };
  return undefined;
}

function parseOperations(parameters: unknown): Operation[] {
  if (!isObject(parameters) || parameters.resourceType !== 'Parameters') throw new PatchError(400, 'a FHIRPath Patch must be a Parameters resource', 'un FHIRPath Patch doit être une ressource Parameters');
  const params = parameters.parameter ?? [];
  if (!Array.isArray(params)) throw new PatchError(400, 'Parameters.parameter must be an array', 'Parameters.parameter doit être un tableau');
  return params.map((param, op) => {
    if (!isObject(param) || param.name !== 'operation') throw new PatchError(400, `parameter name must be "operation", not ${JSON.stringify(isObject(param) ? param.name : param)}`, `le nom du paramètre doit être « operation », pas ${JSON.stringify(isObject(param) ? param.name : param)}`, op);
    if (!Array.isArray(param.part)) throw new PatchError(400, 'an operation needs parts (type, path...)', 'une opération demande des parties (type, path…)', op);
    const parts = new Map<string, Json>();
    for (const p of param.part) {
      if (!isObject(p) || typeof p.name !== 'string') throw new PatchError(400, 'each part needs a name', 'chaque partie demande un nom', op);
      if (!['type', 'path', 'name', 'value', 'index', 'source', 'destination'].includes(p.name)) throw new PatchError(400, `unknown part "${p.name}"`, `partie « ${p.name} » inconnue`, op);
      if (parts.has(p.name)) throw new PatchError(400, `part "${p.name}" given twice`, `partie « ${p.name} » donnée deux fois`, op);
      parts.set(p.name, p);
    }
    const str = (n: string, required: boolean): string | undefined => {
      const p = parts.get(n);
      if (!p) {
        if (required) throw new PatchError(400, `part "${n}" is required`, `la partie « ${n} » est obligatoire`, op);
        return undefined;
      }
      const v = p.valueCode ?? p.valueString;
      if (typeof v !== 'string' || !v) throw new PatchError(400, `part "${n}" must have a valueCode or valueString`, `la partie « ${n} » doit avoir un valueCode ou un valueString`, op);
      return v;
    };
    const int = (n: string): number => {
      const v = parts.get(n)?.valueInteger;
      if (!Number.isInteger(v) || (v as number) < 0) throw new PatchError(400, `part "${n}" must have a valueInteger ≥ 0`, `la partie « ${n} » doit avoir un valueInteger ≥ 0`, op);
      return v as number;
    };
    const type = str('type', true)!;
    if (!TYPES.has(type)) throw new PatchError(400, `unknown operation type "${type}" (add, insert, delete, replace, move)`, `type d’opération « ${type} » inconnu (add, insert, delete, replace, move)`, op);
    const o: Operation = { type: type as Operation['type'], path: str('path', true)! };
    if (type === 'add') o.name = str('name', true);
    if (type === 'add' || type === 'insert' || type === 'replace') {
      const vp = parts.get('value');
      const value = vp && partValue(vp, op);
      if (!value) throw new PatchError(400, `part "value" is required for ${type}`, `la partie « value » est obligatoire pour ${type}`, op);
      o.value = value;
    }
    if (type === 'insert') o.index = int('index');
    if (type === 'move') {
      o.source = int('source');
      o.destination = int('destination');
    }
    return o;
  });
}

/**
 * Applies a FHIRPath Patch (Parameters resource) to a FHIR resource and returns the patched copy;
 * the input is never modified. PatchError 400 for a malformed patch, 422 when an operation does
 * not fit the resource (path selecting nothing or several elements, element already present...).
 */
export function applyFhirPathPatch(resource: FhirResource | Record<string, unknown>, parameters: unknown): FhirResource {
  const ops = parseOperations(parameters);
  if (!isObject(resource) || typeof resource.resourceType !== 'string') throw new PatchError(422, 'the target is not a FHIR resource', 'la cible n’est pas une ressource FHIR');
  const p = new Patcher(fhirModel(), structuredClone(resource) as Json);
  ops.forEach((o, i) => p[o.type](o, i));
  return p.root as FhirResource;
}
