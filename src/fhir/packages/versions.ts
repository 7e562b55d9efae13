// Package and canonical versions: ordering (semver-like, a release after its pre-releases),
// FHIR's partial-version rule (`|2.1` matches 2.1.x) and the "nearest version" used when the
// exact version asked for is not loaded.

/** Negative when a < b, 0 when equal, positive when a > b ("2.2.0" > "2.2.0-ballot" > "2.1.9"). */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  const pa = (a ?? '').split(/[.-]/);
  const pb = (b ?? '').split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const nx = Number(x);
    const ny = Number(y);
    if (x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    // A release sorts after its pre-releases ("2.2.0" > "2.2.0-ballot").
    if (x === '') return 1;
    if (y === '') return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** True when `version` satisfies `wanted` exactly or as a FHIR partial version (`2.1`, `2.1.x`). */
export function versionMatches(version: string | undefined, wanted: string): boolean {
  if (version === undefined) return false;
  if (version === wanted) return true;
  const prefix = wanted.replace(/\.x$/, '');
  if (prefix !== wanted || prefix.split('.').length < 3) {
    return version.startsWith(prefix + '.') || version.startsWith(prefix + '-');
  }
  return false;
}

function numericParts(v: string): number[] {
  return v
    .split('-')[0]
    .split('.')
    .map((p) => Number(p))
    .map((n) => (Number.isNaN(n) ? 0 : n));
}

/**
 * The version to use for `wanted` among `available`:
 * - `latest` / `current` / `dev` / empty: the newest;
 * - an exact or partial match (`2.1`, `2.1.x`): the newest matching;
 * - otherwise the nearest one, `exact: false`: the same major.minor first, then the smallest
 *   distance in (major, minor, patch), a newer one winning a tie (it usually keeps what the
 *   older had).
 */
export function pickVersion(wanted: string, available: readonly string[]): { version: string; exact: boolean } | undefined {
  if (available.length === 0) return undefined;
  const sorted = [...available].sort((a, b) => compareVersions(b, a));
  if (!wanted || ['latest', 'current', 'dev'].includes(wanted)) return { version: sorted[0], exact: true };
  const match = sorted.find((v) => versionMatches(v, wanted));
  if (match) return { version: match, exact: true };
  const w = numericParts(wanted);
  let best: { version: string; score: number[] } | undefined;
  for (const v of sorted) {
    const p = numericParts(v);
    const score = [0, 1, 2].map((i) => Math.abs((p[i] ?? 0) - (w[i] ?? 0)));
    const key = [score[0], score[1], score[2]];
    if (!best || lexLess(key, best.score)) best = { version: v, score: key };
  }
  return best && { version: best.version, exact: false };
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}
