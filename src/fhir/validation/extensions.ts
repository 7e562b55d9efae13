// Extensions: the definition an extension's url names (or its slice's profile), its content
// walked against that definition, its context of use, relative urls only inside a complex
// extension, undefined urls in the namespace of a complete IG.
import { CODES } from '../outcome/codes.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { extensionContextRule } from './extension-context.js';
import { hintArgs } from './canonicals.js';
import { isObject, type Json } from './paths.js';
import { validateComplex } from './elements.js';
import type { Run } from './run.js';

/** Hosts whose urls are examples: their extensions are accepted unchecked (as by the HL7 validator). */
const EXAMPLE_HOSTS = /^https?:\/\/(?:[\w-]+\.)*(?:example\.(?:org|com|net)|acme\.(?:com|org)|nema\.org)(?:[:/]|$)/;

export function isExampleUrl(url: string): boolean {
  return EXAMPLE_HOSTS.test(url);
}

/** Extension contexts that allow any element. */
const GENERIC_CONTEXTS = new Set(['Element', 'Resource', 'DomainResource', 'BackboneElement']);

/** An `extension` element of an Extension (`Extension.extension`, `….extension.extension`): the parts of a complex extension. */
export function isSubExtensionNode(node: ElementNode): boolean {
  return node.name === 'extension' && (node.path === 'Extension.extension' || node.path.endsWith('xtension.extension'));
}

/** An Extension-typed element whose type names the extension's profile (an extension slice). */
export function hasOwnExtensionProfile(node: ElementNode): boolean {
  return node.types.some((t) => t.code === 'Extension' && !!t.profile?.length);
}

/**
 * The loaded definition of an extension found at a plain extension element (no type profile,
 * no constraint beyond Extension's own ele-1 and ext-1): the instance is then walked once,
 * against that definition, whose snapshot holds Extension's elements and invariants too —
 * not against Extension and then again against the definition (checkExtension's fallback).
 */
export function extensionDefinition(run: Run, obj: Json, node: ElementNode): CompiledProfile | undefined {
  const url = obj.url;
  if (typeof url !== 'string' || !url.includes(':')) return undefined;
  const m = run.v.memoOf(node);
  const plain = (m.plainExtension ??= !hasOwnExtensionProfile(node) && node.constraints.every((c) => c.key === 'ele-1' || c.key === 'ext-1'));
  if (!plain) return undefined;
  const def = run.profiles.get(url);
  return def && def.type === 'Extension' && def.root.children !== undefined ? def : undefined;
}

/** Extensions not matched to a profiled slice: resolve their definition by url. */
export function checkExtension(run: Run, obj: Json, node: ElementNode, path: string): void {
  const hasOwnProfile = hasOwnExtensionProfile(node);
  const url = obj.url;
  if (typeof url !== 'string') return;
  if (!url.includes(':')) {
    // Relative urls name the parts of a complex extension, checked with their parent's
    // definition; anywhere else an extension is identified by an absolute url.
    if (!isSubExtensionNode(node)) run.out.push(CODES.EXTENSION_URL_RELATIVE, `${path}.url`, { url });
    return;
  }
  const isModifier = node.name === 'modifierExtension';
  const def = run.profiles.get(url);
  if (!def) {
    const ig = run.v.completeIgOf(url);
    if (ig) run.out.push(CODES.EXTENSION_UNDEFINED, path, { url, canonical: ig.canonical, package: ig.pkg, ...hintArgs(ig.nearExtension) });
    else if (isExampleUrl(url)) {
      // Example domains (example.org, acme.com...) are accepted unchecked, as by the HL7 validator.
      const key = run.v.onceKey('ext:', url);
      if (!run.out.bump(key)) run.out.once(key, CODES.EXTENSION_UNKNOWN, path, { url, detail: '', detailFr: '' });
    } else if (isModifier) run.out.push(CODES.MODIFIER_EXTENSION_UNKNOWN, path, { url });
    else if (run.profiles.registry.packageFor(url) === undefined) {
      // No package we know of defines it: the HL7 validator rejects such an extension
      // ("could not be found so is not allowed here"); one of a package known but not loaded
      // is only "not checked" (decisions.md D-41).
      run.out.push(CODES.EXTENSION_NOT_FOUND, path, { url });
    } else {
      const key = run.v.onceKey('ext:', url);
      if (!run.out.bump(key)) run.out.once(key, CODES.EXTENSION_UNKNOWN, path, { url, ...run.v.describeMissing(url) });
    }
    return;
  }
  // A modifier extension's definition says so (its root isModifier): it goes in modifierExtension, and only it.
  if (def.type === 'Extension' && def.root.isModifier !== isModifier && (node.name === 'extension' || isModifier) && !isSubExtensionNode(node)) modifierMismatch(run, url, isModifier, path);
  if (!hasOwnProfile && node.children === undefined) {
    // Validate the content against the extension's own definition.
    validateComplex(run, obj, def.root, 'Extension', path, def);
  }
  checkExtensionContext(run, def, path, url, node);
}

