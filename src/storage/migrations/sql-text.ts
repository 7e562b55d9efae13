// Text edits for migrations that restate an earlier migration's function with a change: the
// new body is the old one with exact replacements, checked when the module loads, so that the
// rest of the function cannot drift from what it restates.

/** `text` with `from` replaced by `to`, exactly once (a migration must not silently change nothing). */
export function replaceOnce(text: string, from: string, to: string, migration: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`migration ${migration}: expected exactly one ${JSON.stringify(from.slice(0, 60))}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}
