// FHIR R4 JSON → XML (http://hl7.org/fhir/R4/xml.html): elements in StructureDefinition order,
// primitives as `value` attributes with their `_x` id/extensions merged in, `id`/`url` as
// attributes, choice names kept (`valueString`), resources wrapped by their container element,
// and the narrative `div` copied verbatim (after checking it is one well-formed XHTML element).
import { FhirXmlError } from './errors.js';
import { type ElementDef, type FhirModel, type TypeContext, fhirModel, jsonKindOfPrimitive } from './model.js';
import { parseXml } from './parser.js';
import { isObject } from '../json.js';

export const FHIR_NS = 'http://hl7.org/fhir';
export const XHTML_NS = 'http://www.w3.org/1999/xhtml';

export interface JsonToXmlOptions {
  /** Indent with two spaces, one element per line (default false: compact). */
  pretty?: boolean;
  /** Start with `<?xml version="1.0" encoding="UTF-8"?>` (default true). */
  declaration?: boolean;
}

// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Json = Record<string, unknown>;


class Writer {
  private readonly out: string[] = [];
  constructor(
    private readonly model: FhirModel,
    private readonly pretty: boolean,
  ) {}

  result(): string {
    return this.out.join('');
  }

  private fail(message: string, fr: string, path: string): never {
    throw new FhirXmlError(message, undefined, undefined, path, fr);
  }

