/**
 * A seeded pseudo-random generator whose sequence is the same on every platform and Node version: pure
 * 32-bit integer arithmetic (xoshiro128**, seeded through splitmix32), no Math.random. Sampling with the
 * same seed, model and prompt therefore picks the same tokens everywhere.
 */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** @param seed a non-negative safe integer; both its low and high 32 bits take part. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`SeededRandom: seed must be a non-negative safe integer, got ${seed}.`);
    }
    // splitmix32 spreads the seed over the 128-bit state, so that nearby seeds give unrelated streams. Its
    // output function is a bijection, so the low 32 bits alone fix s0 and s2 (never both zero, so never the
    // all-zero state xoshiro cannot leave) and, for equal low bits, the high bits change s1 (which the very
    // first output depends on) and s3: distinct seeds, distinct states.
    const low = splitmix32(seed >>> 0);
    const high = splitmix32(Math.floor(seed / 2 ** 32) >>> 0);
    this.s0 = low();
    this.s1 = (low() ^ high()) >>> 0;
    this.s2 = low();
    this.s3 = (low() ^ high()) >>> 0;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits, as Math.random gives. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 2 ** 26 + low) / 2 ** 53;
  }
}

/** A splitmix32 stream starting from `seed`. */
function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
