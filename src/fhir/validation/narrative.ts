// The narrative (`Narrative.div`, type xhtml): well-formed XHTML, one `<div>` in the XHTML
// namespace, and the R4 rules txt-1 (only the basic HTML formatting elements and attributes)
// and txt-2 (some non-whitespace content). The base definitions state txt-1 and txt-2 as
// `htmlChecks()`; they are checked here, natively, with a finding that names the offending
// element or attribute. The lists are the R4 txt-1 XPath's, plus what its human text admits
// besides (`address`, `bdo`, `kbd` of HTML 4.0 chapters 7-9; `xml:lang`, `xml:space` as the HL7 validator allows).
import { FhirXmlError } from '../xml/errors.js';
import { parseXml, XML_NS, type XmlElement } from '../xml/parser.js';

export const XHTML_NS = 'http://www.w3.org/1999/xhtml';

const ELEMENTS = new Set([
  'a', 'abbr', 'acronym', 'address', 'b', 'bdo', 'big', 'blockquote', 'br', 'caption', 'cite', 'code', 'col', 'colgroup', 'dd', 'dfn', 'div', 'dl', 'dt', 'em',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'kbd', 'li', 'ol', 'p', 'pre', 'q', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody',
  'td', 'tfoot', 'th', 'thead', 'tr', 'tt', 'ul', 'var',
]);

const ATTRIBUTES = new Set([
  'abbr', 'accesskey', 'align', 'alt', 'axis', 'bgcolor', 'border', 'cellhalign', 'cellpadding', 'cellspacing', 'cellvalign', 'char', 'charoff', 'charset',
  'cite', 'class', 'colspan', 'compact', 'coords', 'dir', 'frame', 'headers', 'height', 'href', 'hreflang', 'hspace', 'id', 'lang', 'longdesc', 'name',
  'nowrap', 'rel', 'rev', 'rowspan', 'rules', 'scope', 'shape', 'span', 'src', 'start', 'style', 'summary', 'tabindex', 'title', 'type', 'valign', 'value',
  'vspace', 'width',
]);

/** Attributes whose value is a URL a browser would follow or load. */
const URL_ATTRIBUTES = new Set(['href', 'src', 'cite', 'longdesc']);
/** Schemes that run code in a reader's browser (after removing the whitespace and controls browsers ignore). */
const UNSAFE_URL = /^(?:javascript|vbscript|data:text\/html|data:image\/svg)/i;

export type NarrativeProblem =
  /** Not well-formed XML (the detail has line and column within the div). */
  | 'syntax'
  /** The root is not one `<div>` in the XHTML namespace. */
  | 'root'
  /** txt-1: an element, attribute, namespace or link that narrative does not allow. */
  | 'content'
  /** txt-2: no non-whitespace text and no image. */
  | 'empty';

export interface NarrativeFinding {
  problem: NarrativeProblem;
  /** English detail, e.g. `element <script> is not allowed`. */
  detail: string;
  /** The same in French. */
  detailFr: string;
}

/** At most this many content findings per narrative: one bad template repeats the same fault. */
const MAX_FINDINGS = 10;

/** The findings of one narrative div, in document order (empty when it is valid). */
export function checkNarrative(div: string): NarrativeFinding[] {
  if (!/^\s*<div[\s>/]/.test(div)) {
    const start = div.trimStart().slice(0, 20);
    const shown = `${start}${div.trimStart().length > 20 ? '…' : ''}`;
    return [{ problem: 'root', detail: `the narrative must be one XHTML <div> element; it starts with "${shown}"`, detailFr: `le texte narratif doit être un seul élément XHTML <div> ; il commence par « ${shown} »` }];
  }
  let root: XmlElement;
  try {
    root = parseXml(div).root;
  } catch (e) {
    if (!(e instanceof FhirXmlError)) throw e;
    const message = e.detail.replace(/^XML is not well-formed: /, '');
    const messageFr = e.detailFr.replace(/^XML mal formé : /, '');
    const entity = /unknown entity/.test(message);
    const text = entity ? `${message.replace(/ \(only .*allowed\)$/, '')}: FHIR narrative has no HTML entities such as &nbsp;, write the character or a character reference such as &#160;` : message;
    const textFr = entity ? `${messageFr.replace(/ \(seules .*permises\)$/, '')} : le texte narratif FHIR n’a pas d’entités HTML comme &nbsp; ; écrire le caractère ou une référence de caractère comme &#160;` : messageFr;
    return [
      {
        problem: 'syntax',
        detail: `the narrative is not well-formed XHTML: ${text} (line ${e.line ?? 1}, column ${e.column ?? 1} of the div)`,
        detailFr: `le texte narratif n’est pas du XHTML bien formé : ${textFr} (ligne ${e.line ?? 1}, colonne ${e.column ?? 1} du div)`,
      },
    ];
  }
  if (root.ns !== XHTML_NS) {
    return [
      {
        problem: 'root',
        detail: `the narrative <div> must be in the XHTML namespace (xmlns="${XHTML_NS}"); it is in ${root.ns ? `"${root.ns}"` : 'no namespace'}`,
        detailFr: `le <div> narratif doit être dans l’espace de noms XHTML (xmlns="${XHTML_NS}") ; il est ${root.ns ? `dans « ${root.ns} »` : 'sans espace de noms'}`,
      },
    ];
  }
  const out: NarrativeFinding[] = [];
  const state = { text: false, image: false };
  walk(root, out, state);
  if (!state.text && !state.image) out.push({ problem: 'empty', detail: 'the narrative has no text (only whitespace) and no image', detailFr: 'le texte narratif n’a ni texte (seulement des espaces) ni image' });
  return out;
}

