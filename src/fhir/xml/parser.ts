// A small, strict, namespace-aware XML 1.0 parser. Written here rather than taken from a
// library because FHIR needs three things generic parsers make awkward: the exact source span
// of every element (the narrative `div` is kept verbatim), positions for error messages, and
// a hard refusal of DTDs (no entity expansion, no external entities — the usual XXE defence).
import { FhirXmlError, lineColumn } from './errors.js';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttribute {
  qname: string;
  prefix: string;
  local: string;
  /** Namespace URI ('' for unprefixed attributes). */
  ns: string;
  value: string;
  pos: number;
}

export interface XmlElement {
  type: 'element';
  qname: string;
  prefix: string;
  local: string;
  ns: string;
  /** Attributes other than namespace declarations. */
  attributes: XmlAttribute[];
  /** Namespace declarations made on this element (prefix '' = default namespace). */
  nsDecls: Map<string, string>;
  children: XmlNode[];
  /** Offset of `<` of the start tag and offset just after the end of the element. */
  start: number;
  end: number;
}

export interface XmlText {
  type: 'text';
  value: string;
  pos: number;
}

export type XmlNode = XmlElement | XmlText;

export interface XmlDocument {
  root: XmlElement;
  /** The text the offsets refer to (line ends normalised to `\n`, as XML requires). */
  text: string;
}

