// Which rule an extension-context violation is reported with (decisions.md D-15).
//
// An extension's `context` says where it may be used. When the profile that applies at the
// element declares that very extension there (an extension slice of the element whose type
// profile is the extension's url), the profile and the extension contradict each other: the
// instance does what the profile asks, so the contradiction is a defect of the IG, reported
// as a warning. TDDUI's `tddui-related-person-contact` declares `tddui-comment` on
// RelatedPerson, whose context lists only Encounter and QuestionnaireResponse. An extension
// that no profile declares at that place keeps the error.
import { CODES } from '../outcome/codes.js';
import type { Rule } from '../outcome/rule.js';
import type { ElementNode } from '../profiles/compile.js';

/** The part of an element definition this decision reads. */
export type ExtensionHost = Pick<ElementNode, 'types'>;

/** Canonical without its `|version`. */
function unversioned(canonical: string): string {
  const bar = canonical.indexOf('|');
  return bar === -1 ? canonical : canonical.slice(0, bar);
}

/**
 * Does `node` — the element definition an extension was matched to — declare the extension
 * `url` itself, i.e. is it an Extension-typed element (slice) whose type profile is `url`?
 */
export function declaresExtension(node: ExtensionHost, url: string): boolean {
  const target = unversioned(url);
  for (const t of node.types) {
    if (t.code !== 'Extension' || !t.profile) continue;
    for (const p of t.profile) if (unversioned(p) === target) return true;
  }
  return false;
}

/**
 * The rule for an extension `url` used at `node` outside its context: the IG-defect warning
 * when the applying profile declares it at that place, else the `fhir-extension-context` error.
 */
export function extensionContextRule(node: ExtensionHost, url: string): Rule {
  return declaresExtension(node, url) ? CODES.EXTENSION_CONTEXT_IG_DEFECT : CODES.EXTENSION_CONTEXT;
}
