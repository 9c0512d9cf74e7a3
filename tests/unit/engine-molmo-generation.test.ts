/**
 * Generation features of the Molmo engine on the real tiny bundle (not a fake model): stop tokens, the
 * token budget, seeded sampling, streaming of text, tokens and points, cancellation mid-stream, the image
 * feature cache, multi-turn input, and the errors of bad requests. One engine serves the whole file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MolmoEngine } from "../../models/engine/molmo-engine";
import { EngineError } from "../../models/engine/errors";
import { loadImage } from "../../models/image/load";
import { preprocessImage } from "../../models/preprocess";
import { buildInputIds, PromptError } from "../../models/prompt";
import type { ParsedPoint } from "../../models/points/types";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const imagePath = join(tinyMolmoDir(), "image.png");
const referenceTokens = (JSON.parse(readFileSync(join(tinyMolmoDir(), "reference.json"), "utf8")) as { greedy: { tokens: number[] } }).greedy.tokens;
const pointTask = { kind: "point", label: "red circle" } as const;

let engine: MolmoEngine;
let bundleDir: string;

before(async () => {
  bundleDir = makeTinyBundle();
  engine = await MolmoEngine.load(bundleDir, { ep: "cpu" });
});

after(async () => {
  await engine.dispose();
});

void test("max new tokens and a stop token end the answer", async () => {
  const limited = await engine.ask({ image: imagePath, task: pointTask, maxNewTokens: 6, stopTokenIds: [] });
  assert.deepEqual(limited.tokenIds, referenceTokens.slice(0, 6));
  assert.equal(limited.stopReason, "max_new_tokens");

  // Stopping at the fourth greedy token: it ends the answer and is its last token.
  const stop = referenceTokens[3];
  assert.equal(referenceTokens.indexOf(stop), 3);
  const stopped = await engine.ask({ image: imagePath, task: pointTask, maxNewTokens: 20, stopTokenIds: [stop] });
  assert.deepEqual(stopped.tokenIds, referenceTokens.slice(0, 4));
  assert.equal(stopped.stopReason, "stop_token");
  assert.deepEqual(limited.generation.stopTokenIds, [], "an explicit empty list turns the EOS stop off");
});

void test("sampling with a seed is reproducible and differs between seeds", async () => {
  const ask = (seed: number) => engine.ask({ image: imagePath, prompt: "What is in the image?", maxNewTokens: 8, temperature: 1.5, seed, stopTokenIds: [] });
  const first = await ask(7);
  const again = await ask(7);
  const other = await ask(8);
  assert.equal(first.generation.greedy, false);
  assert.equal(first.generation.seed, 7);
  assert.deepEqual(again.tokenIds, first.tokenIds);
  assert.equal(again.text, first.text);
  assert.notDeepEqual(other.tokenIds, first.tokenIds);
});

void test("text, tokens and points stream as they are generated; points are in pixels of the image", async () => {
  const deltas: string[] = [];
  const streamedIds: number[] = [];
  const streamedPoints: ParsedPoint[] = [];
  const result = await engine.ask({
    image: imagePath,
    task: pointTask,
    // The random model does not point by itself: the answer is made to begin with a point.
    answerPrefix: '<point x="20.0" y="50.0" alt="red circle">red circle</point>',
    maxNewTokens: 5,
    stopTokenIds: [],
    onText: (delta) => deltas.push(delta),
    onToken: (id, index) => {
      assert.equal(index, streamedIds.length);
      streamedIds.push(id);
    },
    onPoints: (points) => streamedPoints.push(...points),
  });
  assert.equal(deltas.join(""), result.text);
  assert.ok(result.text.startsWith(' <point x="20.0" y="50.0" alt="red circle">red circle</point>'), result.text);
  assert.deepEqual(streamedIds, result.tokenIds);
  assert.equal(result.tokenIds.length, 5);
  assert.deepEqual(result.imageSize, { width: 500, height: 300 });
  assert.equal(result.points.length, 1);
  assert.deepEqual({ x: result.points[0].x, y: result.points[0].y, label: result.points[0].label }, { x: 100, y: 150, label: "red circle" });
  assert.deepEqual(streamedPoints, result.points);
});

void test("cancellation mid-stream rejects promptly with 'cancelled' and emits nothing more", async () => {
  const controller = new AbortController();
  const seen: number[] = [];
  let abortedAt = 0;
  const answer = engine.ask({
    image: imagePath,
    prompt: "Describe the image.",
    maxNewTokens: 200,
    stopTokenIds: [],
    signal: controller.signal,
    onToken: (id) => {
      seen.push(id);
      if (seen.length === 3) {
        abortedAt = performance.now();
        controller.abort();
      }
    },
  });
  await assert.rejects(answer, (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, "cancelled");
    assert.equal(error.name, "AbortError");
    return true;
  });
  const latencyMs = performance.now() - abortedAt;
  assert.equal(seen.length, 3, "no token after the abort");
  assert.ok(latencyMs < 1000, `rejected ${latencyMs.toFixed(0)} ms after the abort`);

  // An already aborted signal stops the question before any model work.
  const before = engine.stats();
  await assert.rejects(engine.ask({ image: imagePath, prompt: "Hi?", signal: AbortSignal.abort() }), { code: "cancelled" });
  assert.deepEqual(engine.stats(), before);
});

void test("a second question about the same image skips the vision encoder", async (t) => {
  engine.clearCache();
  const visionRunsBefore = engine.stats().visionRuns;
  const first = await engine.ask({ image: imagePath, prompt: "What shapes are there?", maxNewTokens: 2 });
  assert.equal(first.cache.imageFeatures, "miss");
  assert.deepEqual(first.generation.stopTokenIds, [engine.tokenizer.eosId], "EOS stops the answer by default");
  assert.equal(engine.stats().visionRuns, visionRunsBefore + 1);
  assert.ok(first.timings.visionMs > 0 && first.timings.preprocessMs > 0);

  // The same bytes under another file name are the same image.
  const copy = join(mkdtempSync(join(tmpdir(), "molmo-engine-")), "renamed.png");
  copyFileSync(imagePath, copy);
  const second = await engine.ask({ image: copy, prompt: "How many circles are there?", maxNewTokens: 2 });
  assert.equal(second.cache.imageFeatures, "hit");
  assert.equal(engine.stats().visionRuns, visionRunsBefore + 1, "the vision encoder did not run again");
  assert.equal(second.timings.visionMs, 0);
  assert.equal(second.timings.preprocessMs, 0);
  assert.deepEqual(second.imageSize, first.imageSize);
  const saved = first.timings.imageLoadMs + first.timings.preprocessMs + first.timings.visionMs - second.timings.imageLoadMs;
  t.diagnostic(`image work saved by the cache: ${saved.toFixed(1)} ms (vision ${first.timings.visionMs.toFixed(1)} ms)`);

  // Decoded pixels are keyed by their content too.
  const pixels = await loadImage(imagePath);
  assert.equal((await engine.ask({ image: pixels, prompt: "Colours?", maxNewTokens: 1 })).cache.imageFeatures, "miss");
  assert.equal((await engine.ask({ image: pixels, prompt: "Colours?", maxNewTokens: 1 })).cache.imageFeatures, "hit");
  assert.equal(engine.stats().featureCache.entries, 2);
});

void test("a cache budget of 0 keeps nothing", async () => {
  const uncached = await MolmoEngine.load(bundleDir, { ep: "cpu", featureCacheBytes: 0 });
  try {
    await uncached.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 });
    const again = await uncached.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 });
    assert.equal(again.cache.imageFeatures, "miss");
    assert.equal(uncached.stats().visionRuns, 2);
  } finally {
    await uncached.dispose();
  }
});

void test("earlier turns of a conversation come before the new question", async () => {
  const history = [
    { role: "user" as const, text: "What is in the image?" },
    { role: "assistant" as const, text: "Two red circles, a blue rectangle and a green triangle." },
  ];
  const result = await engine.ask({ image: imagePath, prompt: "Where is the triangle?", history, maxNewTokens: 1 });
  const pre = await preprocessImage(await loadImage(imagePath), engine.bundle.preprocessorConfig, engine.tokenizer.imageTokens);
  const expected = buildInputIds({
    tokenizer: engine.tokenizer,
    imageTokens: pre.imageTokens,
    messages: [...history, { role: "user", text: "Where is the triangle?" }],
  });
  assert.deepEqual(Array.from(result.inputIds), Array.from(expected.inputIds));
});

void test("bad requests fail with typed errors before any model work", async () => {
  const before = engine.stats();
  await assert.rejects(engine.ask({ image: imagePath, prompt: "Hi?", task: pointTask }), (e: unknown) => e instanceof PromptError && e.code === "invalid_task");
  await assert.rejects(engine.ask({ image: imagePath }), (e: unknown) => e instanceof PromptError && e.code === "invalid_task");
  await assert.rejects(engine.ask({ image: imagePath, prompt: "   " }), (e: unknown) => e instanceof PromptError && e.code === "empty_text");
  await assert.rejects(engine.ask({ image: imagePath, prompt: "Hi?", topP: 2 }), (e: unknown) => e instanceof EngineError && e.code === "invalid_option");
  await assert.rejects(engine.ask({ image: imagePath, prompt: "Hi?", maxNewTokens: 0 }), (e: unknown) => e instanceof EngineError && e.code === "invalid_option");
  await assert.rejects(
    engine.ask({ image: imagePath, prompt: "Hi?", answerPrefix: "<|endoftext|>" }),
    (e: unknown) => e instanceof PromptError && e.code === "reserved_token",
  );
  assert.deepEqual(engine.stats().visionRuns, before.visionRuns);
  assert.deepEqual(engine.stats().prefillRuns, before.prefillRuns);
});

void test("a disposed engine refuses questions", async () => {
  const disposable = await MolmoEngine.load(bundleDir, { ep: "cpu" });
  await disposable.dispose();
  await disposable.dispose();
  await assert.rejects(disposable.ask({ image: imagePath, prompt: "Hi?" }), (e: unknown) => e instanceof EngineError && e.code === "disposed");
});
