/**
 * The pieces that choose a token: fp16 conversion, the seeded generator, argmax ties, temperature, top-k,
 * top-p (against an independent formulation of Hugging Face's rule) and sampling frequencies.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EngineError } from "../../models/engine/errors";
import { resolveGenerationConfig } from "../../models/generation/config";
import { decodeHalf, float32ToHalfBits, float32ToHalfBitsArray, halfBitsToFloat32 } from "../../models/generation/fp16";
import { SeededRandom } from "../../models/generation/prng";
import { argmaxFirst, sampleFromLogits, TokenSelector } from "../../models/generation/sampler";
import { softmax } from "../../models/generation/softmax";
import { TemperatureProcessor } from "../../models/generation/temperature";
import { TopKProcessor } from "../../models/generation/top-k";
import { TopPProcessor } from "../../models/generation/top-p";

const kept = (logits: Float32Array): number[] => Array.from(logits.keys()).filter((i) => logits[i] !== -Infinity);

void describe("fp16", () => {
  void test("decodes the landmark bit patterns", () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) {
      assert.equal(decodeHalf(bits), value, `0x${bits.toString(16)}`);
    }
    assert.ok(Object.is(decodeHalf(0x8000), -0));
    assert.ok(Number.isNaN(decodeHalf(0x7e00)));
  });

  void test("every fp16 value survives the trip to float32 and back; rounding is to nearest, ties to even", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, bits) => bits);
    const asFloat = halfBitsToFloat32(all);
    const back = float32ToHalfBitsArray(asFloat);
    for (let bits = 0; bits < 65536; bits++) {
      if (!Number.isNaN(asFloat[bits])) {
        assert.equal(back[bits], bits, `0x${bits.toString(16)}`);
      }
    }
    assert.equal(float32ToHalfBits(1 + 2 ** -11), 0x3c00); // halfway, even stays
    assert.equal(float32ToHalfBits(1 + 3 * 2 ** -11), 0x3c02); // halfway, odd rounds up
    assert.equal(float32ToHalfBits(65519), 0x7bff);
    assert.equal(float32ToHalfBits(65520), 0x7c00); // rounds past the largest finite value
    assert.equal(float32ToHalfBits(2 ** -25), 0x0000);
    assert.equal(float32ToHalfBits(2 ** -25 * 1.5), 0x0001);
  });
});

void describe("SeededRandom", () => {
  void test("matches a C build of the published xoshiro128** step with the same splitmix32 seeding", () => {
    // Computed by a C program with the published xoshiro128** 1.1 step and the same splitmix32 seeding:
    // s0 = splitmix(low)[0]; s1 = splitmix(low)[1] ^ splitmix(high)[0]; s2 = splitmix(low)[2];
    // s3 = splitmix(low)[3] ^ splitmix(high)[1].
    const expected: [number, number[]][] = [
      [0, [2281979467, 2598931707, 3897380420, 995814277, 2725329669]],
      [42, [3299549863, 3792213822, 2716229575, 3097117119, 3603089228]],
      [0x123456789abcd, [195606430, 1669456275, 1214150339, 2751180881, 515245063]],
    ];
    for (const [seed, values] of expected) {
      const random = new SeededRandom(seed);
      assert.deepEqual(values.map(() => random.nextUint32()), values, `seed ${seed}`);
    }
  });

  void test("floats are uniform in [0, 1); seeds differing only in their high bits give different streams", () => {
    const random = new SeededRandom(7);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const u = random.nextFloat();
      assert.ok(u >= 0 && u < 1);
      sum += u;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    assert.notEqual(new SeededRandom(5).nextUint32(), new SeededRandom(5 + 2 ** 32).nextUint32());
    assert.throws(() => new SeededRandom(-1), RangeError);
    assert.throws(() => new SeededRandom(1.5), RangeError);
  });
});

void describe("greedy", () => {
  void test("argmax picks the FIRST of tied maxima, as torch.argmax", () => {
    assert.equal(argmaxFirst(Float32Array.from([1, 5, 5, 2])), 1);
    assert.equal(argmaxFirst(Float32Array.from([7, 7])), 0);
    assert.equal(argmaxFirst(Float32Array.from([-Infinity, -3, -3])), 1);
    assert.equal(argmaxFirst(Float32Array.from([0, 0, Infinity, Infinity])), 2);
  });

  void test("the selector takes fp16 bits and float32 alike, and refuses NaN, empty and all -Infinity rows", () => {
    const selector = new TokenSelector(resolveGenerationConfig({}));
    const logits = Float32Array.from([0.5, -1, 3.25, 3.25, 2]);
    assert.equal(selector.select(logits, 0), 2);
    assert.equal(selector.select(float32ToHalfBitsArray(logits), 0), 2);
    assert.deepEqual(Array.from(logits), [0.5, -1, 3.25, 3.25, 2], "the model's row is not modified");
    const refuse = (row: Float32Array | Uint16Array, pattern: RegExp): void =>
      assert.throws(() => selector.select(row, 4), (error: unknown) => error instanceof EngineError && error.code === "invalid_logits" && pattern.test(error.message));
    refuse(Float32Array.from([0, Number.NaN, 1]), /NaN logits at step 4 \(first at token id 1\)/);
    refuse(Uint16Array.from([0x3c00, 0x7e00]), /NaN logits at step 4/);
    refuse(new Float32Array(0), /empty logits row/);
    refuse(Float32Array.from([-Infinity, -Infinity]), /no token to choose/);
  });
});

void describe("logits processors", () => {
  void test("temperature divides every logit", () => {
    const logits = Float32Array.from([1, -2, 3]);
    new TemperatureProcessor(2).process(logits);
    assert.deepEqual(Array.from(logits), [0.5, -1, 1.5]);
  });

  void test("top-k keeps the k best and every token tied with the k-th", () => {
    const run = (k: number): number[] => {
      const logits = Float32Array.from([1, 4, 3, 4, 2]);
      new TopKProcessor(k).process(logits);
      return kept(logits);
    };
    assert.deepEqual(run(1), [1, 3]); // the two 4s tie for first
    assert.deepEqual(run(2), [1, 3]);
    assert.deepEqual(run(3), [1, 2, 3]);
    assert.deepEqual(run(9), [0, 1, 2, 3, 4]);
  });

  void test("top-p keeps the smallest top set reaching p on a crafted distribution", () => {
    const run = (p: number, probabilities: number[]): number[] => {
      const logits = Float32Array.from(probabilities, Math.log);
      new TopPProcessor(p).process(logits);
      return kept(logits);
    };
    const distribution = [0.05, 0.5, 0.15, 0.3]; // ranked: 1 (0.5), 3 (0.3), 2 (0.15), 0 (0.05)
    assert.deepEqual(run(0.4, distribution), [1]);
    assert.deepEqual(run(0.75, distribution), [1, 3]);
    assert.deepEqual(run(0.85, distribution), [1, 2, 3]);
    assert.deepEqual(run(0.99, distribution), [0, 1, 2, 3]);
    assert.deepEqual(run(0.5, [0.25, 0.25, 0.25, 0.25]), [0, 1], "ties are ranked by token id");
    assert.deepEqual(run(0.01, distribution), [1], "the best token always stays");
  });

  void test("top-p agrees with Hugging Face's formulation (ascending cumulative sum <= 1 - p is removed), vocab 152k included", () => {
    const random = new SeededRandom(123);
    const huggingFaceKept = (logits: Float32Array, p: number): number[] => {
      const probabilities = softmax(logits);
      const ascending = Array.from(probabilities.keys()).sort((a, b) => probabilities[a] - probabilities[b] || b - a);
      const removed = new Set<number>();
      let cumulative = 0;
      for (const [rank, id] of ascending.entries()) {
        cumulative += probabilities[id];
        if (cumulative <= 1 - p && rank < ascending.length - 1) {
          removed.add(id);
        }
      }
      return Array.from(logits.keys()).filter((i) => !removed.has(i));
    };
    const cases: [number, number, number][] = [
      [50, 0.3, 3],
      [50, 0.9, 1],
      [1000, 0.7, 8],
      [152064, 0.9, 10], // Qwen2's vocabulary; peaked so that the 1e-5 threshold shortcut is taken
      [152064, 0.5, 0.5], // flat: the shortcut must fall through to a full sort
    ];
    for (const [size, p, spread] of cases) {
      const logits = Float32Array.from({ length: size }, () => (random.nextFloat() * 2 - 1) * spread);
      const ours = logits.slice();
      new TopPProcessor(p).process(ours);
      assert.deepEqual(kept(ours), huggingFaceKept(logits, p), `vocab ${size}, p ${p}`);
    }
  });
});

void describe("sampling", () => {
  void test("draws follow the softmax probabilities", () => {
    const probabilities = [0.1, 0.2, 0.3, 0.4];
    const logits = Float32Array.from(probabilities, Math.log);
    const random = new SeededRandom(2024);
    const counts = [0, 0, 0, 0];
    const draws = 40000;
    for (let i = 0; i < draws; i++) {
      counts[sampleFromLogits(logits, random)]++;
    }
    counts.forEach((count, id) => assert.ok(Math.abs(count / draws - probabilities[id]) < 0.01, `token ${id}: ${count / draws}`));
  });

  void test("removed tokens are never drawn, and the same seed draws the same tokens", () => {
    const config = resolveGenerationConfig({ doSample: true, topK: 2, seed: 99 });
    const row = Float32Array.from([0, 1, 3, 2.9, -1]);
    const drawsOf = (selector: TokenSelector): number[] => Array.from({ length: 200 }, (_, step) => selector.select(row, step));
    const first = drawsOf(new TokenSelector(config));
    assert.deepEqual(new Set(first), new Set([2, 3]));
    assert.deepEqual(drawsOf(new TokenSelector(config)), first);
    assert.notDeepEqual(drawsOf(new TokenSelector({ ...config, seed: 100 })), first);
  });

  void test("softmax handles -Infinity and +Infinity logits", () => {
    assert.deepEqual(Array.from(softmax(Float32Array.from([0, -Infinity, 0]))), [0.5, 0, 0.5]);
    assert.deepEqual(Array.from(softmax(Float32Array.from([1, Infinity, 3, Infinity]))), [0, 0.5, 0, 0.5]);
    assert.deepEqual(Array.from(softmax(Float32Array.from([-Infinity]))), [0]);
  });
});
