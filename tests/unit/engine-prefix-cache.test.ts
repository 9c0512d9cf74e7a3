/**
 * The image-prefix KV cache of the Molmo engine: a follow-up question about the same image runs the decoder
 * over its own text only, after the cached [BOS][image tokens] state, and must answer exactly as a fresh
 * engine that prefills the whole prompt (greedy tokens equal, prefill logits within 1e-4), on the plain
 * decoder (committed tiny bundle) and on the fused GroupQueryAttention decoder (exported at test time by
 * tests/fixtures/tiny-molmo/make_fused_variant.py; skipped where python3-torch/onnx/numpy are missing).
 * Also: hit/miss/off reporting, eviction under a small budget, cancellation that leaves the cached prefix
 * intact, and release of device tensors only when no question uses them (PrefixCache with fake GPU tensors).
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MolmoEngine, type AskRequest, type AskResult, type PrefillLogits } from "../../models/engine/molmo-engine";
import type { OrtTensor } from "../../models/engine/backend";
import type { KvLayout, KvState } from "../../models/engine/kv-cache";
import { PrefixCache, prefixStateBytes } from "../../models/engine/prefix-cache";
import { loadImage } from "../../models/image/load";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const TOLERANCE = 1e-4;
const imagePath = join(tinyMolmoDir(), "image.png");
const firstQuestion = { prompt: "What shapes are there?" } as const;
const followUp = { task: { kind: "point", label: "red circle" } } as const;

/** Asks greedily for 32 tokens, collecting the prefill logits. */
async function askWithLogits(engine: MolmoEngine, request: Omit<AskRequest, "image">, image: AskRequest["image"] = imagePath): Promise<{ result: AskResult; logits: PrefillLogits }> {
  let logits: PrefillLogits | undefined;
  const result = await engine.ask({ image, maxNewTokens: 32, stopTokenIds: [], ...request, onPrefillLogits: (l) => (logits = l) });
  assert.ok(logits !== undefined, "onPrefillLogits was called");
  return { result, logits };
}

/** Max |diff| between `actual`'s rows and the same prompt positions of `full` (a whole-prompt prefill). */
function maxRowDiff(actual: PrefillLogits, full: PrefillLogits): number {
  assert.equal(full.firstPosition, 0);
  assert.equal(actual.numLogits, full.numLogits);
  assert.equal(actual.firstPosition + actual.length, full.length, "the rows end at the prompt's last position");
  const a = actual.data as Float32Array;
  const b = full.data as Float32Array;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[actual.firstPosition * full.numLogits + i]));
  }
  return max;
}

/** Checks that a follow-up with a prefix hit answers as a fresh, uncached engine does. */
async function checkHitMatchesFresh(bundleDir: string, label: string, diagnostic: (message: string) => void): Promise<void> {
  const cached = await MolmoEngine.load(bundleDir, { ep: "cpu" });
  const fresh = await MolmoEngine.load(bundleDir, { ep: "cpu", prefixCacheBytes: 0 });
  try {
    const first = await askWithLogits(cached, firstQuestion);
    assert.deepEqual(first.result.cache, { imageFeatures: "miss", prefix: "miss" });
    // The miss prefills in two runs; its logits cover the whole prompt and match a one-run prefill.
    const firstFresh = await askWithLogits(fresh, firstQuestion);
    assert.equal(firstFresh.result.cache.prefix, "off");
    assert.equal(first.logits.firstPosition, 0);
    const missDiff = maxRowDiff(first.logits, firstFresh.logits);
    assert.ok(missDiff <= TOLERANCE, `${label}: two-run prefill differs by ${missDiff}`);
    assert.deepEqual(first.result.tokenIds, firstFresh.result.tokenIds);

    const prefillRuns = cached.stats().prefillRuns;
    const hit = await askWithLogits(cached, followUp);
    assert.deepEqual(hit.result.cache, { imageFeatures: "hit", prefix: "hit" });
    assert.equal(cached.stats().prefillRuns, prefillRuns + 1, "one decoder run for the follow-up's text");
    const prefixLength = prefixLengthOf(cached, hit.result);
    assert.equal(hit.logits.firstPosition, prefixLength, "the follow-up's logits start after BOS and the image tokens");
    assert.equal(hit.logits.length, hit.result.inputIds.length - prefixLength);

    const reference = await askWithLogits(fresh, followUp);
    const diff = maxRowDiff(hit.logits, reference.logits);
    diagnostic(`${label}: follow-up on the cached prefix: ${hit.logits.length} of ${reference.logits.length} positions run, logits max |diff| ${diff.toExponential(2)} vs a fresh engine`);
    assert.ok(diff <= TOLERANCE, `${label}: prefill logits differ by ${diff}`);
    assert.deepEqual(hit.result.tokenIds, reference.result.tokenIds);
    assert.equal(hit.result.text, reference.result.text);
  } finally {
    await cached.dispose();
    await fresh.dispose();
  }
}

