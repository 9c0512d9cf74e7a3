/**
 * Probabilities of a logits row, in float64 so that sums over a 152k vocabulary do not lose the small
 * probabilities. Math.exp in V8 is a software implementation (fdlibm), so results are the same on every
 * platform, which keeps seeded sampling reproducible. -Infinity logits get probability 0; if any logit is
 * +Infinity (an fp16 overflow), those share all the probability.
 */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > max) {
      max = logits[i]!;
    }
  }
  const probabilities = new Float64Array(logits.length);
  if (max === -Infinity) {
    return probabilities;
  }
  if (max === Infinity) {
    let count = 0;
    logits.forEach((value) => (count += value === Infinity ? 1 : 0));
    logits.forEach((value, i) => (probabilities[i] = value === Infinity ? 1 / count : 0));
    return probabilities;
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const value = Math.exp(logits[i] - max);
    probabilities[i] = value;
    sum += value;
  }
  for (let i = 0; i < probabilities.length; i++) {
    probabilities[i] = probabilities[i] / sum;
  }
  return probabilities;
}