export function checkExtensionContext(run: Run, def: CompiledProfile, path: string, url: string, node: ElementNode): void {
  const contexts = def.context;
  if (!contexts?.length && !def.contextInvariant?.length) return;
  const frame = run.frames[run.frames.length - 1];
  if (!frame || !path.startsWith(frame.path)) return;
  const type = String(frame.resource.resourceType);
  if (contexts?.length) {
    // Element contexts depend only on (extension, resource type, element path without indexes):
    // memoised. Extension and FHIRPath contexts, and context invariants, depend on the data.
    const memo = run.v.extensionContextMemo(def);
    let verdict: string | undefined;
    if (memo.dataDependent) verdict = extensionContextVerdict(run, contexts, path);
    else if (path.indexOf('.', frame.path.length + 1) === -1) {
      // On the resource itself (`Encounter.extension[0]`), the usual place: by resource type, no key built.
      verdict = memo.onResource.get(type);
      if (verdict === undefined) memo.onResource.set(type, (verdict = extensionContextVerdict(run, contexts, path)));
    } else {
      const key = `${url}|${type}${path.slice(frame.path.length).replace(/\[\d+\]/g, '')}`;
      verdict = run.v.extensionContexts.get(key);
      if (verdict === undefined) {
        verdict = extensionContextVerdict(run, contexts, path);
        run.v.extensionContexts.set(key, verdict);
      }
    }
    if (verdict) {
      run.out.push(extensionContextRule(node, url), path, { url, element: verdict, contexts: memo.expressions });
      return;
    }
  }
  for (const inv of def.contextInvariant ?? []) {
    const host = hostObject(frame.resource, path.slice(frame.path.length));
    if (host === undefined) continue;
    const r = run.v.evaluate(inv, host, frame.resource, frame.root);
    if (r !== true) {
      run.out.push(CODES.EXTENSION_CONTEXT_INVARIANT, path, { url, invariant: inv, detail: r === false ? '' : ` (${r})`, detailFr: r === false ? '' : ` (le moteur FHIRPath a signalé « ${r} »)` });
    }
  }
}

/** Element contexts that allow any element of a kind: `Element` anywhere; `Resource`, `DomainResource` on a resource. */
function genericContextAllows(e: string, host: { defPath: string; type: string; isResource: boolean }): boolean | undefined {
  if (e === 'Element') return true;
  if (e === 'Resource' || e === 'DomainResource') return host.isResource;
  if (e === 'BackboneElement') return host.type === 'BackboneElement';
  // `DomainResource.text`, `Resource.meta`: that element of any resource.
  const dot = e.indexOf('.');
  if (dot > 0 && (e.startsWith('Resource.') || e.startsWith('DomainResource.'))) return host.defPath.slice(host.defPath.indexOf('.')) === e.slice(dot);
  return undefined;
}

/** '' when the extension may be used at `path`, else the definition path of its host element. */
export function extensionContextVerdict(run: Run, contexts: NonNullable<CompiledProfile['context']>, path: string): string {
  const host = hostPath(run, path);
  if (!host) return '';
  const frame = run.frames[run.frames.length - 1]!;
  for (const c of contexts) {
    const e = c.expression;
    if (c.type === 'extension') {
      // Inside an extension with that url (a complex extension's part, an extension on its value).
      const obj = hostObject(frame.resource, path.slice(frame.path.length), true);
      if (isObject(obj) && obj.url === e) return '';
      continue;
    }
    if (c.type === 'fhirpath') {
      const obj = hostObject(frame.resource, path.slice(frame.path.length));
      if (obj !== undefined && run.v.selects(e, frame.resource, obj)) return '';
      continue;
    }
    const generic = genericContextAllows(e, host);
    if (generic === true) return '';
    if (generic === false) continue;
    if (host.defPath === e || host.type === e) return '';
  }
  return host.defPath;
}

