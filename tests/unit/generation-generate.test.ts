/**
 * The decode loop against deterministic fake models (tests/helpers/fake-model.ts): greedy decoding, the
 * token budget, stop tokens, seeded sampling, streaming through the tokenizer's TextStreamer, cancellation
 * mid-stream, fp16 logits, and the release of every model state whatever happens.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { EngineError } from "../../models/engine/errors";
import { float32ToHalfBitsArray } from "../../models/generation/fp16";
import { generate } from "../../models/generation/generate";
import type { StreamEvent } from "../../models/generation/streamer";
import type { MolmoTokenizer } from "../../models/tokenizer/molmo-tokenizer";
import { fakeModel, hashedLogits, scriptedLogits, type FakeModelLog } from "../helpers/fake-model";
import { loadMolmoFixtureTokenizer } from "../helpers/molmo-tokenizer-fixture";

const VOCAB = 16;
const SCRIPT = [3, 9, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];

/** Every state the model created was released exactly once. */
function assertAllReleased(log: FakeModelLog): void {
  assert.deepEqual([...log.released].sort((a, b) => a - b), log.created);
}

function isCancelled(error: unknown): boolean {
  return error instanceof EngineError && error.code === "cancelled" && error.name === "AbortError";
}

void describe("greedy decoding", () => {
  void test("follows the model's best token and stops at the token budget without a wasted step", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    const result = await generate({ model, inputs: [1, 2], config: { maxNewTokens: 5 } });
    assert.deepEqual(result.tokenIds, SCRIPT.slice(0, 5));
    assert.equal(result.stopReason, "max_new_tokens");
    assert.equal(log.prefills, 1);
    assert.deepEqual(log.steppedWith, SCRIPT.slice(0, 4), "4 steps make tokens 2..5; no step after the last");
    assertAllReleased(log);
    assert.ok(result.timings.prefillMs >= 0 && result.timings.timeToFirstTokenMs >= result.timings.prefillMs);
  });

  void test("ties go to the lowest token id", async () => {
    const tied = (): Float32Array => Float32Array.from({ length: VOCAB }, (_, i) => (i === 6 || i === 11 || i === 14 ? 2 : 0));
    const { model } = fakeModel(() => tied());
    const result = await generate({ model, inputs: [0], config: { maxNewTokens: 3 } });
    assert.deepEqual(result.tokenIds, [6, 6, 6]);
  });

  void test("a stop token ends generation and stays in the output; it wins over the budget at the same token", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    const events: StreamEvent[] = [];
    const result = await generate({ model, inputs: [0], config: { maxNewTokens: 50, stopTokenIds: [1, 15] }, onStream: (event) => events.push(event) });
    assert.deepEqual(result.tokenIds, [3, 9, 4, 1]);
    assert.equal(result.stopReason, "stop_token");
    assert.deepEqual(events.map((event) => (event.type === "token" ? event.tokenId : event.stopReason)), [3, 9, 4, 1, "stop_token"]);
    assertAllReleased(log);

    const same = await generate({ model: fakeModel(scriptedLogits(SCRIPT, VOCAB)).model, inputs: [0], config: { maxNewTokens: 4, stopTokenIds: [1] } });
    assert.equal(same.stopReason, "stop_token");
  });

  void test("fp16 logits (Uint16Array bits) decode to the same tokens as float32", async () => {
    const float = hashedLogits(VOCAB);
    const half = fakeModel((position, last) => float32ToHalfBitsArray(float(position, last) as Float32Array)).model;
    const fromHalf = await generate({ model: half, inputs: [0], config: { maxNewTokens: 12 } });
    const fromFloat = await generate({ model: fakeModel(float).model, inputs: [0], config: { maxNewTokens: 12 } });
    assert.deepEqual(fromHalf.tokenIds, fromFloat.tokenIds);
  });
});

void describe("sampling", () => {
  const sample = (seed: number): Promise<number[]> =>
    generate({ model: fakeModel(hashedLogits(64)).model, inputs: [0], config: { temperature: 1.3, topK: 20, topP: 0.95, seed, maxNewTokens: 24 } }).then(
      (result) => result.tokenIds,
    );

  void test("the same seed gives the same tokens, another seed other tokens", async () => {
    const first = await sample(1234);
    assert.deepEqual(await sample(1234), first);
    assert.notDeepEqual(await sample(1235), first);
    assert.notDeepEqual(first, (await generate({ model: fakeModel(hashedLogits(64)).model, inputs: [0], config: { maxNewTokens: 24 } })).tokenIds);
  });

  void test("the result reports the seed drawn when none was given, and reusing it reproduces the run", async () => {
    const options = { temperature: 1, maxNewTokens: 16 };
    const first = await generate({ model: fakeModel(hashedLogits(64)).model, inputs: [0], config: options });
    const again = await generate({ model: fakeModel(hashedLogits(64)).model, inputs: [0], config: { ...options, seed: first.config.seed } });
    assert.deepEqual(again.tokenIds, first.tokenIds);
  });
});

