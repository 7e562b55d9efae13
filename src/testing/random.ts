// Seeded random numbers for tests: a failure is reproducible from its seed.

/** mulberry32: uniform 32-bit draws from a 32-bit state, in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An integer in [0, n) per call. (An LCG computed in JavaScript doubles, `seed * 1103515245`,
 * loses precision past 2^53 and its `% n` draws are correlated: three tests used one.)
 */
export function seededInt(seed: number): (n: number) => number {
  const next = prng(seed);
  return (n: number) => Math.floor(next() * n);
}