/**
 * BOS and the image tokens: up to the last special id of the input (the prompts here are plain words, so
 * every special id is BOS or an image token).
 */
function prefixLengthOf(engine: MolmoEngine, result: AskResult): number {
  let last = -1;
  result.inputIds.forEach((id, i) => {
    if (engine.tokenizer.isSpecialId(id)) last = i;
  });
  return last + 1;
}

void describe("plain decoder (committed tiny bundle)", () => {
  let bundleDir: string;
  let engine: MolmoEngine;

  before(async () => {
    bundleDir = makeTinyBundle();
    engine = await MolmoEngine.load(bundleDir, { ep: "cpu" });
  });

  after(async () => {
    await engine.dispose();
  });

  void test("a follow-up on the cached prefix gives a fresh engine's greedy tokens and prefill logits", async (t) => {
    await checkHitMatchesFresh(bundleDir, "plain decoder", (m) => t.diagnostic(m));
  });

  void test("reports hit, miss and off; history and an answer prefix reuse the prefix too", async () => {
    engine.clearCache();
    assert.deepEqual((await engine.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 2 })).cache, { imageFeatures: "miss", prefix: "miss" });
    assert.deepEqual((await engine.ask({ image: imagePath, prompt: "Colours?", maxNewTokens: 2 })).cache, { imageFeatures: "hit", prefix: "hit" });
    const withHistory = await engine.ask({
      image: imagePath,
      prompt: "And the squares?",
      history: [
        { role: "user", text: "Shapes?" },
        { role: "assistant", text: "Circles." },
      ],
      answerPrefix: "<point",
      maxNewTokens: 2,
    });
    assert.equal(withHistory.cache.prefix, "hit");
    // Another crop setting is another image layout: its own features and prefix.
    assert.deepEqual((await engine.ask({ image: imagePath, prompt: "Shapes?", maxCrops: 2, maxNewTokens: 1 })).cache, { imageFeatures: "miss", prefix: "miss" });
    const stats = engine.stats().prefixCache;
    assert.equal(stats.entries, 2);
    assert.equal(stats.hits, 2);

    const off = await MolmoEngine.load(bundleDir, { ep: "cpu", prefixCacheBytes: 0 });
    try {
      await off.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 });
      assert.deepEqual((await off.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 })).cache, { imageFeatures: "hit", prefix: "off" });
      assert.equal(off.stats().prefixCache.entries, 0);
    } finally {
      await off.dispose();
    }
    await assert.rejects(MolmoEngine.load(bundleDir, { ep: "cpu", prefixCacheBytes: -1 }), { code: "invalid_option" });
  });

  void test("a small budget evicts the least recently used prefix; a budget below one prefix turns it off", async () => {
    const first = await engine.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 });
    const prefixLength = prefixLengthOf(engine, first);
    const { manifest } = engine.bundle;
    const layout: KvLayout = { cache: manifest.kvCache, numKvHeads: manifest.dims.numKvHeads, headDim: manifest.dims.headDim };
    const oneEntry = prefixStateBytes(layout, prefixLength);
    const pixels = await loadImage(imagePath); // decoded pixels are keyed apart from the file: a second image

    const small = await MolmoEngine.load(bundleDir, { ep: "cpu", prefixCacheBytes: oneEntry });
    try {
      assert.equal((await small.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 })).cache.prefix, "miss");
      assert.equal((await small.ask({ image: imagePath, prompt: "Colours?", maxNewTokens: 1 })).cache.prefix, "hit");
      assert.equal((await small.ask({ image: pixels, prompt: "Shapes?", maxNewTokens: 1 })).cache.prefix, "miss");
      assert.equal((await small.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 })).cache.prefix, "miss", "evicted by the second image");
      const stats = small.stats().prefixCache;
      assert.equal(stats.entries, 1);
      assert.equal(stats.evictions, 2);
      assert.equal(stats.bytes, oneEntry);
    } finally {
      await small.dispose();
    }

    const tooSmall = await MolmoEngine.load(bundleDir, { ep: "cpu", prefixCacheBytes: oneEntry - 1 });
    try {
      await tooSmall.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 });
      assert.equal((await tooSmall.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 })).cache.prefix, "off");
    } finally {
      await tooSmall.dispose();
    }
  });

  void test("cancelling mid-generation leaves the cached prefix intact", async () => {
    engine.clearCache();
    // Cancelled on its first question: the prefix it computed is cached and correct.
    const controller = new AbortController();
    await assert.rejects(
      engine.ask({ ...followUp, image: imagePath, maxNewTokens: 32, stopTokenIds: [], signal: controller.signal, onToken: (_id, index) => index === 2 && controller.abort() }),
      { code: "cancelled" },
    );
    const answer = await engine.ask({ ...followUp, image: imagePath, maxNewTokens: 32, stopTokenIds: [] });
    assert.equal(answer.cache.prefix, "hit");

    // Cancelled while running on the cached prefix: asking again gives the same answer.
    const again = new AbortController();
    await assert.rejects(
      engine.ask({ ...followUp, image: imagePath, maxNewTokens: 32, stopTokenIds: [], signal: again.signal, onToken: (_id, index) => index === 3 && again.abort() }),
      { code: "cancelled" },
    );
    const after = await engine.ask({ ...followUp, image: imagePath, maxNewTokens: 32, stopTokenIds: [] });
    assert.equal(after.cache.prefix, "hit");
    assert.deepEqual(after.tokenIds, answer.tokenIds);

    const fresh = await MolmoEngine.load(bundleDir, { ep: "cpu", prefixCacheBytes: 0 });
    try {
      assert.deepEqual((await fresh.ask({ ...followUp, image: imagePath, maxNewTokens: 32, stopTokenIds: [] })).tokenIds, answer.tokenIds);
    } finally {
      await fresh.dispose();
    }
  });

  void test("dispose empties the prefix cache", async () => {
    const own = await MolmoEngine.load(bundleDir, { ep: "cpu" });
    await own.ask({ image: imagePath, prompt: "Shapes?", maxNewTokens: 1 });
    assert.equal(own.stats().prefixCache.entries, 1);
    await own.dispose();
    assert.equal(own.stats().prefixCache.entries, 0);
    assert.equal(own.stats().prefixCache.bytes, 0);
  });
});

