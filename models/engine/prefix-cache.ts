/**
 * A least-recently-used cache of the decoder's KV cache after the image prefix of a prompt, so that a
 * follow-up question about the same image runs the decoder over its own few text tokens only.
 *
 * Molmo's input is [BOS][image tokens][text]: the first BOS + image-token positions are the same for every
 * question about one image under one preprocessing and one model, so their keys and values are too. An
 * entry is keyed by the image's feature-cache key (image bytes, preprocessing, model), a hash of the
 * prefix's token ids, the execution provider and the decoder kind (they change the tensors' numerics and
 * where they live).
 *
 * Ownership: the cache owns the tensors of its entries (GPU tensors on WebGPU, never read back by the
 * host). A generation that runs on an entry pins it; an entry evicted (or cleared) while pinned is released
 * only when the last pin goes, so a question in flight never loses the past it is reading.
 */
import { createHash } from "node:crypto";
import { FeatureCache, type FeatureCacheStats } from "./feature-cache";
import { releaseKvState, type KvLayout, type KvState } from "./kv-cache";

/**
 * 256 MiB: three 1920x1080 screenshots' prefixes of Molmo-7B-D in float16 (~1200 positions x 28 layers x 2 x 4 kv heads
 * x 128 x 2 bytes = ~69 MB each); on WebGPU this is GPU memory, hence a smaller budget than the feature cache's.
 */
export const DEFAULT_PREFIX_CACHE_BYTES = 256 * 1024 * 1024;

/** A cached prefix state held by one user; {@link unpin} (idempotent) ends the hold. */
export interface PinnedPrefix {
  readonly state: KvState;
  unpin(): void;
}

/** What the cache keeps per prefix. */
interface PrefixEntry {
  readonly state: KvState;
  pins: number;
  /** Out of the cache (evicted, replaced, cleared): released once the last pin goes. */
  detached: boolean;
}

/** What makes two prefix states interchangeable. */
export interface PrefixKeyParts {
  /** The image's feature-cache key (image content, preprocessing, model). */
  readonly featureKey: string;
  /** The prefix's token ids (BOS and image tokens). */
  readonly prefixIds: ArrayLike<number>;
  /** The execution provider the decoder runs on. */
  readonly ep: string;
  /** The decoder kind (plain or fused), which computes the same values with different kernels. */
  readonly decoderOps: string;
}

/** The cache key of one prefix state. */
export function prefixCacheKey(parts: PrefixKeyParts): string {
  const ids = Int32Array.from(parts.prefixIds);
  const idsHash = createHash("sha256").update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest("hex");
  return `${parts.featureKey}:${idsHash}:${parts.ep}:${parts.decoderOps}`;
}

/** Bytes of a KV state of `positions` positions: positions x (layers x 2) x kv heads x head dim x element size. */
export function prefixStateBytes(layout: KvLayout, positions: number): number {
  const elementBytes = layout.cache.dtype === "float16" ? 2 : 4;
  return positions * layout.cache.inputs.length * layout.numKvHeads * layout.headDim * elementBytes;
}

/** A byte-budgeted LRU of prefix KV states with pinning. */
export class PrefixCache {
  private readonly cache: FeatureCache<PrefixEntry>;

  constructor(
    private readonly layout: KvLayout,
    readonly maxBytes: number,
  ) {
    this.cache = new FeatureCache<PrefixEntry>({
      maxBytes,
      // Sized from the layout, never from the tensors' data: on WebGPU that data is in GPU memory.
      sizeOf: (entry) => prefixStateBytes(this.layout, entry.state.length),
      onEvict: (_key, entry) => {
        entry.detached = true;
        if (entry.pins === 0) {
          releaseKvState(entry.state);
        }
      },
    });
  }

  /** Whether a prefix of `positions` positions can be kept at all (the cache is on and it fits the budget). */
  canHold(positions: number): boolean {
    return this.maxBytes > 0 && prefixStateBytes(this.layout, positions) <= this.maxBytes;
  }

  /** The cached state for `key`, pinned (counting a hit), or undefined (counting a miss). */
  acquire(key: string): PinnedPrefix | undefined {
    const entry = this.cache.get(key);
    return entry === undefined ? undefined : this.pin(entry);
  }

  /**
   * Hands a freshly computed state to the cache and returns it pinned. When the cache cannot keep it (over
   * the budget), the state is still returned pinned and is released when unpinned.
   */
  adopt(key: string, state: KvState): PinnedPrefix {
    const entry: PrefixEntry = { state, pins: 0, detached: false };
    const pinned = this.pin(entry);
    if (!this.cache.set(key, entry)) {
      entry.detached = true;
    }
    return pinned;
  }

  /** Drops every entry; pinned ones are released when their last user is done. */
  clear(): void {
    this.cache.clear();
  }

  stats(): FeatureCacheStats {
    return this.cache.stats();
  }

  private pin(entry: PrefixEntry): PinnedPrefix {
    entry.pins++;
    let held = true;
    return {
      state: entry.state,
      unpin: () => {
        if (!held) {
          return;
        }
        held = false;
        entry.pins--;
        if (entry.pins === 0 && entry.detached) {
          releaseKvState(entry.state);
        }
      },
    };
  }
}