/**
 * The JSON object holding the extension at `rel` (a location relative to its resource, e.g.
 * `.address[0].extension[1]`): the element (`_x` for a primitive). With `extensionOnly`, the
 * Extension that holds it, when the host is an Extension or an Extension's value.
 */
export function hostObject(resource: Json, rel: string, extensionOnly = false): Json | undefined {
  const segs = rel.split('.').filter(Boolean);
  segs.pop(); // the extension itself
  let cur: unknown = resource;
  let lastExtension: Json | undefined;
  for (let i = 0; i < segs.length; i++) {
    const m = /^([^[]+)(?:\[(\d+)\])?$/.exec(segs[i]);
    if (!m || !isObject(cur)) return undefined;
    const name = m[1];
    let v: unknown = cur[name];
    if ((v === undefined || !isObject(m[2] === undefined ? v : (v as unknown[])[Number(m[2])])) && `_${name}` in cur) v = cur[`_${name}`];
    if (m[2] !== undefined) v = Array.isArray(v) ? v[Number(m[2])] : undefined;
    if (name === 'extension' && isObject(v)) lastExtension = v;
    else if (!name.startsWith('value')) lastExtension = undefined;
    cur = v;
  }
  if (extensionOnly) return lastExtension;
  return isObject(cur) ? cur : undefined;
}

function findByPath(root: ElementNode, path: string): ElementNode | undefined {
  if (root.path === path) return root;
  if (!path.startsWith(root.path + '.')) return undefined;
  for (const c of root.children ?? []) {
    const hit = findByPath(c, path);
    if (hit) return hit;
  }
  return undefined;
}

/** Definition path of the element holding an extension at `path` (e.g. `Encounter.status`). */
export function hostPath(run: Run, path: string): { defPath: string; type: string; isResource: boolean } | undefined {
  const frame = run.frames[run.frames.length - 1];
  if (!frame || !path.startsWith(frame.path)) return undefined;
  const rel = path.slice(frame.path.length).replace(/\[\d+\]/g, '');
  const parts = rel.split('.').filter(Boolean);
  parts.pop(); // the extension itself
  // Walk the resource's base definition to find the type of the host element.
  const core = run.profiles.core(String(frame.resource.resourceType));
  let node: ElementNode | undefined = core?.root;
  let type = String(frame.resource.resourceType);
  let defPath = type;
  for (const part of parts) {
    if (!node) return undefined;
    const children = node.childIndex ? node : run.profiles.core(type)?.root;
    const hit = children?.childIndex?.get(part);
    if (!hit) return undefined;
    const t = hit.type ?? hit.node.typeCodes[0] ?? 'BackboneElement';
    if (hit.node.contentReference && !hit.node.children) {
      // `OperationDefinition.parameter.part` is an `OperationDefinition.parameter`.
      const ref = hit.node.contentReference.slice(hit.node.contentReference.indexOf('#') + 1);
      defPath = ref;
      type = 'BackboneElement';
      node = undefined;
      node = core?.root && findByPath(core.root, ref);
    } else if (hit.node.children) {
      node = hit.node;
      defPath = hit.node.path;
      type = t;
    } else {
      type = t;
      node = run.profiles.core(t)?.root;
      defPath = t === 'Extension' ? 'Extension' : hit.node.path;
    }
  }
  return { defPath, type, isResource: parts.length === 0 };
}

/** An extension used as a modifierExtension while its definition is a regular one, or the reverse. */
export function modifierMismatch(run: Run, url: string, asModifier: boolean, path: string): void {
  run.out.push(CODES.EXTENSION_MODIFIER_MISMATCH, path, {
    url,
    detail: asModifier ? 'a modifierExtension (it is a regular extension)' : 'an extension (it is a modifier extension: modifierExtension)',
    detailFr: asModifier ? 'une modifierExtension (c’est une extension ordinaire)' : 'une extension ordinaire (c’est une extension modificatrice : modifierExtension)',
  });
}
