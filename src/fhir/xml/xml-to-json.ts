// FHIR R4 XML → JSON: restores arrays (max ≠ 1), JSON numbers and booleans, the `_x` form of
// primitive ids/extensions, and the narrative div as an XHTML string.
import type { FhirResource } from '../json.js';
import { FhirXmlError, lineColumn } from './errors.js';
import { FHIR_NS, XHTML_NS } from './json-to-xml.js';
import { type ElementDef, type FhirModel, type TypeContext, fhirModel, jsonKindOfPrimitive } from './model.js';
import { type XmlElement, type XmlNode, XML_NS, parseXml } from './parser.js';

const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const INTEGER = /^[-+]?[0-9]+$/;
const DECIMAL = /^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

type Json = Record<string, unknown>;

interface Collected {
  def: ElementDef;
  name: string;
  primitive: boolean;
  values: unknown[];
  extras: (Json | null)[];
}

class Reader {
  constructor(
    private readonly model: FhirModel,
    private readonly text: string,
  ) {}

  private fail(message: string, fr: string, at: number, path: string): never {
    const { line, column } = lineColumn(this.text, at);
    throw new FhirXmlError(message, line, column, path, fr);
  }

  private checkFhir(el: XmlElement, path: string): void {
    if (el.ns !== FHIR_NS) {
      this.fail(`element <${el.qname}> is in the namespace "${el.ns}", expected "${FHIR_NS}"`, `l’élément <${el.qname}> est dans l’espace de noms « ${el.ns} », « ${FHIR_NS} » attendu`, el.start, path);
    }
  }

