// Whether two versions of a resource carry the same content: the no-op rule of the write path
// (a resent object equal to its current version gets no new version). Equality is on the JSON
// value — object keys in any order (PostgreSQL's jsonb reorders them), arrays in order — with
// the fields the server sets left out: `id`, `meta.versionId`, `meta.lastUpdated` (and `meta`
// itself when nothing else is in it). `meta.profile`, `meta.security` and `meta.tag` are content:
// a changed security label or declared profile is a new version.
import { isObject, type Json } from './json.js';

function withoutServerMeta(r: Json): Json {
  const { id: _id, meta, ...rest } = r;
  if (!isObject(meta)) return rest;
  const { versionId: _v, lastUpdated: _l, ...m } = meta;
  return Object.keys(m).length ? { ...rest, meta: m } : rest;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i], b[i])) return false;
    return true;
  }
  if (!isObject(a) || !isObject(b) || Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!equal(a[k], b[k])) return false;
  return true;
}

/** Same content, server-set fields aside. */
export function sameContent(a: Json, b: Json): boolean {
  return equal(withoutServerMeta(a), withoutServerMeta(b));
}