function walk(el: XmlElement, out: NarrativeFinding[], state: { text: boolean; image: boolean }): void {
  if (out.length >= MAX_FINDINGS) return;
  if (el.ns !== XHTML_NS) {
    out.push({
      problem: 'content',
      detail: `element <${el.qname}> is in the namespace ${el.ns ? `"${el.ns}"` : '(none)'}, not XHTML`,
      detailFr: `l’élément <${el.qname}> est ${el.ns ? `dans l’espace de noms « ${el.ns} »` : 'sans espace de noms'}, pas en XHTML`,
    });
    return;
  }
  if (!ELEMENTS.has(el.local)) {
    out.push({
      problem: 'content',
      detail: `element <${el.qname}> is not allowed in a narrative (txt-1: basic HTML formatting only; no script, form, object, iframe, style or link element)`,
      detailFr: `l’élément <${el.qname}> est interdit dans un texte narratif (txt-1 : mise en forme HTML de base seulement ; ni script, form, object, iframe, style ni link)`,
    });
    return;
  }
  for (const [prefix, uri] of el.nsDecls) {
    if (prefix !== '' && out.length < MAX_FINDINGS) {
      out.push({
        problem: 'content',
        detail: `namespace declaration xmlns:${prefix}="${uri}" on <${el.qname}> is not allowed in a narrative`,
        detailFr: `la déclaration d’espace de noms xmlns:${prefix}="${uri}" sur <${el.qname}> est interdite dans un texte narratif`,
      });
    }
  }
  for (const a of el.attributes) {
    if (out.length >= MAX_FINDINGS) return;
    const allowed = a.ns === '' ? ATTRIBUTES.has(a.local) : a.ns === XML_NS && (a.local === 'lang' || a.local === 'space');
    if (!allowed) {
      const handler = /^on/i.test(a.local) && a.ns === '';
      out.push({
        problem: 'content',
        detail: `attribute ${a.qname} on <${el.qname}> is not allowed in a narrative${handler ? ' (event handlers run scripts)' : ''}`,
        detailFr: `l’attribut ${a.qname} sur <${el.qname}> est interdit dans un texte narratif${handler ? ' (les gestionnaires d’évènements exécutent des scripts)' : ''}`,
      });
      continue;
    }
    if (a.ns === '' && URL_ATTRIBUTES.has(a.local)) {
      // eslint-disable-next-line no-control-regex
      const url = a.value.replace(/[\u0000-\u0020]/g, '');
      if (UNSAFE_URL.test(url)) {
        const shown = `${a.local}="${a.value.slice(0, 40)}${a.value.length > 40 ? '…' : ''}"`;
        out.push({
          problem: 'content',
          detail: `${shown} on <${el.qname}> would run code in the reader's browser`,
          detailFr: `${shown} sur <${el.qname}> exécuterait du code dans le navigateur du lecteur`,
        });
      }
    }
    if (el.local === 'img' && a.local === 'src' && a.value.trim() !== '') state.image = true;
  }
  for (const c of el.children) {
    if (c.type === 'text') {
      if (!state.text && /\S/.test(c.value)) state.text = true;
    } else {
      walk(c, out, state);
    }
  }
}