void describe("streaming through the tokenizer's TextStreamer", () => {
  let tokenizer: MolmoTokenizer;
  before(async () => {
    tokenizer = await loadMolmoFixtureTokenizer();
  });

  void test("text deltas arrive per token, never split a character, and add up to the decoded answer", async () => {
    const answer = tokenizer.encode("Hi 👋 there, 点 here");
    const script = [...answer, tokenizer.eosId];
    const { model } = fakeModel(scriptedLogits(script, tokenizer.vocabularySize));
    const deltas: string[] = [];
    const result = await generate({
      model,
      inputs: [0],
      config: { stopTokenIds: [tokenizer.eosId], maxNewTokens: 40 },
      streamer: tokenizer.createTextStreamer(),
      onStream: (event) => deltas.push(event.text),
    });
    assert.deepEqual(result.tokenIds, script);
    assert.equal(deltas.length, script.length + 1, "one event per token plus the end");
    assert.equal(deltas.join(""), "Hi 👋 there, 点 here");
    assert.equal(result.text, "Hi 👋 there, 点 here");
    assert.ok(deltas.every((delta) => !delta.includes("\uFFFD")));
    assert.ok(deltas.includes(""), "a token ending inside the emoji yields no text until the emoji is complete");
  });
});

void describe("cancellation", () => {
  void test("aborting after the 3rd token rejects at once as cancelled; the stream saw exactly 3 tokens", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      generate({
        model,
        inputs: [0],
        config: { maxNewTokens: 50 },
        signal: controller.signal,
        onStream: (event) => {
          if (event.type === "token") {
            seen.push(event.tokenId);
            if (seen.length === 3) {
              controller.abort();
            }
          }
        },
      }),
      isCancelled,
    );
    assert.deepEqual(seen, SCRIPT.slice(0, 3));
    assert.equal(log.steppedWith.length, 2, "no step is started after the abort");
    assertAllReleased(log);
  });

  void test("an abort during a slow step lets that step finish, emits nothing more, and rejects within that step", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB), { stepDelayMs: 40 });
    const controller = new AbortController();
    const seen: number[] = [];
    let abortedAt = 0;
    setTimeout(() => {
      abortedAt = performance.now();
      controller.abort(new Error("client sent $/cancelRequest"));
    }, 100);
    await assert.rejects(
      generate({ model, inputs: [0], config: { maxNewTokens: 1000 }, signal: controller.signal, onStream: (e) => e.type === "token" && seen.push(e.tokenId) }),
      (error: unknown) => isCancelled(error) && ((error as Error).cause as Error).message === "client sent $/cancelRequest",
    );
    const latency = performance.now() - abortedAt;
    // The step in flight when the abort came ends at most 40 ms later; the rest is slack for a busy machine.
    assert.ok(latency < 40 + 50, `rejected ${latency.toFixed(1)} ms after the abort; one step takes 40 ms`);
    assert.ok(seen.length >= 1 && seen.length <= 5, `saw ${seen.length} tokens in ~100 ms of 40 ms steps`);
    assert.equal(log.steppedWith.length, seen.length, "the step in flight finished; its token was not emitted");
    assertAllReleased(log);
  });

  void test("an abort from a timer is seen between steps even when the model never waits on I/O", async () => {
    // Without a yield to the event loop between steps, a model whose promises resolve at once would run
    // all 100000 tokens in microtasks before the timer could fire.
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 5);
    await assert.rejects(generate({ model, inputs: [0], config: { maxNewTokens: 100_000 }, signal: controller.signal }), isCancelled);
    assert.ok(log.steppedWith.length < 100_000 - 1, `stopped after ${log.steppedWith.length} steps`);
    assertAllReleased(log);
  });

  void test("an already aborted signal rejects before the prefill", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    await assert.rejects(generate({ model, inputs: [0], signal: AbortSignal.abort() }), isCancelled);
    assert.equal(log.prefills, 0);
  });
});

void describe("failures release the model state", () => {
  void test("a throwing stream listener stops generation with its own error", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    await assert.rejects(
      generate({
        model,
        inputs: [0],
        onStream: (event) => {
          if (event.type === "token" && event.index === 2) {
            throw new Error("listener broke");
          }
        },
      }),
      /listener broke/,
    );
    assertAllReleased(log);
  });

  void test("a failing model step passes its error through", async () => {
    const { model, log } = fakeModel(scriptedLogits(SCRIPT, VOCAB), { failAtPosition: 3 });
    await assert.rejects(generate({ model, inputs: [0], config: { maxNewTokens: 10 } }), /fake model failure at position 3/);
    assertAllReleased(log);
  });

  void test("NaN logits are invalid_logits naming the step; bad options fail before the prefill", async () => {
    const { model, log } = fakeModel((position) => Float32Array.from({ length: VOCAB }, (_, i) => (position === 2 && i === 5 ? Number.NaN : i === position ? 1 : 0)));
    await assert.rejects(
      generate({ model, inputs: [0], config: { maxNewTokens: 10 } }),
      (error: unknown) => error instanceof EngineError && error.code === "invalid_logits" && /step 2 \(first at token id 5\)/.test(error.message),
    );
    assertAllReleased(log);
    const second = fakeModel(scriptedLogits(SCRIPT, VOCAB));
    await assert.rejects(generate({ model: second.model, inputs: [0], config: { topP: 2 } }), (error: unknown) => error instanceof EngineError && error.code === "invalid_option");
    assert.equal(second.log.prefills, 0);
  });
});
