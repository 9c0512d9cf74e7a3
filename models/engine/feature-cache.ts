/**
 * A least-recently-used cache of the vision encoder's output, so that a follow-up question about the same
 * image skips the encoder (the costliest part of the first answer about a screenshot).
 *
 * Keys: sha256 over the image's bytes, the preprocessing options (canonical JSON: key order does not
 * matter) and the model id. Any change of image content, crop settings or model gives a new key; the same
 * image under another file name gives the same key.
 *
 * Budget: entries are counted by their byte size; inserting past the budget evicts the least recently
 * used entries first, and `onEvict` lets the owner free device memory (GPU tensors) the moment an entry
 * leaves. An entry larger than the whole budget is not stored.
 *
 * Prefix KV reuse: the decoder's KV cache after the prompt's image prefix depends on the same three things
 * plus the prefix's token ids, the execution provider and the decoder kind; prefix-cache.ts keys its entries
 * as this key + sha256(prefix ids) + EP + decoder kind (see `prefixCacheKey`).
 */
import { createHash } from "node:crypto";
import { EngineError } from "./errors";

/** 512 MiB: about 80 screenshots' worth of Molmo-7B features in float32 (13 crops x 144 tokens x 3584). */
export const DEFAULT_FEATURE_CACHE_BYTES = 512 * 1024 * 1024;

/** What makes two vision-encoder outputs interchangeable. */
export interface FeatureKeyParts {
  /** sha256 (hex) of the image file's bytes: see {@link hashImageContent}. */
  readonly imageHash: string;
  /** The preprocessing settings that shaped the crops (any JSON-compatible value). */
  readonly preprocessing: unknown;
  /** Which model's vision encoder (bundle id, checkpoint name and dtype). */
  readonly modelId: string;
}

/** sha256 (hex) of an image's encoded bytes. */
export function hashImageContent(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The cache key for one image under one preprocessing and one model. */
export function featureCacheKey(parts: FeatureKeyParts): string {
  if (!/^[0-9a-f]{64}$/.test(parts.imageHash)) {
    throw new EngineError("invalid_input", `featureCacheKey: imageHash must be a sha256 hex digest, got "${parts.imageHash}".`);
  }
  return createHash("sha256")
    .update(parts.imageHash)
    .update("\0")
    .update(canonicalJson(parts.preprocessing))
    .update("\0")
    .update(parts.modelId)
    .digest("hex");
}

/** Counters for reports (`hits / (hits + misses)` is the hit rate). */
export interface FeatureCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  /** Entries refused because they alone exceed the budget. */
  readonly rejected: number;
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

/** How a cache is set up. */
export interface FeatureCacheOptions<Value> {
  /** Byte budget; {@link DEFAULT_FEATURE_CACHE_BYTES} by default. */
  readonly maxBytes?: number;
  /**
   * Size of a value in bytes. The default understands typed arrays and objects with a typed-array `data`
   * (host tensors); give it for anything else, e.g. GPU tensors (4 bytes x element count for float32).
   */
  readonly sizeOf?: (value: Value) => number;
  /** Called when an entry leaves (eviction, replacement, delete, clear), e.g. to dispose GPU tensors. */
  readonly onEvict?: (key: string, value: Value) => void;
}

interface Entry<Value> {
  readonly value: Value;
  readonly bytes: number;
}

/** A byte-budgeted LRU of vision features (or anything else keyed the same way). */
export class FeatureCache<Value> {
  // A Map iterates in insertion order; re-inserting on every hit keeps the least recently used entry first.
  private readonly entries = new Map<string, Entry<Value>>();
  private readonly inFlight = new Map<string, Promise<Value>>();
  private readonly maxBytes: number;
  private readonly sizeOf: (value: Value) => number;
  private readonly onEvict: ((key: string, value: Value) => void) | undefined;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private rejected = 0;

  constructor(options: FeatureCacheOptions<Value> = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_FEATURE_CACHE_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new EngineError("invalid_option", `FeatureCache: maxBytes must be a non-negative whole number, got ${maxBytes}.`);
    }
    this.maxBytes = maxBytes;
    this.sizeOf = options.sizeOf ?? defaultSizeOf;
    this.onEvict = options.onEvict;
  }

  /** The cached value, counting a hit (and marking it recently used) or a miss. */
  get(key: string): Value | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Whether `key` is cached, without counting or reordering. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Stores a value, evicting least recently used entries to stay within the budget. Returns false (and
   * stores nothing) when the value alone is larger than the budget.
   */
  set(key: string, value: Value): boolean {
    const bytes = this.sizeOf(value);
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new EngineError("invalid_input", `FeatureCache: the size of the value for ${key} is ${bytes}, not a byte count.`);
    }
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.bytes;
      // Storing the same object again only refreshes it; it must not be disposed under the caller.
      if (previous.value !== value) {
        this.onEvict?.(key, previous.value);
      }
    }
    if (bytes > this.maxBytes) {
      this.rejected++;
      return false;
    }
    while (this.bytes + bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry<Value>];
      this.entries.delete(oldestKey);
      this.bytes -= oldest.bytes;
      this.evictions++;
      this.onEvict?.(oldestKey, oldest.value);
    }
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    return true;
  }

  /**
   * The cached value, or `compute()`'s result stored under `key`. Concurrent calls for the same key share
   * one computation (two questions about the same new image run the encoder once). A failed computation
   * stores nothing.
   */
  async getOrCompute(key: string, compute: () => Promise<Value>): Promise<Value> {
    const cached = this.get(key);
    if (cached !== undefined) {
      return cached;
    }
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      return pending;
    }
    const computation = (async () => {
      try {
        const value = await compute();
        this.set(key, value);
        return value;
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, computation);
    return computation;
  }

  /** Removes an entry (calling `onEvict`); returns whether there was one. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return false;
    }
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    this.onEvict?.(key, entry.value);
    return true;
  }

  /** Removes every entry (calling `onEvict` for each); the counters stay. */
  clear(): void {
    for (const key of [...this.entries.keys()]) {
      this.delete(key);
    }
  }

  stats(): FeatureCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      rejected: this.rejected,
      entries: this.entries.size,
      bytes: this.bytes,
      maxBytes: this.maxBytes,
    };
  }
}

function defaultSizeOf(value: unknown): number {
  if (ArrayBuffer.isView(value)) {
    return value.byteLength;
  }
  if (typeof value === "object" && value !== null && "data" in value && ArrayBuffer.isView(value.data)) {
    return value.data.byteLength;
  }
  throw new EngineError(
    "invalid_input",
    "FeatureCache: cannot tell the size of this value (not a typed array or host tensor); pass sizeOf when creating the cache.",
  );
}

/** JSON with object keys sorted at every level, so equal settings always hash the same. */
function canonicalJson(value: unknown): string {
  const json = JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner === "object" && inner !== null && !Array.isArray(inner) && !ArrayBuffer.isView(inner)) {
      return Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return inner;
  });
  // JSON.stringify gives undefined for undefined and functions; they all mean "no settings".
  return json ?? "null";
}