  /** Attributes of a FHIR element: returns the ones that carry data, rejects unknown ones. */
  private attributes(el: XmlElement, allowed: readonly string[], path: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const a of el.attributes) {
      if (a.ns === XSI_NS || a.ns === XML_NS) continue; // schemaLocation and the like carry no FHIR data
      if (a.ns || !allowed.includes(a.local)) this.fail(`unknown attribute "${a.qname}" on <${el.qname}>`, `attribut « ${a.qname} » inconnu sur <${el.qname}>`, a.pos, path);
      out.set(a.local, a.value);
    }
    return out;
  }

  resource(el: XmlElement, path: string): FhirResource {
    this.checkFhir(el, path);
    if (!this.model.isResourceType(el.local)) this.fail(`unknown resource type <${el.local}>`, `type de ressource <${el.local}> inconnu`, el.start, path);
    this.attributes(el, [], path);
    const out: Json = { resourceType: el.local };
    this.children(el, this.model.context(el.local)!, out, path === '' ? el.local : path);
    return out as FhirResource;
  }

  private children(el: XmlElement, ctx: TypeContext, out: Json, path: string): void {
    const collected = new Map<string, Collected>();
    for (const child of el.children) {
      if (child.type === 'text') {
        if (child.value.trim()) this.fail(`text is not allowed inside <${el.qname}> (FHIR values go in "value" attributes)`, `texte interdit dans <${el.qname}> (les valeurs FHIR vont dans des attributs « value »)`, child.pos, path);
        continue;
      }
      const hit = ctx.byName.get(child.local);
      // The narrative div is XHTML, checked by div(); everything else is in the FHIR namespace.
      if (hit?.type !== 'xhtml') this.checkFhir(child, path);
      if (!hit || hit.def.xmlAttr) this.fail(`unknown element <${child.local}> in ${ctx.key}`, `élément <${child.local}> inconnu dans ${ctx.key}`, child.start, `${path}.${child.local}`);
      const { def, type } = hit;
      let c = collected.get(child.local);
      if (!c) {
        if (def.choice) {
          for (const other of collected.values()) {
            if (other.def === def) this.fail(`only one of ${def.name}[x] may be present (${other.name}, ${child.local})`, `un seul ${def.name}[x] peut être présent (${other.name}, ${child.local})`, child.start, `${path}.${child.local}`);
          }
        }
        const primitive = this.model.kind(type) === 'primitive' && type !== 'xhtml' && !def.children;
        c = { def, name: child.local, primitive, values: [], extras: [] };
        collected.set(child.local, c);
      } else if (def.single) {
        this.fail(`<${child.local}> cannot repeat`, `<${child.local}> ne peut pas se répéter`, child.start, `${path}.${child.local}`);
      }
      const p = def.single ? `${path}.${child.local}` : `${path}.${child.local}[${c.values.length}]`;
      if (c.primitive) {
        const [v, x] = this.primitive(child, type, p);
        c.values.push(v);
        c.extras.push(x);
      } else {
        c.values.push(this.value(child, def, type, p));
      }
    }
    // Emit in definition order, whatever the order in the document.
    for (const def of ctx.elements) {
      if (def.xmlAttr) continue;
      for (const c of collected.values()) {
        if (c.def !== def) continue;
        if (c.primitive) {
          const hasValue = c.values.some((v) => v !== null);
          const hasExtra = c.extras.some((x) => x !== null);
          if (hasValue) out[c.name] = def.single ? c.values[0] : c.values;
          if (hasExtra) out['_' + c.name] = def.single ? c.extras[0] : c.extras;
        } else {
          out[c.name] = def.single ? c.values[0] : c.values;
        }
      }
    }
  }

  private primitive(el: XmlElement, type: string, path: string): [unknown, Json | null] {
    const attrs = this.attributes(el, ['value', 'id'], path);
    const extension: unknown[] = [];
    const extDef = this.model.context('Element')!.byName.get('extension')!.def;
    for (const child of el.children) {
      if (child.type === 'text') {
        if (child.value.trim()) this.fail(`text is not allowed inside <${el.qname}> (the value goes in the "value" attribute)`, `texte interdit dans <${el.qname}> (la valeur va dans l’attribut « value »)`, child.pos, path);
        continue;
      }
      this.checkFhir(child, path);
      if (child.local !== 'extension') this.fail(`unknown element <${child.local}> in the primitive ${type}`, `élément <${child.local}> inconnu dans le type primitif ${type}`, child.start, `${path}.${child.local}`);
      extension.push(this.value(child, extDef, 'Extension', `${path}.extension[${extension.length}]`));
    }
    const raw = attrs.get('value');
    if (raw === undefined && !attrs.has('id') && !extension.length) {
      this.fail(`<${el.qname}> has neither a value attribute nor extensions`, `<${el.qname}> n’a ni attribut value ni extensions`, el.start, path);
    }
    let value: unknown = null;
    if (raw !== undefined) value = this.convert(raw, type, el, path);
    let extra: Json | null = null;
    if (attrs.has('id') || extension.length) {
      extra = {};
      if (attrs.has('id')) extra.id = attrs.get('id');
      if (extension.length) extra.extension = extension;
    }
    return [value, extra];
  }

  private convert(raw: string, type: string, el: XmlElement, path: string): unknown {
    switch (jsonKindOfPrimitive(type)) {
      case 'boolean':
        if (raw === 'true') return true;
        if (raw === 'false') return false;
        return this.fail(`invalid boolean "${raw}" (expected true or false)`, `booléen « ${raw} » invalide (true ou false attendu)`, el.start, path);
      case 'number': {
        const ok = type === 'decimal' ? DECIMAL.test(raw) : INTEGER.test(raw);
        const n = Number(raw);
        if (!ok || !Number.isFinite(n) || (type !== 'decimal' && !Number.isSafeInteger(n))) {
          this.fail(`invalid ${type} "${raw}"`, `valeur ${type} « ${raw} » invalide`, el.start, path);
        }
        return n;
      }
      default:
        return raw;
    }
  }

  private value(el: XmlElement, def: ElementDef, type: string, path: string): unknown {
    if (type === 'xhtml') return this.div(el, path);
    if (this.model.kind(type) === 'resource' && !def.children) {
      this.attributes(el, [], path);
      const inner = el.children.filter((c): c is XmlElement => c.type === 'element');
      for (const c of el.children) {
        if (c.type === 'text' && c.value.trim()) this.fail(`text is not allowed inside <${el.qname}>`, `texte interdit dans <${el.qname}>`, c.pos, path);
      }
      if (inner.length !== 1) this.fail(`<${el.qname}> must contain exactly one resource, found ${inner.length}`, `<${el.qname}> doit contenir exactement une ressource, trouvé ${inner.length}`, el.start, path);
      return this.resource(inner[0], path);
    }
    const ctx = this.model.childContext(def, type);
    if (!ctx) this.fail(`no definition for the type ${type}`, `aucune définition pour le type ${type}`, el.start, path);
    const attrNames = ctx.elements.filter((d) => d.xmlAttr).map((d) => d.name);
    const attrs = this.attributes(el, attrNames, path);
    const out: Json = {};
    for (const d of ctx.elements) if (d.xmlAttr && attrs.has(d.name)) out[d.name] = attrs.get(d.name);
    this.children(el, ctx, out, path);
    return out;
  }

  private div(el: XmlElement, path: string): string {
    if (el.ns !== XHTML_NS || el.local !== 'div') {
      this.fail(`the narrative must be an XHTML <div> (namespace "${XHTML_NS}"), found <${el.qname}> in "${el.ns}"`, `le texte narratif doit être un <div> XHTML (espace de noms « ${XHTML_NS} »), trouvé <${el.qname}> dans « ${el.ns} »`, el.start, path);
    }
    if (!el.prefix && el.nsDecls.get('') === XHTML_NS && selfContained(el, new Set())) {
      return this.text.slice(el.start, el.end);
    }
    // Prefixed or namespace inherited from outside: re-serialise so the string stands alone.
    return serialiseXhtml(el, true);
  }
}

