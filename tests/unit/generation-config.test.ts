/** Generation options: defaults, when decoding is greedy, and the errors for malformed options. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EngineError } from "../../models/engine/errors";
import { buildLogitsProcessors } from "../../models/generation/logits-processor";
import { DEFAULT_MAX_NEW_TOKENS, resolveGenerationConfig, type GenerationOptions } from "../../models/generation/config";

void describe("resolveGenerationConfig", () => {
  void test("defaults: greedy, 200 new tokens, no stop tokens, a random 32-bit seed", () => {
    const config = resolveGenerationConfig();
    assert.equal(DEFAULT_MAX_NEW_TOKENS, 200);
    assert.deepEqual({ ...config, seed: 0 }, { maxNewTokens: 200, greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, stopTokenIds: [] });
    assert.ok(Number.isInteger(config.seed) && config.seed >= 0 && config.seed < 2 ** 32);
    const seeds = new Set(Array.from({ length: 8 }, () => resolveGenerationConfig().seed));
    assert.ok(seeds.size > 1, "omitted seeds are drawn at random");
  });

  void test("greedy unless sampling is asked for; temperature 0 or doSample false always mean greedy", () => {
    const cases: [GenerationOptions, boolean][] = [
      [{}, true],
      [{ temperature: 0.7 }, false],
      [{ temperature: 0 }, true],
      [{ doSample: true }, false],
      [{ doSample: true, temperature: 0 }, true],
      [{ doSample: false, temperature: 0.7 }, true],
      [{ topK: 40, topP: 0.9 }, true],
    ];
    for (const [options, greedy] of cases) {
      assert.equal(resolveGenerationConfig(options).greedy, greedy, JSON.stringify(options));
    }
    assert.equal(resolveGenerationConfig({ doSample: true }).temperature, 1);
  });

  void test("processors follow Hugging Face's order and leave out settings that are off", () => {
    const names = (options: GenerationOptions): string[] => buildLogitsProcessors(resolveGenerationConfig(options)).map((p) => p.name);
    assert.deepEqual(names({ temperature: 0.7, topK: 40, topP: 0.9 }), ["temperature 0.7", "top-k 40", "top-p 0.9"]);
    assert.deepEqual(names({ doSample: true }), []);
    assert.deepEqual(names({ temperature: 0.7, topK: 40, doSample: false }), []);
  });

  void test("malformed options are invalid_option errors naming the option", () => {
    const bad: [GenerationOptions, RegExp][] = [
      [{ maxNewTokens: 0 }, /maxNewTokens must be a whole number of at least 1; got 0/],
      [{ maxNewTokens: 2.5 }, /maxNewTokens/],
      [{ temperature: -0.1 }, /temperature must be a finite number of at least 0/],
      [{ temperature: Number.POSITIVE_INFINITY }, /temperature/],
      [{ topK: -1 }, /topK/],
      [{ topP: 0 }, /topP must be a number in \(0, 1\]/],
      [{ topP: 1.5 }, /topP/],
      [{ seed: -3 }, /seed must be a non-negative whole number/],
      [{ seed: 0.5 }, /seed/],
      [{ stopTokenIds: [1, -2] }, /stopTokenIds/],
      [{ doSample: "yes" as unknown as boolean }, /doSample must be true or false/],
    ];
    for (const [options, pattern] of bad) {
      assert.throws(
        () => resolveGenerationConfig(options),
        (error: unknown) => error instanceof EngineError && error.code === "invalid_option" && pattern.test(error.message),
        JSON.stringify(options),
      );
    }
  });
});