const MAX_DEPTH = 256;
const NAME_START = /[:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\uD800-\uDBFF]/;
const NAME_CHAR = /[-.0-9:A-Z_a-z\u00B7\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u037D\u037F-\u1FFF\u200C\u200D\u203F\u2040\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\uD800-\uDFFF]/;
// eslint-disable-next-line no-control-regex
const INVALID_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  fail(message: string, fr: string, at: number = this.i): never {
    const { line, column } = lineColumn(this.s, at);
    throw new FhirXmlError(`XML is not well-formed: ${message}`, line, column, undefined, `XML mal formé : ${fr}`);
  }

  document(): XmlElement {
    const s = this.s;
    const bad = INVALID_CHAR.exec(s);
    if (bad) {
      const u = `U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
      this.fail(`character ${u} is not allowed in XML`, `le caractère ${u} est interdit en XML`, bad.index);
    };
    if (s.charCodeAt(0) === 0xfeff) this.i = 1;
    if (s.startsWith('<?xml', this.i) && isSpace(s.charCodeAt(this.i + 5))) {
      const end = s.indexOf('?>', this.i);
      if (end < 0) this.fail('unterminated XML declaration', 'déclaration XML non terminée');
      const decl = s.slice(this.i, end);
      const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(decl);
      if (enc && !/^utf-?8$/i.test(enc[1])) this.fail(`unsupported encoding "${enc[1]}" (only UTF-8)`, `encodage « ${enc[1]} » non pris en charge (UTF-8 seulement)`);
      this.i = end + 2;
    }
    this.misc();
    if (this.i >= s.length) this.fail('no root element', 'aucun élément racine');
    if (s[this.i] !== '<') this.fail('text before the root element', 'du texte avant l’élément racine');
    const root = this.element(new Map([['xml', XML_NS]]), 0);
    this.misc();
    if (this.i < s.length) this.fail('content after the root element', 'du contenu après l’élément racine');
    return root;
  }

  /** Whitespace, comments and processing instructions outside the root element. */
  private misc(): void {
    const s = this.s;
    for (;;) {
      while (this.i < s.length && isSpace(s.charCodeAt(this.i))) this.i++;
      if (s.startsWith('<!--', this.i)) this.comment();
      else if (s.startsWith('<?', this.i)) this.pi();
      else if (s.startsWith('<!DOCTYPE', this.i)) this.fail('DTDs (<!DOCTYPE>) are not allowed in FHIR XML', 'les DTD (<!DOCTYPE>) sont interdites en XML FHIR');
      else return;
    }
  }

  private comment(): void {
    const end = this.s.indexOf('-->', this.i + 4);
    if (end < 0) this.fail('unterminated comment', 'commentaire non terminé');
    this.i = end + 3;
  }

  private pi(): void {
    const end = this.s.indexOf('?>', this.i + 2);
    if (end < 0) this.fail('unterminated processing instruction', 'instruction de traitement non terminée');
    const target = /^<\?([^\s?]+)/.exec(this.s.slice(this.i, end))?.[1] ?? '';
    if (target.toLowerCase() === 'xml') this.fail('XML declaration not at the start of the document', 'déclaration XML ailleurs qu’au début du document');
    this.i = end + 2;
  }

  private name(): string {
    const s = this.s;
    const start = this.i;
    if (this.i >= s.length || !NAME_START.test(s[this.i])) this.fail('a name was expected', 'un nom était attendu');
    this.i++;
    while (this.i < s.length && NAME_CHAR.test(s[this.i])) this.i++;
    return s.slice(start, this.i);
  }

  private skipSpaces(): boolean {
    const from = this.i;
    while (this.i < this.s.length && isSpace(this.s.charCodeAt(this.i))) this.i++;
    return this.i > from;
  }

  private decode(raw: string, at: number, attribute: boolean): string {
    if (!raw.includes('&')) return attribute ? raw.replace(/[\t\n]/g, ' ') : raw;
    let out = '';
    let k = 0;
    while (k < raw.length) {
      const amp = raw.indexOf('&', k);
      const chunk = amp < 0 ? raw.slice(k) : raw.slice(k, amp);
      out += attribute ? chunk.replace(/[\t\n]/g, ' ') : chunk;
      if (amp < 0) break;
      const semi = raw.indexOf(';', amp);
      if (semi < 0) this.fail('"&" must start an entity reference (write &amp;)', '« & » doit commencer une référence d’entité (écrire &amp;)', at + amp);
      const ref = raw.slice(amp + 1, semi);
      if (ref.startsWith('#')) {
        const code = /^#x[0-9a-fA-F]+$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]+$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
        const ok = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
        if (!ok) this.fail(`invalid character reference &${ref};`, `référence de caractère &${ref}; invalide`, at + amp);
        out += String.fromCodePoint(code);
      } else if (Object.hasOwn(PREDEFINED, ref)) {
        out += PREDEFINED[ref];
      } else {
        this.fail(`unknown entity &${ref}; (only &amp; &lt; &gt; &quot; &apos; and character references are allowed)`, `entité &${ref}; inconnue (seules &amp; &lt; &gt; &quot; &apos; et les références de caractère sont permises)`, at + amp);
      }
      k = semi + 1;
    }
    return out;
  }

  private element(scope: Map<string, string>, depth: number): XmlElement {
    const s = this.s;
    const start = this.i;
    if (depth > MAX_DEPTH) this.fail(`elements nested deeper than ${MAX_DEPTH} levels`, `éléments imbriqués sur plus de ${MAX_DEPTH} niveaux`);
    this.i++; // '<'
    const qname = this.name();
    const raw: { qname: string; value: string; pos: number }[] = [];
    for (;;) {
      const spaced = this.skipSpaces();
      if (s.startsWith('/>', this.i) || s[this.i] === '>') break;
      if (this.i >= s.length) this.fail(`unterminated start tag <${qname}>`, `balise ouvrante <${qname}> non terminée`, start);
      if (!spaced) this.fail('whitespace expected between attributes', 'espace attendue entre les attributs');
      const pos = this.i;
      const an = this.name();
      this.skipSpaces();
      if (s[this.i] !== '=') this.fail(`"=" expected after attribute ${an}`, `« = » attendu après l’attribut ${an}`);
      this.i++;
      this.skipSpaces();
      const q = s[this.i];
      if (q !== '"' && q !== "'") this.fail(`quoted value expected for attribute ${an}`, `valeur entre guillemets attendue pour l’attribut ${an}`);
      const end = s.indexOf(q, this.i + 1);
      if (end < 0) this.fail(`unterminated value of attribute ${an}`, `valeur de l’attribut ${an} non terminée`, pos);
      const rawValue = s.slice(this.i + 1, end);
      const lt = rawValue.indexOf('<');
      if (lt >= 0) this.fail('"<" is not allowed in an attribute value', '« < » est interdit dans une valeur d’attribut', this.i + 1 + lt);
      if (raw.some((a) => a.qname === an)) this.fail(`duplicate attribute ${an}`, `attribut ${an} en double`, pos);
      raw.push({ qname: an, value: this.decode(rawValue, this.i + 1, true), pos });
      this.i = end + 1;
    }
    // Namespace declarations first: they apply to the element's own name and attributes.
    const nsDecls = new Map<string, string>();
    for (const a of raw) {
      if (a.qname === 'xmlns') nsDecls.set('', a.value);
      else if (a.qname.startsWith('xmlns:')) {
        const p = a.qname.slice(6);
        if (p === 'xmlns' || (p === 'xml' && a.value !== XML_NS)) this.fail(`the prefix ${p} cannot be redeclared`, `le préfixe ${p} ne peut pas être redéclaré`, a.pos);
        if (a.value === '') this.fail(`the prefix ${p} cannot be undeclared in XML 1.0`, `le préfixe ${p} ne peut pas être annulé en XML 1.0`, a.pos);
        nsDecls.set(p, a.value);
      }
    }
    let inScope = scope;
    if (nsDecls.size) {
      inScope = new Map(scope);
      for (const [p, uri] of nsDecls) inScope.set(p, uri);
    }
    const colon = qname.indexOf(':');
    const prefix = colon < 0 ? '' : qname.slice(0, colon);
    const local = colon < 0 ? qname : qname.slice(colon + 1);
    const ns = inScope.get(prefix) ?? '';
    if (prefix && !inScope.has(prefix)) this.fail(`namespace prefix "${prefix}" is not declared`, `préfixe d’espace de noms « ${prefix} » non déclaré`, start);
    const attributes: XmlAttribute[] = [];
    for (const a of raw) {
      if (a.qname === 'xmlns' || a.qname.startsWith('xmlns:')) continue;
      const c = a.qname.indexOf(':');
      const ap = c < 0 ? '' : a.qname.slice(0, c);
      if (ap && !inScope.has(ap)) this.fail(`namespace prefix "${ap}" is not declared`, `préfixe d’espace de noms « ${ap} » non déclaré`, a.pos);
      const attr: XmlAttribute = { qname: a.qname, prefix: ap, local: c < 0 ? a.qname : a.qname.slice(c + 1), ns: ap ? inScope.get(ap)! : '', value: a.value, pos: a.pos };
      if (attributes.some((b) => b.ns === attr.ns && b.local === attr.local)) this.fail(`duplicate attribute ${attr.local}`, `attribut ${attr.local} en double`, a.pos);
      attributes.push(attr);
    }
    const el: XmlElement = { type: 'element', qname, prefix, local, ns: ns === XMLNS_NS ? '' : ns, attributes, nsDecls, children: [], start, end: 0 };
    if (s.startsWith('/>', this.i)) {
      this.i += 2;
      el.end = this.i;
      return el;
    }
    this.i++; // '>'
    for (;;) {
      const lt = s.indexOf('<', this.i);
      if (lt < 0) this.fail(`element <${qname}> is not closed`, `l’élément <${qname}> n’est pas fermé`, start);
      if (lt > this.i) {
        const rawText = s.slice(this.i, lt);
        if (rawText.includes(']]>')) this.fail('"]]>" is not allowed in text', '« ]]> » est interdit dans le texte', this.i + rawText.indexOf(']]>'));
        el.children.push({ type: 'text', value: this.decode(rawText, this.i, false), pos: this.i });
      }
      this.i = lt;
      if (s.startsWith('</', lt)) {
        this.i += 2;
        const closing = this.name();
        if (closing !== qname) this.fail(`end tag </${closing}> does not match <${qname}>`, `la balise fermante </${closing}> ne correspond pas à <${qname}>`, lt);
        this.skipSpaces();
        if (s[this.i] !== '>') this.fail(`">" expected to close </${closing}>`, `« > » attendu pour fermer </${closing}>`);
        this.i++;
        el.end = this.i;
        return el;
      }
      if (s.startsWith('<!--', lt)) this.comment();
      else if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9);
        if (end < 0) this.fail('unterminated CDATA section', 'section CDATA non terminée');
        el.children.push({ type: 'text', value: s.slice(lt + 9, end), pos: lt });
        this.i = end + 3;
      } else if (s.startsWith('<?', lt)) this.pi();
      else if (s.startsWith('<!', lt)) this.fail('unexpected markup declaration', 'déclaration de balisage inattendue');
      else el.children.push(this.element(inScope, depth + 1));
    }
  }
}

/** Parses a whole XML document; throws FhirXmlError with line and column. */
export function parseXml(xml: string): XmlDocument {
  const text = xml.includes('\r') ? xml.replace(/\r\n?/g, '\n') : xml;
  return { root: new Parser(text).document(), text };
}