  private attr(value: string, path: string): string {
    if (NOT_XML.test(value)) this.fail('the value contains a character that XML cannot carry', 'la valeur contient un caractère que XML ne peut pas porter', path);
    return value.replace(/[&<>"\t\n\r]/g, (c) => ATTR_ESCAPES[c]);
  }

  private line(depth: number): void {
    if (this.pretty && this.out.length) this.out.push('\n' + '  '.repeat(depth));
  }

  resource(res: unknown, path: string, depth: number, root: boolean): void {
    if (!isObject(res)) this.fail('a resource must be a JSON object', 'une ressource doit être un objet JSON', path);
    const type = res.resourceType;
    if (typeof type !== 'string' || !this.model.isResourceType(type)) this.fail(`unknown resourceType ${JSON.stringify(type)}`, `resourceType ${JSON.stringify(type)} inconnu`, path);
    const ctx = this.model.context(type)!;
    this.line(depth);
    this.out.push(`<${type}${root ? ` xmlns="${FHIR_NS}"` : ''}`);
    this.content(res, ctx, type, path, depth, true);
    this.out.push(`</${type}>`);
  }

  /**
   * Writes the attributes (already inside the open start tag), closes the start tag, writes the
   * children. Returns false (and closes with `/>`) when there are no children.
   */
  private content(obj: Json, ctx: TypeContext, tag: string, path: string, depth: number, isResource: boolean): boolean {
    for (const key of Object.keys(obj)) {
      if (isResource && key === 'resourceType') continue;
      const name = key.startsWith('_') ? key.slice(1) : key;
      const hit = ctx.byName.get(name);
      if (!hit) this.fail(`unknown element "${key}" in ${ctx.key}`, `élément « ${key} » inconnu dans ${ctx.key}`, `${path}.${key}`);
      if (key.startsWith('_') && (hit.def.xmlAttr || this.model.kind(hit.type) !== 'primitive')) {
        this.fail(`"${key}" is only allowed for primitive elements`, `« ${key} » n’est permis que pour les éléments primitifs`, `${path}.${key}`);
      }
    }
    // Attributes: Element.id and Extension.url.
    for (const def of ctx.elements) {
      if (!def.xmlAttr) continue;
      const v = obj[def.name];
      if (v === undefined) continue;
      if (typeof v !== 'string') this.fail(`${def.name} must be a string`, `${def.name} doit être une chaîne`, `${path}.${def.name}`);
      this.out.push(` ${def.name}="${this.attr(v, `${path}.${def.name}`)}"`);
    }
    const mark = this.out.length;
    this.out.push('>');
    let any = false;
    for (const def of ctx.elements) {
      if (def.xmlAttr) continue;
      let present: { name: string; type: string } | undefined;
      if (def.choice) {
        for (const t of def.types) {
          const n = def.name + t.charAt(0).toUpperCase() + t.slice(1);
          if (obj[n] === undefined && obj['_' + n] === undefined) continue;
          if (present) this.fail(`only one of ${def.name}[x] may be present (${present.name}, ${n})`, `un seul ${def.name}[x] peut être présent (${present.name}, ${n})`, `${path}.${n}`);
          present = { name: n, type: t };
        }
      } else if (obj[def.name] !== undefined || obj['_' + def.name] !== undefined) {
        present = { name: def.name, type: def.types[0] ?? 'BackboneElement' };
      }
      if (!present) continue;
      any = true;
      this.element(def, present.name, present.type, obj[present.name], obj['_' + present.name], `${path}.${present.name}`, depth + 1);
    }
    if (!any) {
      this.out[mark] = '/>';
      // A resource element always gets its closing tag written by the caller: undo that case.
      if (isResource) this.out[mark] = '>';
      return false;
    }
    this.line(depth);
    if (!isResource) this.out.push(`</${tag}>`);
    return true;
  }

  private element(def: ElementDef, name: string, type: string, value: unknown, extra: unknown, path: string, depth: number): void {
    const kind = this.model.kind(type);
    if (type === 'xhtml') {
      if (typeof value !== 'string') this.fail('the narrative div must be a string of XHTML', 'le div narratif doit être une chaîne XHTML', path);
      if (extra !== undefined) this.fail(`"_${name}" is not allowed on the narrative div`, `« _${name} » est interdit sur le div narratif`, path);
      this.line(depth);
      this.out.push(checkedDiv(value, path));
      return;
    }
    if (kind === 'primitive' && !def.children) {
      const values = def.single ? [value] : toArray(value, path);
      const extras = def.single ? [extra] : extra === undefined ? [] : toArray(extra, '_' + path);
      if (def.single && (Array.isArray(value) || Array.isArray(extra))) this.fail(`${name} cannot repeat`, `${name} ne peut pas se répéter`, path);
      const n = Math.max(values.length, extras.length);
      for (let i = 0; i < n; i++) {
        const p = def.single ? path : `${path}[${i}]`;
        this.primitive(name, type, values[i] ?? null, extras[i] ?? null, p, depth);
      }
      return;
    }
    if (extra !== undefined) this.fail(`"_${name}" is only allowed for primitive elements`, `« _${name} » n’est permis que pour les éléments primitifs`, path);
    if (def.single && Array.isArray(value)) this.fail(`${name} cannot repeat`, `${name} ne peut pas se répéter`, path);
    const items = def.single ? [value] : toArray(value, path);
    items.forEach((item, i) => {
      const p = def.single ? path : `${path}[${i}]`;
      if (kind === 'resource') {
        this.line(depth);
        this.out.push(`<${name}>`);
        this.resource(item, p, depth + 1, false);
        this.line(depth);
        this.out.push(`</${name}>`);
        return;
      }
      const ctx = this.model.childContext(def, type);
      if (!ctx) this.fail(`no definition for the type ${type}`, `aucune définition pour le type ${type}`, p);
      if (!isObject(item)) this.fail(`${name} must be a JSON object`, `${name} doit être un objet JSON`, p);
      this.line(depth);
      this.out.push(`<${name}`);
      this.content(item, ctx, name, p, depth, false);
    });
  }

  private primitive(name: string, type: string, value: unknown, extra: unknown, path: string, depth: number): void {
    if (value === null && extra === null) this.fail(`${name} has neither a value nor extensions`, `${name} n’a ni valeur ni extensions`, path);
    this.line(depth);
    this.out.push(`<${name}`);
    let ext: unknown[] = [];
    if (extra !== null) {
      if (!isObject(extra)) this.fail(`_${name} must be an object with id and/or extension`, `_${name} doit être un objet avec id et/ou extension`, path);
      for (const k of Object.keys(extra)) if (k !== 'id' && k !== 'extension') this.fail(`unknown element "${k}" in _${name}`, `élément « ${k} » inconnu dans _${name}`, `${path}.${k}`);
      if (extra.id !== undefined) {
        if (typeof extra.id !== 'string') this.fail('id must be a string', 'id doit être une chaîne', `${path}.id`);
        this.out.push(` id="${this.attr(extra.id, path)}"`);
      }
      if (extra.extension !== undefined) ext = toArray(extra.extension, `${path}.extension`);
    }
    if (value !== null) this.out.push(` value="${this.attr(primitiveText(value, type, path), path)}"`);
    if (!ext.length) {
      this.out.push('/>');
      return;
    }
    this.out.push('>');
    const extDef = this.model.context('Element')!.byName.get('extension')!;
    this.element(extDef.def, 'extension', 'Extension', ext, undefined, `${path}.extension`, depth + 1);
    this.line(depth);
    this.out.push(`</${name}>`);
  }
}

const ATTR_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };

function toArray(v: unknown, path: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v === null) throw new FhirXmlError('null is not a value', undefined, undefined, path, 'null n’est pas une valeur');
  // A lone value where FHIR JSON expects an array still has one unambiguous XML form.
  return [v];
}

