/**
 * Short descriptions of images for hovers and alt text, generated once per image content and shared.
 *
 * - Cached by content: the key is the sha256 of the image's bytes (the engine's own `hashImageContent`, so a
 *   renamed or copied file is a hit and an edited one a miss), the model and provider, and the purpose. The
 *   hash of a file is remembered by path, size, mtime and inode, so a hover does not re-read an unchanged
 *   file. Descriptions live in the engine's byte-budgeted LRU (`FeatureCache`), not in a second cache type.
 * - Shared: requests for the same key wait for one generation.
 * - Budgeted: a hover waits at most its budget; the generation then goes on in the background ("kept"), so
 *   the next hover finds the answer (or, if it failed, the reason, shown once).
 * - Cancellable: a waiter that cancels leaves; the generation is aborted only when no one else waits for it
 *   and no budgeted hover has asked for it to be kept.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { hashImageContent, FeatureCache } from "../../models/engine/feature-cache";
import type { Logger } from "../../models/engine/logger";
import type { EngineHost } from "../host/engine-host";
import { HostError, toHostError } from "../host/host-errors";
import type { ResolvedImage } from "../host/image-access";
import type { MolmoAskResult, MolmoTaskName } from "../protocol/molmo-protocol";

/** What a description is for; each has its own prompt, so its own cache entries. */
export type DescriptionPurpose = "hover" | "alt";

/** How each purpose asks Molmo. */
export interface DescriptionPrompt {
  readonly task: MolmoTaskName;
  readonly question?: string;
  readonly maxNewTokens: number;
}

/** A finished description. */
export interface ImageDescription {
  readonly text: string;
  /** Whether generation stopped at the token budget (the text is cut short). */
  readonly truncated: boolean;
  readonly model: string;
  readonly ep: string;
  readonly totalMs: number;
}

/** How long to wait and how to stop waiting. */
export interface DescribeOptions {
  /** Resolve with undefined after this many milliseconds while the generation goes on (no limit when absent). */
  readonly budgetMs?: number;
  readonly signal?: AbortSignal;
}

interface Job {
  /** The image and purpose, for log lines. */
  readonly name: string;
  readonly promise: Promise<ImageDescription>;
  readonly controller: AbortController;
  waiters: number;
  kept: boolean;
}

interface HashMemo {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly hash: string;
}

const CACHE_BYTES = 4 * 1024 * 1024;
const MAX_HASH_MEMOS = 1000;

/** Generates, shares and caches image descriptions on an engine host. */
export class ImageDescriptions {
  private readonly done = new FeatureCache<ImageDescription>({ maxBytes: CACHE_BYTES, sizeOf: (description) => 2 * description.text.length + 256 });
  private readonly running = new Map<string, Job>();
  private readonly failedInBackground = new Map<string, HostError>();
  private readonly hashes = new Map<string, HashMemo>();

  constructor(
    private readonly host: EngineHost,
    private readonly prompts: Readonly<Record<DescriptionPurpose, DescriptionPrompt>>,
    private readonly logger: Logger,
    /** The crop limit of the settings (molmo.maxCrops), read at each generation. */
    private readonly maxCrops: () => number | undefined = () => undefined,
  ) {}

  /**
   * The description of `image` for `purpose`: from the cache, from a generation already running, or from a
   * new one. Resolves with undefined when `budgetMs` ran out first (the generation goes on).
   *
   * @throws {HostError} the generation's failure, or `cancelled` when `signal` fired.
   */
  async describe(image: ResolvedImage, purpose: DescriptionPurpose, options: DescribeOptions = {}): Promise<ImageDescription | undefined> {
    const key = await this.keyOf(image, purpose);
    const failure = this.failedInBackground.get(key);
    if (failure !== undefined) {
      this.failedInBackground.delete(key);
      throw failure;
    }
    const cached = this.done.get(key);
    if (cached !== undefined) {
      return cached;
    }
    if (options.signal?.aborted === true) {
      throw new HostError("cancelled", "The request was cancelled.");
    }
    const job = this.running.get(key) ?? this.start(key, image, purpose);
    return this.wait(job, options);
  }

