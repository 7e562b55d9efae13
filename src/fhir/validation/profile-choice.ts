// An element whose one type names several profiles (Patient.address typed Address with
// profile A or profile B): the profiles are alternatives, and the value must conform to one
// of them. Each is tried in a collector of its own. The findings of the first that fits are
// kept (its warnings); when none fits, one error says so, followed by the findings against
// each alternative, each naming the profile it was checked against — what the HL7 validator
// reports (InstanceValidator.checkChildByDefinition, VALIDATION_VAL_PROFILE_NOMATCH), so that
// the reader sees why every alternative failed. D-240.
import { CODES } from '../outcome/codes.js';
import type { ValidationIssue } from '../outcome/issue.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { walkChildren } from './elements.js';
import { checkInvariants } from './invariants.js';
import type { Json } from './paths.js';
import { noteResolution, noteUnknownProfile, type ProfileChoice } from './resolution.js';
import { FailFast, IssueCollector, isBlocking, type Run } from './run.js';

interface Tried {
  url: string;
  out: IssueCollector;
  ok: boolean;
}

export function validateProfileChoice(run: Run, obj: Json, node: ElementNode, typeCode: string, path: string, profile: CompiledProfile, choices: readonly ProfileChoice[]): void {
  const outer = run.out;
  const depth = run.depth;
  // The element's own constraints (its definition in `profile`) hold whichever profile fits.
  checkInvariants(run, obj, node, path, profile, node, -1, false);
  const tried: Tried[] = [];
  let unknown = false;
  for (const c of choices) {
    const r = c.resolved;
    if (!r) {
      noteUnknownProfile(run, c.url, path);
      unknown = true;
      continue;
    }
    // Inside a "does it conform?" check, the first error of an alternative is enough to rule it out.
    const out = (run.out = new IssueCollector(outer.failFast));
    let ok = true;
    try {
      noteResolution(run, r, path);
      // The alternative's root is walked as the element: its own constraints are the profile's root ones.
      walkChildren(run, obj, r.node, typeCode, path, r.profile!, r);
    } catch (e) {
      if (!(e instanceof FailFast)) throw e;
      ok = false;
      run.depth = depth;
    } finally {
      run.out = outer;
    }
    ok &&= !out.issues.some(isBlocking);
    tried.push({ url: c.url, out, ok });
    if (ok) break;
  }
  const fit = tried.find((t) => t.ok);
  if (fit) {
    outer.absorb(fit.out.issues, fit.out.pending);
    return;
  }
  // A profile that is not loaded might be the one that fits: nothing can be said (its note says why).
  if (unknown) return;
  outer.push(CODES.PROFILE_CHOICE_UNMATCHED, path, { profiles: tried.map((t) => t.url).join(', ') });
  // A constraint (same key, same text) failing at the same place against several alternatives
  // (one inherits it from the other) is one finding naming them all; other findings come from
  // each alternative's own definitions (its cardinalities, its slices) and stay apart, as the
  // HL7 validator reports them.
  const merged = new Map<string, { issue: ValidationIssue; urls: string[] }>();
  let n = 0;
  for (const t of tried) {
    for (const i of t.out.issues) {
      const key = i.rule === CODES.INVARIANT.id ? `${i.expression}\u0000${i.message}` : String(n++);
      const m = merged.get(key);
      if (m) m.urls.push(t.url);
      else merged.set(key, { issue: i, urls: [t.url] });
    }
  }
  const issues: ValidationIssue[] = [];
  for (const { issue, urls } of merged.values()) {
    const against = urls.join(', ');
    const out: ValidationIssue = { ...issue, message: `${issue.message} (validating against ${against})` };
    if (issue.messageFr !== undefined) out.messageFr = `${issue.messageFr} (en validant contre ${against})`;
    issues.push(out);
  }
  outer.absorb(issues, undefined);
  for (const t of tried) outer.absorb([], t.out.pending);
}
