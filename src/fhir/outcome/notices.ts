// "Could not check" notices folded for people: one line per missing package (or per rule when
// the notice names no package), with a count, so that a report shows what was not checked in a
// few lines; each line keeps its notices (nothing is dropped).
import type { ValidationIssue } from './issue.js';

/** The package a notice names (`… (package ans.fr.terminologies#1.7.0) …`), or undefined. */
export function noticePackage(i: Pick<ValidationIssue, 'message'>): string | undefined {
  return /\(package ([^\s)]+)/.exec(i.message)?.[1] ?? /\b([a-z][\w-]*(?:\.[\w-]+)+#[\w.-]+)/.exec(i.message)?.[1];
}

/** Notices folded: one entry per missing package (or per rule when none is named), with a count. */
export function foldNotices(notices: readonly ValidationIssue[]): { key: string; count: number; rules: string[]; first: ValidationIssue }[] {
  const groups = new Map<string, { key: string; count: number; rules: string[]; first: ValidationIssue }>();
  for (const n of notices) {
    const key = noticePackage(n) ?? n.rule;
    const g = groups.get(key);
    if (g) {
      g.count++;
      if (!g.rules.includes(n.rule)) g.rules.push(n.rule);
    } else groups.set(key, { key, count: 1, rules: [n.rule], first: n });
  }
  return [...groups.values()];
}