void describe("PrefixCache with device tensors", () => {
  const layout: KvLayout = {
    cache: { inputs: ["past_key_values.0.key", "past_key_values.0.value"], outputs: ["present.0.key", "present.0.value"], dtype: "float16", inputShape: [1, 2, "past", 4] },
    numKvHeads: 2,
    headDim: 4,
  };
  const disposed: string[] = [];
  /** A state of fake GPU tensors that record their disposal (releaseTensor disposes non-CPU tensors). */
  const gpuState = (name: string, length: number): KvState => ({
    length,
    past: Object.fromEntries(
      layout.cache.inputs.map((input) => [input, { location: "gpu-buffer", dims: [1, 2, length, 4], dispose: () => disposed.push(`${name}:${input}`) } as unknown as OrtTensor]),
    ),
  });

  void test("an entry evicted while pinned is released when unpinned, never before", () => {
    const cache = new PrefixCache(layout, prefixStateBytes(layout, 10));
    assert.equal(prefixStateBytes(layout, 10), 10 * 2 * 2 * 4 * 2);
    const a = cache.adopt("a", gpuState("a", 10));
    a.unpin();
    assert.equal(disposed.length, 0, "cached, not released");
    const inUse = cache.acquire("a");
    assert.ok(inUse !== undefined);
    cache.adopt("b", gpuState("b", 10)).unpin(); // evicts a while a question uses it
    assert.equal(disposed.length, 0, "still in use");
    inUse.unpin();
    inUse.unpin(); // idempotent
    assert.equal(disposed.length, 2);
    assert.ok(disposed.every((d) => d.startsWith("a:")));
    assert.equal(cache.acquire("a"), undefined);

    // Too large to keep: used by its question, then released.
    const big = cache.adopt("c", gpuState("c", 11));
    assert.equal(disposed.length, 2);
    big.unpin();
    assert.equal(disposed.filter((d) => d.startsWith("c:")).length, 2);

    cache.clear();
    assert.equal(disposed.filter((d) => d.startsWith("b:")).length, 2, "clear releases what nobody uses");
    assert.equal(cache.stats().entries, 0);
  });
});

const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const probe = spawnSync(python, ["-c", "import torch, onnx, numpy"], { encoding: "utf8" });
const fusedSkip = probe.status === 0 ? false : `${python} cannot import torch, onnx and numpy (install python3-torch python3-onnx python3-numpy)`;

void describe("fused decoder (GroupQueryAttention, exported at test time)", () => {
  let outDir: string | undefined;

  before(() => {
    if (fusedSkip !== false) return;
    outDir = mkdtempSync(join(tmpdir(), "molmo-prefix-fused-"));
    const script = join(repoRoot(), "tests", "fixtures", "tiny-molmo", "make_fused_variant.py");
    const made = spawnSync(python, [script, outDir], { encoding: "utf8", cwd: repoRoot(), timeout: 180_000 });
    if (made.status !== 0) {
      throw new Error(`make_fused_variant.py failed (${made.error?.message ?? `exit ${String(made.status)}`}):\n${made.stderr}`);
    }
  });

  after(() => {
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  void test("a follow-up on the cached prefix gives a fresh engine's greedy tokens and prefill logits", { skip: fusedSkip }, async (t) => {
    await checkHitMatchesFresh(join(outDir as string, "bundle"), "fused decoder", (m) => t.diagnostic(m));
  });
});