/** True when every prefix used inside the subtree is declared inside it (so a verbatim copy is valid XML). */
function selfContained(el: XmlElement, declared: Set<string>): boolean {
  const here = el.nsDecls.size ? new Set([...declared, ...el.nsDecls.keys()]) : declared;
  if (el.prefix && !here.has(el.prefix)) return false;
  for (const a of el.attributes) if (a.prefix && a.prefix !== 'xml' && !here.has(a.prefix)) return false;
  for (const c of el.children) if (c.type === 'element' && !selfContained(c, here)) return false;
  return true;
}

function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>"\t\n]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;' })[c]!);
}

function serialiseXhtml(el: XmlElement, root: boolean, parentNs = XHTML_NS): string {
  let tag: string;
  let decls = '';
  if (el.ns === XHTML_NS) {
    tag = el.local;
    if (root || parentNs !== XHTML_NS) decls = ` xmlns="${XHTML_NS}"`;
  } else {
    tag = el.local;
    decls = ` xmlns="${escapeAttr(el.ns)}"`;
  }
  let attrs = '';
  const prefixes = new Map<string, string>();
  for (const a of el.attributes) {
    if (a.ns && a.ns !== XML_NS) prefixes.set(a.prefix, a.ns);
    attrs += ` ${a.qname}="${escapeAttr(a.value)}"`;
  }
  for (const [p, uri] of prefixes) decls += ` xmlns:${p}="${escapeAttr(uri)}"`;
  const body = el.children.map((c: XmlNode) => (c.type === 'text' ? escapeText(c.value) : serialiseXhtml(c, false, el.ns))).join('');
  return body ? `<${tag}${decls}${attrs}>${body}</${tag}>` : `<${tag}${decls}${attrs}/>`;
}

/** Parses FHIR R4 XML into FHIR JSON. Throws FhirXmlError with line, column and element path. */
export function xmlToJson(xml: string): FhirResource {
  if (typeof xml !== 'string') throw new FhirXmlError('XML input must be a string', undefined, undefined, undefined, 'l’entrée XML doit être une chaîne');
  const doc = parseXml(xml);
  return new Reader(fhirModel(), doc.text).resource(doc.root, '');
}