function primitiveText(value: unknown, type: string, path: string): string {
  const expected = jsonKindOfPrimitive(type);
  if (typeof value !== expected) {
    throw new FhirXmlError(`a ${type} must be a JSON ${expected}, not ${JSON.stringify(value)}`, undefined, undefined, path, `un ${type} doit être de type JSON ${expected}, pas ${JSON.stringify(value)}`);
  }
  if (expected === 'number' && !Number.isFinite(value)) throw new FhirXmlError(`invalid ${type}`, undefined, undefined, path, `valeur ${type} invalide`);
  return String(value);
}

function checkedDiv(div: string, path: string): string {
  // The div is copied verbatim, so it must be exactly one well-formed XHTML element —
  // otherwise a string could inject markup into the FHIR document.
  const trimmed = div.trim();
  if (!/^<([A-Za-z_][\w.-]*:)?div[\s/>]/.test(trimmed)) {
    throw new FhirXmlError('the narrative must be a single XHTML <div> element', undefined, undefined, path, 'le texte narratif doit être un seul élément XHTML <div>');
  }
  let root;
  try {
    root = parseXml(trimmed).root;
  } catch (e) {
    throw new FhirXmlError(`the narrative div is not well-formed XHTML: ${(e as Error).message}`, undefined, undefined, path, `le div narratif n’est pas du XHTML bien formé : ${e instanceof FhirXmlError ? e.messageFr : (e as Error).message}`);
  }
  if (root.local !== 'div') throw new FhirXmlError('the narrative must be a single XHTML <div> element', undefined, undefined, path, 'le texte narratif doit être un seul élément XHTML <div>');
  if (root.ns === XHTML_NS) return trimmed;
  if (root.ns === '' && !root.prefix) {
    // FHIR JSON requires the namespace on the div; add it rather than emit the div in the FHIR namespace.
    return trimmed.replace(/^<div/, `<div xmlns="${XHTML_NS}"`);
  }
  throw new FhirXmlError(`the narrative div must be in the XHTML namespace, not "${root.ns}"`, undefined, undefined, path, `le div narratif doit être dans l’espace de noms XHTML, pas « ${root.ns} »`);
}

/** Serialises a FHIR R4 resource (JSON) to FHIR XML. Throws FhirXmlError for content XML cannot express. */
export function jsonToXml(resource: object, options: JsonToXmlOptions = {}): string {
  const w = new Writer(fhirModel(), options.pretty === true);
  const type = (resource as Json)?.resourceType;
  w.resource(resource, typeof type === 'string' ? type : 'Resource', 0, true);
  const body = w.result();
  return (options.declaration === false ? '' : '<?xml version="1.0" encoding="UTF-8"?>' + (options.pretty ? '\n' : '')) + body + (options.pretty ? '\n' : '');
}