  private start(key: string, image: ResolvedImage, purpose: DescriptionPurpose): Job {
    const prompt = this.prompts[purpose];
    const maxCrops = this.maxCrops();
    const controller = new AbortController();
    const job: Job = {
      name: `${describeImage(image)} (${purpose})`,
      controller,
      waiters: 0,
      kept: false,
      promise: this.host
        .ask({
          image,
          task: prompt.task,
          ...(prompt.question !== undefined ? { question: prompt.question } : {}),
          options: { maxNewTokens: prompt.maxNewTokens, ...(maxCrops !== undefined ? { maxCrops } : {}) },
          signal: controller.signal,
        })
        .then(
          (result) => {
            const description = toDescription(result);
            this.done.set(key, description);
            return description;
          },
          (error: unknown) => {
            const failure = toHostError(error);
            // A failure no one is waiting for any more is shown by the next hover instead of starting over.
            if (job.kept && job.waiters === 0 && failure.code !== "cancelled") {
              this.failedInBackground.set(key, failure);
            }
            throw failure;
          },
        )
        .finally(() => this.running.delete(key)),
    };
    // Waiters attach their own handlers; this one keeps a background failure from being "unhandled".
    job.promise.catch(() => undefined);
    this.running.set(key, job);
    this.logger.debug(`Describing ${job.name}.`);
    return job;
  }

  private wait(job: Job, options: DescribeOptions): Promise<ImageDescription | undefined> {
    job.waiters += 1;
    return new Promise<ImageDescription | undefined>((resolve, reject) => {
      let settled = false;
      const settle = (then: () => void) => {
        if (settled) {
          return;
        }
        settled = true;
        job.waiters -= 1;
        if (timer !== undefined) {
          clearTimeout(timer);
        }
        options.signal?.removeEventListener("abort", onAbort);
        then();
      };
      const onAbort = () =>
        settle(() => {
          if (job.waiters === 0 && !job.kept) {
            this.logger.debug(`Stopped describing ${job.name}: no request waits for it any more.`);
            job.controller.abort(new HostError("cancelled", "The request was cancelled."));
          }
          reject(new HostError("cancelled", "The request was cancelled."));
        });
      const timer =
        options.budgetMs !== undefined
          ? setTimeout(
              () =>
                settle(() => {
                  job.kept = true;
                  resolve(undefined);
                }),
              options.budgetMs,
            )
          : undefined;
      options.signal?.addEventListener("abort", onAbort, { once: true });
      job.promise.then(
        (description) => settle(() => resolve(description)),
        (error: unknown) => settle(() => reject(error instanceof Error ? error : toHostError(error))),
      );
    });
  }

  /** The cache key: content hash + model + provider + purpose. */
  private async keyOf(image: ResolvedImage, purpose: DescriptionPurpose): Promise<string> {
    const status = this.host.status();
    const content = image.kind === "file" ? await this.fileHash(image.path) : image.kind === "data" ? sha256(image.uri) : sha256(image.url);
    // The crop limit changes what the model sees, so descriptions made under another one are not reused.
    return `${purpose}\0${content}\0${status.model?.path ?? ""}\0${status.requestedEp}\0${this.maxCrops() ?? ""}`;
  }

  private async fileHash(path: string): Promise<string> {
    try {
      const info = await stat(path);
      const memo = this.hashes.get(path);
      if (memo !== undefined && memo.size === info.size && memo.mtimeMs === info.mtimeMs && memo.ino === info.ino) {
        return memo.hash;
      }
      const hash = hashImageContent(await readFile(path));
      if (this.hashes.size >= MAX_HASH_MEMOS) {
        const oldest = this.hashes.keys().next().value;
        if (oldest !== undefined) {
          this.hashes.delete(oldest);
        }
      }
      this.hashes.set(path, { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, hash });
      return hash;
    } catch (error) {
      throw new HostError("image_not_found", `Cannot read the image ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** A short name for an image in messages. */
export function describeImage(image: ResolvedImage): string {
  switch (image.kind) {
    case "file":
      return image.path;
    case "data":
      return "the inline data: image";
    case "remote":
      return image.url;
  }
}

function toDescription(result: MolmoAskResult): ImageDescription {
  return {
    text: result.text.trim(),
    truncated: result.stopReason === "max_new_tokens",
    model: result.model.name,
    ep: result.ep,
    totalMs: result.timings.totalMs,
  };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
