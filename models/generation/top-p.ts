import type { LogitsProcessor } from "./logits-processor";
import { softmax } from "./softmax";

/**
 * Nucleus sampling: keeps the smallest set of highest-probability tokens whose probabilities add up to at
 * least p, and removes the rest; the most likely token always stays. A token is kept exactly when the
 * probability of the tokens ranked above it is below p, which is Hugging Face's TopPLogitsWarper rule
 * (it removes tokens whose ascending cumulative probability is at most 1 - p). Ties are ranked by token
 * id, lowest first, so the result does not depend on a sort's stability.
 */
export class TopPProcessor implements LogitsProcessor {
  readonly name: string;

  constructor(private readonly p: number) {
    if (!(p > 0 && p <= 1)) {
      throw new RangeError(`TopPProcessor: p must be in (0, 1], got ${p}.`);
    }
    this.name = `top-p ${p}`;
  }

  process(logits: Float32Array): void {
    if (this.p >= 1) {
      return;
    }
    const keep = nucleus(logits, softmax(logits), this.p);
    for (let i = 0; i < logits.length; i++) {
      if (keep[i] === 0) {
        logits[i] = -Infinity;
      }
    }
  }
}

/** Buckets over the logit range: enough that the bucket the nucleus ends in holds few tokens. */
const BUCKETS = 4096;

/**
 * Marks the nucleus (1 = kept). Sorting a whole 152k vocabulary every step would cost ~15 ms, so tokens
 * are first spread over buckets of equal logit width, best first (one pass), and the buckets' masses are
 * added from the top until they reach p. Buckets above that one are wholly kept, buckets below wholly
 * removed, and only the tokens of the bucket where p is crossed are ranked exactly. Since probability
 * grows with the logit, this is the same set as ranking every token.
 */
function nucleus(logits: Float32Array, probabilities: Float64Array, p: number): Uint8Array {
  let highest = -Infinity;
  let lowest = Infinity;
  for (let i = 0; i < logits.length; i++) {
    const value = logits[i];
    if (probabilities[i] > 0) {
      highest = Math.max(highest, value);
      lowest = Math.min(lowest, value);
    }
  }
  const keep = new Uint8Array(logits.length);
  if (highest === -Infinity) {
    return keep;
  }
  const scale = highest > lowest ? (BUCKETS - 1) / (highest - lowest) : 0;
  const bucketOf = new Uint16Array(logits.length);
  const bucketMass = new Float64Array(BUCKETS);
  for (let i = 0; i < logits.length; i++) {
    if (probabilities[i] > 0) {
      // +Infinity logits (fp16 overflow) hold all the probability; they go in the best bucket.
      const bucket = logits[i] === Infinity ? 0 : Math.min(BUCKETS - 1, Math.floor((highest - logits[i]) * scale));
      bucketOf[i] = bucket;
      bucketMass[bucket] += probabilities[i];
    }
  }
  let massAbove = 0;
  let crossing = 0;
  while (crossing < BUCKETS - 1 && massAbove + bucketMass[crossing] < p) {
    massAbove += bucketMass[crossing];
    crossing++;
  }
  const inCrossing: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (probabilities[i] > 0) {
      if (bucketOf[i] < crossing) {
        keep[i] = 1;
      } else if (bucketOf[i] === crossing) {
        inCrossing.push(i);
      }
    }
  }
  inCrossing.sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  for (const id of inCrossing) {
    if (massAbove >= p) {
      break;
    }
    keep[id] = 1;
    massAbove += probabilities[id];
  }
  return keep;
}
