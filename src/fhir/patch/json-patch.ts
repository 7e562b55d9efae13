// JSON Patch (RFC 6902) with JSON Pointers (RFC 6901). The patch is applied to a deep copy,
// so a failing operation leaves the caller's resource exactly as it was (atomicity for free).
import type { FhirResource } from '../json.js';
import { PatchError } from './errors.js';
import { isObject } from '../json.js';

type Json = unknown;
type Container = Record<string, unknown> | unknown[];

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;


/** RFC 6901: "" is the whole document; otherwise "/"-separated tokens with ~1 → "/" and ~0 → "~". */
export function parsePointer(pointer: string, op: number): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(400, `invalid JSON Pointer "${pointer}" (must be empty or start with "/")`, `pointeur JSON « ${pointer} » invalide (vide ou commençant par « / »)`, op);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new PatchError(400, `invalid escape in JSON Pointer "${pointer}" (only ~0 and ~1)`, `échappement invalide dans le pointeur JSON « ${pointer} » (seuls ~0 et ~1)`, op);
      return t.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

/** Own-property read only: never `__proto__`, `constructor` or other inherited names. */
function child(container: unknown, token: string): { found: boolean; value?: unknown } {
  if (Array.isArray(container)) {
    if (!ARRAY_INDEX.test(token)) return { found: false };
    const i = Number(token);
    return i < container.length ? { found: true, value: container[i] } : { found: false };
  }
  if (isObject(container) && Object.hasOwn(container, token)) return { found: true, value: container[token] };
  return { found: false };
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a key named "__proto__" must become data, not a prototype.
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

function resolveParent(doc: unknown, tokens: string[], pointer: string, op: number): Container {
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    const c = child(cur, t);
    if (!c.found) throw new PatchError(422, `path not found: "${pointer}"`, `chemin introuvable : « ${pointer} »`, op);
    cur = c.value;
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new PatchError(422, `path not found: "${pointer}" (parent is not an object or array)`, `chemin introuvable : « ${pointer} » (le parent n’est ni un objet ni un tableau)`, op);
  return cur;
}

function get(doc: unknown, pointer: string, op: number): unknown {
  let cur: unknown = doc;
  for (const t of parsePointer(pointer, op)) {
    const c = child(cur, t);
    if (!c.found) throw new PatchError(422, `path not found: "${pointer}"`, `chemin introuvable : « ${pointer} »`, op);
    cur = c.value;
  }
  return cur;
}

/** RFC 6902 §4.6 equality: same JSON type and value; object member order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

class Doc {
  constructor(public root: unknown) {}

  add(pointer: string, value: unknown, op: number): void {
    const tokens = parsePointer(pointer, op);
    if (!tokens.length) {
      this.root = value;
      return;
    }
    const parent = resolveParent(this.root, tokens, pointer, op);
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      if (last === '-') {
        parent.push(value);
        return;
      }
      if (!ARRAY_INDEX.test(last)) throw new PatchError(422, `"${last}" is not an array index in "${pointer}"`, `« ${last} » n’est pas un indice de tableau dans « ${pointer} »`, op);
      const i = Number(last);
      if (i > parent.length) throw new PatchError(422, `index ${i} is out of bounds (array length ${parent.length}) in "${pointer}"`, `l’indice ${i} est hors limites (tableau de longueur ${parent.length}) dans « ${pointer} »`, op);
      parent.splice(i, 0, value);
    } else setOwn(parent, last, value);
  }

  remove(pointer: string, op: number): unknown {
    const tokens = parsePointer(pointer, op);
    if (!tokens.length) throw new PatchError(422, 'the whole document cannot be removed', 'le document entier ne peut pas être supprimé', op);
    const parent = resolveParent(this.root, tokens, pointer, op);
    const last = tokens[tokens.length - 1];
    const c = child(parent, last);
    if (!c.found) throw new PatchError(422, `path not found: "${pointer}"`, `chemin introuvable : « ${pointer} »`, op);
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
    return c.value;
  }

  replace(pointer: string, value: unknown, op: number): void {
    const tokens = parsePointer(pointer, op);
    if (!tokens.length) {
      this.root = value;
      return;
    }
    const parent = resolveParent(this.root, tokens, pointer, op);
    const last = tokens[tokens.length - 1];
    if (!child(parent, last).found) throw new PatchError(422, `path not found: "${pointer}"`, `chemin introuvable : « ${pointer} »`, op);
    if (Array.isArray(parent)) parent[Number(last)] = value;
    else setOwn(parent, last, value);
  }
}

function member(o: Record<string, unknown>, key: string, op: number, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) throw new PatchError(400, `"${key}" is required for "${String(o.op)}"`, `« ${key} » est obligatoire pour « ${String(o.op)} »`, op);
    return undefined;
  }
  if (typeof v !== 'string') throw new PatchError(400, `"${key}" must be a string`, `« ${key} » doit être une chaîne`, op);
  return v;
}

/**
 * Applies an RFC 6902 JSON Patch to a FHIR resource and returns the patched copy.
 * The input is never modified. PatchError 400 for a malformed patch, 422 for a failed `test`,
 * a missing path, or a result that is no longer a resource of the same type.
 */
export function applyJsonPatch(resource: FhirResource | Record<string, unknown>, ops: unknown): FhirResource {
  if (!Array.isArray(ops)) throw new PatchError(400, 'a JSON Patch document must be a JSON array of operations', 'un document JSON Patch doit être un tableau JSON d’opérations');
  // Validate the whole document first so that a malformed tail is reported as 400, not as a half-applied 422.
  ops.forEach((o, i) => {
    if (!isObject(o)) throw new PatchError(400, 'an operation must be a JSON object', 'une opération doit être un objet JSON', i);
    if (typeof o.op !== 'string' || !OPS.has(o.op)) throw new PatchError(400, `unknown op ${JSON.stringify(o.op)} (add, remove, replace, move, copy, test)`, `op ${JSON.stringify(o.op)} inconnue (add, remove, replace, move, copy, test)`, i);
    parsePointer(member(o, 'path', i, true)!, i);
    if ((o.op === 'add' || o.op === 'replace' || o.op === 'test') && !Object.hasOwn(o, 'value')) throw new PatchError(400, `"value" is required for "${o.op}"`, `« value » est obligatoire pour « ${o.op} »`, i);
    if (o.op === 'move' || o.op === 'copy') parsePointer(member(o, 'from', i, true)!, i);
  });
  const doc = new Doc(structuredClone(resource));
  ops.forEach((raw, i) => {
    const o = raw as Record<string, unknown>;
    const path = o.path as string;
    switch (o.op) {
      case 'add':
        doc.add(path, structuredClone(o.value), i);
        break;
      case 'remove':
        doc.remove(path, i);
        break;
      case 'replace':
        doc.replace(path, structuredClone(o.value), i);
        break;
      case 'move': {
        const from = o.from as string;
        if (path === from) break;
        if (path.startsWith(from + '/')) throw new PatchError(400, `cannot move "${from}" into its own child "${path}"`, `impossible de déplacer « ${from} » dans son propre enfant « ${path} »`, i);
        const value = doc.remove(from, i);
        doc.add(path, value, i);
        break;
      }
      case 'copy':
        doc.add(path, structuredClone(get(doc.root, o.from as string, i)), i);
        break;
      case 'test':
        if (!jsonEqual(get(doc.root, path, i), o.value)) throw new PatchError(422, `test failed: the value at "${path}" is not ${JSON.stringify(o.value)}`, `test échoué : la valeur en « ${path} » n’est pas ${JSON.stringify(o.value)}`, i);
        break;
    }
  });
  const out = doc.root as Record<string, unknown>;
  const type = (resource as Record<string, unknown>).resourceType;
  if (!isObject(out) || typeof out.resourceType !== 'string') throw new PatchError(422, 'the patched document is no longer a FHIR resource (no resourceType)', 'le document modifié n’est plus une ressource FHIR (pas de resourceType)');
  if (out.resourceType !== type) throw new PatchError(422, `a patch cannot change the resource type (${String(type)} → ${out.resourceType})`, `un patch ne peut pas changer le type de ressource (${String(type)} → ${out.resourceType})`);
  return out as FhirResource;
}
