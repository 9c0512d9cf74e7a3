/** FeatureCache: keys from image content + options + model, LRU order, byte budget, stats, shared computations. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EngineError } from "../../models/engine/errors";
import { DEFAULT_FEATURE_CACHE_BYTES, FeatureCache, featureCacheKey, hashImageContent } from "../../models/engine/feature-cache";

const png = (seed: number): Uint8Array => Uint8Array.from({ length: 64 }, (_, i) => (i * 31 + seed) & 0xff);
const features = (floats: number, fill = 0): Float32Array => new Float32Array(floats).fill(fill);

void describe("featureCacheKey", () => {
  const preprocessing = { crop_mode: "overlap-and-resize-c2", max_crops: 12, overlap_margins: [4, 4] };

  void test("hashImageContent is the sha256 of the bytes", () => {
    assert.equal(hashImageContent(new TextEncoder().encode("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  void test("the same image, options (in any key order) and model give the same key; any change gives another", () => {
    const key = featureCacheKey({ imageHash: hashImageContent(png(1)), preprocessing, modelId: "molmo-7b-d/fp16" });
    const reordered = featureCacheKey({
      imageHash: hashImageContent(png(1)),
      preprocessing: { overlap_margins: [4, 4], max_crops: 12, crop_mode: "overlap-and-resize-c2" },
      modelId: "molmo-7b-d/fp16",
    });
    assert.equal(reordered, key);
    assert.match(key, /^[0-9a-f]{64}$/);
    const others = [
      featureCacheKey({ imageHash: hashImageContent(png(2)), preprocessing, modelId: "molmo-7b-d/fp16" }),
      featureCacheKey({ imageHash: hashImageContent(png(1)), preprocessing: { ...preprocessing, max_crops: 6 }, modelId: "molmo-7b-d/fp16" }),
      featureCacheKey({ imageHash: hashImageContent(png(1)), preprocessing: { ...preprocessing, overlap_margins: [4, 5] }, modelId: "molmo-7b-d/fp16" }),
      featureCacheKey({ imageHash: hashImageContent(png(1)), preprocessing, modelId: "molmo-7b-d/fp32" }),
    ];
    assert.equal(new Set([key, ...others]).size, 5);
  });

  void test("a malformed image hash is refused", () => {
    assert.throws(() => featureCacheKey({ imageHash: "not-a-hash", preprocessing: {}, modelId: "m" }), (error: unknown) => error instanceof EngineError && error.code === "invalid_input");
  });
});

void describe("FeatureCache", () => {
  void test("counts hits and misses, and the default budget is 512 MiB", () => {
    const cache = new FeatureCache<Float32Array>();
    assert.equal(cache.get("a"), undefined);
    cache.set("a", features(4, 1));
    assert.deepEqual(Array.from(cache.get("a")!), [1, 1, 1, 1]);
    assert.deepEqual(cache.stats(), { hits: 1, misses: 1, evictions: 0, rejected: 0, entries: 1, bytes: 16, maxBytes: DEFAULT_FEATURE_CACHE_BYTES });
    assert.equal(DEFAULT_FEATURE_CACHE_BYTES, 512 * 1024 * 1024);
  });

  void test("evicts the least recently used entries to stay within the byte budget, telling onEvict", () => {
    const evicted: string[] = [];
    const cache = new FeatureCache<Float32Array>({ maxBytes: 100, onEvict: (key) => evicted.push(key) });
    cache.set("a", features(10)); // 40 bytes
    cache.set("b", features(10)); // 80
    assert.ok(cache.get("a")); // a is now the most recent
    cache.set("c", features(10)); // 120 > 100: b goes
    assert.deepEqual(evicted, ["b"]);
    assert.ok(cache.has("a") && cache.has("c") && !cache.has("b"));
    cache.set("d", features(20)); // 80 bytes: a and c must both go
    assert.deepEqual(evicted, ["b", "a", "c"]);
    assert.deepEqual(cache.stats(), { hits: 1, misses: 0, evictions: 3, rejected: 0, entries: 1, bytes: 80, maxBytes: 100 });
  });

  void test("an entry larger than the budget is not stored; replacing an entry disposes the old value but not a re-stored one", () => {
    const evicted: number[] = [];
    const cache = new FeatureCache<Float32Array>({ maxBytes: 64, onEvict: (_key, value) => evicted.push(value.length) });
    assert.equal(cache.set("huge", features(17)), false);
    assert.equal(cache.stats().rejected, 1);
    const first = features(4);
    cache.set("k", first);
    cache.set("k", first);
    assert.deepEqual(evicted, []);
    cache.set("k", features(8));
    assert.deepEqual(evicted, [4]);
    assert.equal(cache.stats().bytes, 32);
    cache.clear();
    assert.deepEqual(evicted, [4, 8]);
    assert.equal(cache.stats().bytes, 0);
  });

  void test("sizes host tensors by their data and needs sizeOf for anything else", () => {
    const cache = new FeatureCache<{ data: Float32Array; dims: number[] }>({ maxBytes: 1000 });
    cache.set("t", { data: features(6), dims: [2, 3] });
    assert.equal(cache.stats().bytes, 24);
    const opaque = new FeatureCache<{ handle: number }>({ maxBytes: 1000 });
    assert.throws(() => opaque.set("x", { handle: 1 }), /pass sizeOf/);
    const sized = new FeatureCache<{ handle: number; elements: number }>({ maxBytes: 1000, sizeOf: (value) => value.elements * 2 });
    sized.set("x", { handle: 1, elements: 100 });
    assert.equal(sized.stats().bytes, 200);
  });

  void test("getOrCompute runs one computation for concurrent requests and caches it; a failure caches nothing", async () => {
    const cache = new FeatureCache<Float32Array>({ maxBytes: 1000 });
    let runs = 0;
    const encode = async (): Promise<Float32Array> => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return features(4, 7);
    };
    const [first, second] = await Promise.all([cache.getOrCompute("img", encode), cache.getOrCompute("img", encode)]);
    assert.equal(runs, 1);
    assert.equal(first, second);
    assert.equal(await cache.getOrCompute("img", encode), first);
    assert.equal(runs, 1);
    assert.equal(cache.stats().hits, 1);

    await assert.rejects(cache.getOrCompute("bad", () => Promise.reject(new Error("encoder failed"))), /encoder failed/);
    assert.equal(cache.has("bad"), false);
    assert.deepEqual(Array.from(await cache.getOrCompute("bad", encode)), [7, 7, 7, 7]);
  });

  void test("a negative or fractional budget is refused", () => {
    for (const maxBytes of [-1, 1.5, Number.NaN]) {
      assert.throws(() => new FeatureCache({ maxBytes }), (error: unknown) => error instanceof EngineError && error.code === "invalid_option");
    }
  });
});
