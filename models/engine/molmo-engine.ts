/**
 * The Molmo engine: an exported bundle's three graphs on one execution provider, and `ask`, which takes
 * an image and a question to an answer with points.
 *
 * Pipeline of `ask` (the reference's order, allenai/molmo `olmo/model.py` Molmo.forward / generate):
 *   image → loadImage (upright RGB) → preprocessImage (the bundle's preprocessor_config.json: crops,
 *   masks, image tokens, the pooled slot → token index) → vision encoder on all crops at once →
 *   features [crops, 144, d] → buildInputIds ([BOS][image tokens][prompt]) → embed_tokens → features
 *   ADDED to the `<im_patch>` embeddings → decoder prefill with an empty past → decode loop with the KV
 *   cache (models/generation) → text, streamed → points parsed in pixels of the original image.
 *
 * Follow-up questions about the same image skip decoding, preprocessing and the vision encoder: the
 * image's features and token layout are kept in a {@link FeatureCache} keyed by the image's bytes, the
 * preprocessing settings and the model. The decoder's KV cache after the image prefix ([BOS][image tokens],
 * the same for every question about the image) is kept too, in a {@link PrefixCache}: the first question
 * prefills the prefix and the rest of its prompt in two runs, and a follow-up runs only its own text
 * (history and answer prefix included) after the cached prefix, embedding only those tokens.
 *
 * Graph sessions are all opened by {@link MolmoEngine.load}, on one execution-provider plan, so the
 * provider checks happen once and a bundle that cannot run fails at load rather than at the first
 * question. Runs are queued per session; concurrent `ask` calls are safe (each has its own KV cache).
 */
import { createHash } from "node:crypto";
import { loadImage, DEFAULT_MAX_INPUT_BYTES, type LoadedImage, type LoadImageOptions } from "../image/load";
import { readImageSource, type ImageSource } from "../image/source";
import { preprocessImage } from "../preprocess";
import { validatePreprocessorConfig, type MolmoPreprocessorConfig } from "../preprocess/config";
import { buildInputIds, buildPrompt, PromptError, type ChatTurn, type MolmoTask } from "../prompt";
import { createPointStream } from "../points/stream";
import type { ImageSize, ParsedPoint, ParsedPoints } from "../points/types";
import { generate } from "../generation/generate";
import { resolveGenerationConfig, type GenerationConfig, type GenerationOptions } from "../generation/config";
import type { StopReason } from "../generation/stopping-criteria";
import type { TokenTextStreamer } from "../generation/streamer";
import { loadBundle, type MolmoBundle } from "../bundle/bundle";
import { BundleError } from "../bundle/errors";
import type { GraphManifest } from "../bundle/manifest";
import type { MolmoTokenizer } from "../tokenizer/molmo-tokenizer";
import { createTensor, readTensorData, type OrtLogSeverity } from "./backend";
import { cancelledError, EngineError } from "./errors";
import { machineEpEnvironment, planExecutionProviders, type ConcreteEp, type EpEnvironment } from "./execution-provider";
import { DEFAULT_FEATURE_CACHE_BYTES, FeatureCache, featureCacheKey, hashImageContent, type FeatureCacheStats } from "./feature-cache";
import { addImageFeatures, type FloatData } from "./image-features";
import { silentLogger, type Logger } from "./logger";
import { MolmoDecoder, type PrefillLogits, type PrefixPlan } from "./molmo-decoder";
import { DEFAULT_PREFIX_CACHE_BYTES, PrefixCache, prefixCacheKey, type PinnedPrefix } from "./prefix-cache";
import { createSession, type EngineSession } from "./session";

export type { PrefillLogits } from "./molmo-decoder";

/** How to load an engine. */
export interface MolmoEngineOptions {
  /** `auto` (default), `cpu`, `webgpu`, `cuda`, `dml` or `coreml`. */
  readonly ep?: string;
  readonly logger?: Logger;
  /** Byte budget of the image-feature cache; 0 turns it off. Default {@link DEFAULT_FEATURE_CACHE_BYTES}. */
  readonly featureCacheBytes?: number;
  /**
   * Byte budget of the image-prefix KV cache (in GPU memory on WebGPU); 0 turns it off. Default
   * {@link DEFAULT_PREFIX_CACHE_BYTES}.
   */
  readonly prefixCacheBytes?: number;
  /** A tokenizer.json to use instead of the bundle's (required for bundles exported without one). */
  readonly tokenizerPath?: string;
  /** onnxruntime's threads per session; its default (all cores) when omitted. */
  readonly intraOpNumThreads?: number;
  /**
   * onnxruntime's own stderr logging for the sessions (fatal only by default); 2 (warning) shows, e.g., which
   * nodes a GPU provider left to the CPU. Diagnostics and benchmarks only.
   */
  readonly ortLogSeverity?: OrtLogSeverity;
  /** The machine's execution providers; tests pass a fake one. */
  readonly environment?: EpEnvironment;
}

/** One question about one image. Generation options are those of models/generation. */
export interface AskRequest extends GenerationOptions {
  /** A path, `data:` URI, encoded bytes, or an image already decoded by `loadImage`. */
  readonly image: ImageSource | LoadedImage;
  /** The question as typed (an `ask` task). Give this or {@link task}. */
  readonly prompt?: string;
  /** A task (point, count, caption, clock, ask with a style) turned into Molmo's prompt by `buildPrompt`. */
  readonly task?: MolmoTask;
  /** Earlier turns of the conversation about this image (user, assistant, ...), before this question. */
  readonly history?: readonly ChatTurn[];
  /**
   * Text the answer is made to begin with: it is appended to the prompt as the start of the assistant's
   * turn, so the model continues it (e.g. `<point` to ask for a point). It is part of `text` and of the
   * streamed text, not of `tokenIds`.
   */
  readonly answerPrefix?: string;
  /** Receives the answer's text as it is generated, delta by delta. */
  readonly onText?: (delta: string) => void;
  /** Receives points as soon as their tag is complete (pixels of the original image). */
  readonly onPoints?: (points: ParsedPoint[]) => void;
  /** Receives every generated token id as it is chosen. */
  readonly onToken?: (tokenId: number, index: number) => void;
  /** Cancels the question: the promise rejects with an EngineError `cancelled` (name "AbortError"). */
  readonly signal?: AbortSignal;
  /** Receives the logits of every prompt position after the prefill (parity checks and diagnostics). */
  readonly onPrefillLogits?: (logits: PrefillLogits) => void;
  /** Limits for decoding the image (pixel count, bytes, time). */
  readonly imageLimits?: LoadImageOptions;
  /**
   * Most high-resolution crops for this image instead of the bundle's `max_crops` (fewer: faster, less memory;
   * more: finer detail). Part of the feature-cache key, so each setting caches its own features.
   */
  readonly maxCrops?: number;
}

/** Where the time of one question went, in milliseconds. */
export interface AskTimings {
  /** Reading, hashing and decoding the image (reading and hashing only on a cache hit). */
  readonly imageLoadMs: number;
  /** Crops, masks and image tokens (0 on a cache hit). */
  readonly preprocessMs: number;
  /** The vision encoder (0 on a cache hit). */
  readonly visionMs: number;
  /** Tokenizing the prompt and embedding it, with the image features added. */
  readonly embedMs: number;
  /** Where {@link embedMs} went (diagnostics and benchmarks). */
  readonly embedParts?: EmbedTimings;
  readonly prefillMs: number;
  /** All decode steps together. */
  readonly decodeMs: number;
  /** From the call to the first generated token. */
  readonly timeToFirstTokenMs: number;
  /** Tokens per second of the decode steps. */
  readonly decodeTokensPerSecond: number;
  readonly totalMs: number;
}

/** The parts of the embed phase of one question, in milliseconds. */
export interface EmbedTimings {
  /** Tokenizing the prompt and laying out BOS, image tokens and prompt tokens. */
  readonly inputIdsMs: number;
  /** The embed_tokens run over the whole sequence, its output read on the host. */
  readonly embedTokensMs: number;
  /** Adding the image features to the `<im_patch>` embeddings, on the host. */
  readonly addFeaturesMs: number;
}

/** The answer to one question. */
export interface AskResult {
  /** The answer, special tokens left out. */
  readonly text: string;
  /** Generated ids in order (a final stop token included). */
  readonly tokenIds: number[];
  readonly stopReason: StopReason;
  /** Points of the answer in pixels of the original image (after EXIF orientation). */
  readonly points: ParsedPoint[];
  /** The count the answer states or implies (see `parsePoints`), when it has one. */
  readonly count: number | undefined;
  /** Everything `parsePoints` found, issues included. */
  readonly parsed: ParsedPoints;
  readonly imageSize: ImageSize;
  /** The user text sent to the model. */
  readonly prompt: string;
  /** The model's input sequence: BOS, image tokens, prompt tokens. */
  readonly inputIds: Int32Array;
  /** The generation settings used (the seed actually drawn included). */
  readonly generation: GenerationConfig;
  readonly timings: AskTimings;
  /** The execution provider the decoder ran on. */
  readonly ep: ConcreteEp;
  /**
   * What the caches saved: `prefix` is "hit" when the decoder ran only the text after a cached image prefix,
   * "miss" when it computed the prefix (and cached it), "off" when the prefix cache is off or too small for it.
   */
  readonly cache: { readonly imageFeatures: "hit" | "miss"; readonly prefix: PrefixCacheUse };
}

/** How one question used the image-prefix KV cache. */
export type PrefixCacheUse = "hit" | "miss" | "off";

/** Counters of what the engine has run. */
export interface MolmoEngineStats {
  readonly visionRuns: number;
  readonly embedRuns: number;
  readonly prefillRuns: number;
  readonly stepRuns: number;
  readonly featureCache: FeatureCacheStats;
  readonly prefixCache: FeatureCacheStats;
}

/** What the feature cache keeps per image: enough to build the prompt without the pixels. */
interface ImageEntry {
  readonly features: FloatData;
  readonly nCrops: number;
  readonly imageTokens: Int32Array;
  readonly imageInputIdx: Int32Array;
  readonly imageSize: ImageSize;
}

/** An image read for a question: its cache key and a way to get its pixels. */
interface ImageInput {
  readonly key: string;
  decode(): Promise<LoadedImage>;
}

/** A loaded bundle, ready to answer questions. */
export class MolmoEngine {
  /** The execution provider the decoder runs on (the graphs normally share it). */
  readonly ep: ConcreteEp;
  /** Where each graph runs. */
  readonly eps: { readonly visionEncoder: ConcreteEp; readonly embedTokens: ConcreteEp; readonly decoder: ConcreteEp };
  readonly tokenizer: MolmoTokenizer;
  /** Milliseconds {@link load} took. */
  readonly loadMs: number;

  private readonly decoder: MolmoDecoder;
  private readonly cache: FeatureCache<ImageEntry>;
  private readonly prefixCache: PrefixCache;
  private readonly logger: Logger;
  private visionRuns = 0;
  private disposed = false;

  private constructor(
    readonly bundle: MolmoBundle,
    private readonly sessions: { readonly visionEncoder: EngineSession; readonly embedTokens: EngineSession; readonly decoder: EngineSession },
    options: { logger: Logger; featureCacheBytes: number; prefixCacheBytes: number; loadMs: number },
  ) {
    this.tokenizer = bundle.tokenizer;
    this.logger = options.logger;
    this.loadMs = options.loadMs;
    this.ep = sessions.decoder.ep;
    this.eps = { visionEncoder: sessions.visionEncoder.ep, embedTokens: sessions.embedTokens.ep, decoder: sessions.decoder.ep };
    this.decoder = new MolmoDecoder(sessions.embedTokens, sessions.decoder, bundle.manifest);
    this.cache = new FeatureCache<ImageEntry>({
      maxBytes: options.featureCacheBytes,
      sizeOf: (entry) => entry.features.byteLength + entry.imageTokens.byteLength + entry.imageInputIdx.byteLength,
    });
    const { manifest } = bundle;
    this.prefixCache = new PrefixCache(
      { cache: manifest.kvCache, numKvHeads: manifest.dims.numKvHeads, headDim: manifest.dims.headDim },
      options.prefixCacheBytes,
    );
  }

  /**
   * Loads a bundle and opens its graphs.
   *
   * @throws {BundleError} for a bundle that is missing files, damaged or inconsistent (see `loadBundle`),
   *   or whose graphs do not have the inputs and outputs its manifest lists (`config_mismatch`).
   * @throws {EngineError} `unknown_ep`, `ep_unavailable`, `corrupt_model` (a graph onnxruntime cannot
   *   read), `out_of_memory`, `session_failed`.
   */
  static async load(bundleDir: string, options: MolmoEngineOptions = {}): Promise<MolmoEngine> {
    const started = performance.now();
    const logger = options.logger ?? silentLogger;
    const bundle = await loadBundle(bundleDir, options.tokenizerPath !== undefined ? { tokenizerPath: options.tokenizerPath } : {});
    const prefixCacheBytes = options.prefixCacheBytes ?? DEFAULT_PREFIX_CACHE_BYTES;
    if (!Number.isSafeInteger(prefixCacheBytes) || prefixCacheBytes < 0) {
      throw new EngineError("invalid_option", `prefixCacheBytes must be a non-negative whole number of bytes, got ${prefixCacheBytes}.`);
    }
    const plan = await planExecutionProviders(options.ep ?? "auto", logger, options.environment ?? machineEpEnvironment);
    const common = {
      ep: plan,
      logger,
      ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.ortLogSeverity !== undefined ? { ortLogSeverity: options.ortLogSeverity } : {}),
    };
    const { graphs } = bundle.manifest;
    const opened: EngineSession[] = [];
    try {
      const open = async (path: string, graph: GraphManifest, label: string, deviceOutputs?: readonly string[], ep?: string) => {
        const session = await createSession(path, { ...common, ...(ep !== undefined ? { ep } : {}), label, ...(deviceOutputs !== undefined ? { deviceOutputs } : {}) });
        opened.push(session);
        checkSessionIo(session, graph);
        return session;
      };
      // The decoder first: it is the largest, and where a GPU provider matters most.
      const decoder = await open(bundle.graphPaths.decoder, graphs.decoder, "decoder", bundle.manifest.kvCache.outputs);
      // The embedding is a lookup of a few rows of a large table. On WebGPU every run that returns to the host
      // waits for the GPU queue: measured on an H200 (bench:engine-gpu), embedding one decode token took 3.6 ms
      // there against 0.05 ms on the CPU (the 1214-token prompt: 12 ms either way), and the table (1.09 GB for
      // Molmo-7B-D in fp16) would take GPU memory. So with the decoder on WebGPU the embedding runs on the CPU.
      const embedTokens = await open(bundle.graphPaths.embedTokens, graphs.embedTokens, "embed_tokens", undefined, decoder.ep === "webgpu" ? "cpu" : undefined);
      const visionEncoder = await open(bundle.graphPaths.visionEncoder, graphs.visionEncoder, "vision_encoder");
      const loadMs = performance.now() - started;
      logger.info(
        `Loaded ${bundleDir} (${bundle.manifest.variant}, ${bundle.manifest.dtype}, ${bundle.manifest.decoder.ops} decoder, ${(bundle.modelBytes / 1e6).toFixed(1)} MB) on ${decoder.ep} in ${Math.round(loadMs)} ms.`,
      );
      return new MolmoEngine(bundle, { visionEncoder, embedTokens, decoder }, {
        logger,
        featureCacheBytes: options.featureCacheBytes ?? DEFAULT_FEATURE_CACHE_BYTES,
        prefixCacheBytes: defaultPrefixCacheBytes(options.prefixCacheBytes, prefixCacheBytes, decoder.ep, bundle.manifest.decoder.ops, logger),
        loadMs,
      });
    } catch (error) {
      await Promise.all(opened.map((session) => session.dispose()));
      throw error;
    }
  }

  /**
   * Answers one question about one image.
   *
   * @throws {ImageLoadError} for an image that cannot be read or decoded (see its `code`).
   * @throws {PromptError} for an empty, overlong or malformed question or task, or a prompt that does not
   *   fit the model's context.
   * @throws {EngineError} `cancelled` when `signal` fires (name "AbortError"); `invalid_option` for bad
   *   generation options; `disposed`; run failures (`run_failed`, `out_of_memory`, `invalid_logits`).
   */
  async ask(request: AskRequest): Promise<AskResult> {
    this.assertUsable();
    const started = performance.now();
    const { signal } = request;
    const throwIfCancelled = () => {
      if (signal?.aborted === true) {
        throw cancelledError(signal, "question");
      }
    };
    throwIfCancelled();
    const { manifest } = this.bundle;
    // Options are checked before any work, so a bad one fails fast.
    const requested = resolveGenerationConfig({ ...request, stopTokenIds: request.stopTokenIds ?? [this.tokenizer.eosId] });
    const prompt = promptOf(request);

    const preprocessorConfig = this.preprocessorConfigFor(request.maxCrops);
    const image = await this.readImage(request.image, request.imageLimits, preprocessorConfig);
    const imageLoadStarted = performance.now() - started;
    let entry = this.cache.get(image.key);
    const hit = entry !== undefined;
    let imageLoadMs = imageLoadStarted;
    let preprocessMs = 0;
    let visionMs = 0;
    if (entry === undefined) {
      const encoded = await this.encodeImage(image, preprocessorConfig, signal);
      entry = encoded.entry;
      imageLoadMs += encoded.decodeMs;
      preprocessMs = encoded.preprocessMs;
      visionMs = encoded.visionMs;
      this.cache.set(image.key, entry);
    }
    throwIfCancelled();

    const embedStarted = performance.now();
    const prefix = this.answerPrefix(request.answerPrefix);
    const input = buildInputIds({
      tokenizer: this.tokenizer,
      imageTokens: entry.imageTokens,
      ...(request.history !== undefined && request.history.length > 0
        ? { messages: [...request.history, { role: "user" as const, text: prompt }] }
        : { prompt }),
      maxSequenceLength: manifest.dims.maxPositionEmbeddings,
      reserveTokens: 1 + prefix.ids.length,
    });
    const inputIds = concatIds(input.inputIds, prefix.ids);
    // The image prefix: BOS and the image tokens, identical for every question about this image.
    const prefixLength = input.textTokenOffset;
    const prefixUse = this.lookUpPrefix(image.key, inputIds, prefixLength);
    try {
      return await this.answer(request, { started, prompt, entry, hit, imageLoadMs, preprocessMs, visionMs, embedStarted, input, inputIds, prefix, prefixLength, prefixUse, requested });
    } finally {
      if (prefixUse.kind === "cached") {
        prefixUse.pinned.unpin();
      }
    }
  }

  /**
   * The prefix cache's part in one question: a pinned cached state, a key under which to store the one
   * this question computes, or nothing (cache off, or the prefix would not fit it).
   */
  private lookUpPrefix(
    imageKey: string,
    inputIds: Int32Array,
    prefixLength: number,
  ): { kind: "cached"; pinned: PinnedPrefix } | { kind: "compute"; key: string } | { kind: "off" } {
    if (prefixLength < 1 || prefixLength >= inputIds.length || !this.prefixCache.canHold(prefixLength)) {
      if (this.prefixCache.maxBytes > 0) {
        this.logger.debug(`Image-prefix cache skipped: the ${prefixLength}-position prefix does not fit its ${this.prefixCache.maxBytes}-byte budget.`);
      }
      return { kind: "off" };
    }
    const key = prefixCacheKey({
      featureKey: imageKey,
      prefixIds: inputIds.subarray(0, prefixLength),
      ep: this.sessions.decoder.ep,
      decoderOps: this.bundle.manifest.decoder.ops,
    });
    const pinned = this.prefixCache.acquire(key);
    return pinned !== undefined ? { kind: "cached", pinned } : { kind: "compute", key };
  }

  /** Embeds the prompt (or only its text after a cached prefix), generates and gathers the result. */
  private async answer(
    request: AskRequest,
    ctx: {
      started: number;
      prompt: string;
      entry: ImageEntry;
      hit: boolean;
      imageLoadMs: number;
      preprocessMs: number;
      visionMs: number;
      embedStarted: number;
      input: ReturnType<typeof buildInputIds>;
      inputIds: Int32Array;
      prefix: { ids: number[]; text: string };
      prefixLength: number;
      prefixUse: ReturnType<MolmoEngine["lookUpPrefix"]>;
      requested: GenerationConfig;
    },
  ): Promise<AskResult> {
    const { started, prompt, entry, hit, imageLoadMs, preprocessMs, visionMs, embedStarted, input, inputIds, prefix, prefixLength, prefixUse, requested } = ctx;
    const { signal } = request;
    const { manifest } = this.bundle;
    const length = inputIds.length;
    const cachedPrefix = prefixUse.kind === "cached";
    const embedTokensStarted = performance.now();
    // After a cached prefix only the text positions are embedded: the image features all sit in the prefix.
    const embeds = await this.decoder.embed(cachedPrefix ? inputIds.subarray(prefixLength) : inputIds, signal);
    const addFeaturesStarted = performance.now();
    if (!cachedPrefix) {
      addImageFeatures(embeds, entry.features, entry.imageInputIdx, {
        nCrops: entry.nCrops,
        tokensPerCrop: manifest.vision.tokensPerCrop,
        dModel: manifest.dims.dModel,
        sequenceLength: length,
        offset: input.imageTokenOffset,
      });
    }
    const embedDone = performance.now();
    const embedMs = embedDone - embedStarted;
    const embedParts: EmbedTimings = {
      inputIdsMs: embedTokensStarted - embedStarted,
      embedTokensMs: addFeaturesStarted - embedTokensStarted,
      addFeaturesMs: embedDone - addFeaturesStarted,
    };

    const room = manifest.dims.maxPositionEmbeddings - length;
    if (requested.maxNewTokens > room) {
      this.logger.warn(`Only ${room} of the ${requested.maxNewTokens} new tokens asked for fit in the model's ${manifest.dims.maxPositionEmbeddings}-position context after the ${length}-token prompt.`);
    }
    const config: GenerationConfig = { ...requested, maxNewTokens: Math.min(requested.maxNewTokens, room) };

    const points = createPointStream(entry.imageSize);
    const emitText = (delta: string) => {
      if (delta === "") {
        return;
      }
      request.onText?.(delta);
      const completed = points.push(delta);
      if (completed.length > 0) {
        request.onPoints?.(completed);
      }
    };
    emitText(prefix.text);
    const plan: PrefixPlan | undefined =
      prefixUse.kind === "cached"
        ? { kind: "cached", pinned: prefixUse.pinned }
        : prefixUse.kind === "compute"
          ? { kind: "compute", length: prefixLength, adopt: (state) => this.prefixCache.adopt(prefixUse.key, state) }
          : undefined;
    const generationStarted = performance.now();
    const result = await generate({
      model: this.decoder,
      inputs: {
        embeds,
        length: cachedPrefix ? length - prefixLength : length,
        ...(request.onPrefillLogits !== undefined ? { onLogits: request.onPrefillLogits } : {}),
        ...(plan !== undefined ? { prefix: plan } : {}),
      },
      config,
      streamer: tolerantStreamer(this.tokenizer),
      onStream: (event) => {
        if (event.type === "token") {
          request.onToken?.(event.tokenId, event.index);
        }
        emitText(event.text);
      },
      ...(signal !== undefined ? { signal } : {}),
      logger: this.logger,
    });
    const end = points.end();
    if (end.points.length > 0) {
      request.onPoints?.(end.points);
    }
    const totalMs = performance.now() - started;
    const timings: AskTimings = {
      imageLoadMs,
      preprocessMs,
      visionMs,
      embedMs,
      embedParts,
      prefillMs: result.timings.prefillMs,
      decodeMs: result.timings.decodeMs,
      timeToFirstTokenMs: generationStarted - started + result.timings.timeToFirstTokenMs,
      decodeTokensPerSecond: result.timings.decodeTokensPerSecond,
      totalMs,
    };
    this.logger.debug(`Answered in ${Math.round(totalMs)} ms (${result.tokenIds.length} tokens, image features ${hit ? "cached" : "computed"}, image prefix ${prefixUse.kind === "cached" ? "cached" : prefixUse.kind === "compute" ? "computed" : "not cached"}).`, { ...timings });
    return {
      text: prefix.text + result.text,
      tokenIds: result.tokenIds,
      stopReason: result.stopReason,
      points: end.result.points,
      count: end.result.count,
      parsed: end.result,
      imageSize: entry.imageSize,
      prompt,
      inputIds,
      generation: result.config,
      timings,
      ep: this.ep,
      cache: { imageFeatures: hit ? "hit" : "miss", prefix: prefixUse.kind === "cached" ? "hit" : prefixUse.kind === "compute" ? "miss" : "off" },
    };
  }

  /**
   * The ids and text of an answer prefix. Answers begin with a space (the first generated token carries
   * it), so a prefix without one gets one, and it is tokenized as the model would have produced it.
   */
  private answerPrefix(prefix: string | undefined): { ids: number[]; text: string } {
    if (prefix === undefined || prefix.trim() === "") {
      return { ids: [], text: "" };
    }
    const text = /^\s/.test(prefix) ? prefix : ` ${prefix}`;
    const ids = this.tokenizer.encode(text);
    const reserved = ids.find((id) => this.tokenizer.isSpecialId(id));
    if (reserved !== undefined) {
      throw new PromptError("reserved_token", `The answer prefix contains ${JSON.stringify(this.tokenizer.idToToken(reserved) ?? String(reserved))}, a special token of the model; remove it.`);
    }
    return { ids, text: this.tokenizer.decode(ids, { skipSpecialTokens: true }) };
  }

  /** Counters of the runs so far and of the feature cache. */
  stats(): MolmoEngineStats {
    return { visionRuns: this.visionRuns, ...this.decoder.runCounts(), featureCache: this.cache.stats(), prefixCache: this.prefixCache.stats() };
  }

  /** Forgets every cached image and image prefix (prefixes in use are released when their question ends). */
  clearCache(): void {
    this.cache.clear();
    this.prefixCache.clear();
  }

  /** Releases the sessions (waiting for runs in flight). Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    this.cache.clear();
    this.prefixCache.clear();
    await Promise.all([this.sessions.visionEncoder.dispose(), this.sessions.embedTokens.dispose(), this.sessions.decoder.dispose()]);
  }

  private assertUsable(): void {
    if (this.disposed) {
      throw new EngineError("disposed", "This Molmo engine was disposed; load the bundle again to ask questions.");
    }
  }

  /** The bundle's preprocessing, with a request's crop limit applied. */
  private preprocessorConfigFor(maxCrops: number | undefined): MolmoPreprocessorConfig {
    const config = this.bundle.preprocessorConfig;
    if (maxCrops === undefined || maxCrops === config.maxCrops) {
      return config;
    }
    try {
      return validatePreprocessorConfig({ ...config, maxCrops });
    } catch (error) {
      throw new EngineError("invalid_option", `maxCrops: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** Reads the image's bytes (or takes decoded pixels) and computes its cache key, without decoding yet. */
  private async readImage(source: ImageSource | LoadedImage, limits: LoadImageOptions | undefined, config: MolmoPreprocessorConfig): Promise<ImageInput> {
    const preprocessing = { config, tokens: this.tokenizer.imageTokens };
    if (isLoadedImage(source)) {
      const hash = createHash("sha256").update(`rgb:${source.width}x${source.height}:`).update(source.data).digest("hex");
      return { key: featureCacheKey({ imageHash: hash, preprocessing, modelId: this.bundle.id }), decode: () => Promise.resolve(source) };
    }
    const { bytes, name } = await readImageSource(source, limits?.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES);
    return {
      key: featureCacheKey({ imageHash: hashImageContent(bytes), preprocessing, modelId: this.bundle.id }),
      decode: () => loadImage({ bytes, name }, limits),
    };
  }

  /** Decodes, preprocesses and runs the vision encoder on all crops in one batch. */
  private async encodeImage(
    image: ImageInput,
    config: MolmoPreprocessorConfig,
    signal: AbortSignal | undefined,
  ): Promise<{ entry: ImageEntry; decodeMs: number; preprocessMs: number; visionMs: number }> {
    const decodeStarted = performance.now();
    const pixels = await image.decode();
    const preprocessStarted = performance.now();
    const pre = await preprocessImage(pixels, config, this.tokenizer.imageTokens);
    const visionStarted = performance.now();
    const { visionEncoder } = this.sessions;
    const { vision, dims } = this.bundle.manifest;
    if (pre.patchesPerCrop !== vision.patchesPerCrop || pre.pixelsPerPatch !== vision.patchDim) {
      throw new BundleError(
        "config_mismatch",
        `The preprocessor made crops of ${pre.patchesPerCrop} x ${pre.pixelsPerPatch} values but the vision encoder takes ${vision.patchesPerCrop} x ${vision.patchDim}.`,
      );
    }
    const outputs = await visionEncoder.run(
      {
        crops: createTensor("float32", pre.crops, [pre.nCrops, pre.patchesPerCrop, pre.pixelsPerPatch]),
        image_masks: createTensor("float32", pre.imageMasks, [pre.nCrops, pre.patchesPerCrop]),
      },
      { ...(signal !== undefined ? { signal } : {}) },
    );
    this.visionRuns++;
    const tensor = outputs.image_features;
    if (tensor === undefined) {
      throw new EngineError("run_failed", "The vision encoder returned no image_features output.");
    }
    const features = readTensorData(tensor);
    const expected = pre.nCrops * vision.tokensPerCrop * dims.dModel;
    if (!(features instanceof Float32Array || features instanceof Uint16Array) || features.length !== expected) {
      throw new EngineError(
        "run_failed",
        `The vision encoder returned ${tensor.type} [${tensor.dims.join(", ")}], expected [${pre.nCrops}, ${vision.tokensPerCrop}, ${dims.dModel}].`,
      );
    }
    const done = performance.now();
    return {
      entry: {
        features,
        nCrops: pre.nCrops,
        imageTokens: pre.imageTokens,
        imageInputIdx: pre.imageInputIdx,
        imageSize: { width: pixels.width, height: pixels.height },
      },
      decodeMs: preprocessStarted - decodeStarted,
      preprocessMs: visionStarted - preprocessStarted,
      visionMs: done - visionStarted,
    };
  }
}

/** The user text of a request: its task's prompt, or its question as an `ask` task (checked the same way). */
function promptOf(request: AskRequest): string {
  if ((request.task === undefined) === (request.prompt === undefined)) {
    throw new PromptError("invalid_task", "Ask with either a prompt (the question) or a task, not both and not neither.");
  }
  return request.task !== undefined ? buildPrompt(request.task) : buildPrompt({ kind: "ask", question: request.prompt as string });
}

function concatIds(a: Int32Array, b: readonly number[]): Int32Array {
  if (b.length === 0) {
    return a;
  }
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Whether `value` is a decoded image rather than a source to read. */
function isLoadedImage(value: ImageSource | LoadedImage): value is LoadedImage {
  return typeof value === "object" && !(value instanceof Uint8Array) && "data" in value && "width" in value && "height" in value;
}

/**
 * The tokenizer's streamer, except that ids the tokenizer does not know (the padding rows of the
 * embedding matrix between the tokenizer's vocabulary and the model's, which a random or badly tuned
 * model can emit) decode to nothing, as Hugging Face's decode skips them, instead of failing the answer.
 */
function tolerantStreamer(tokenizer: MolmoTokenizer): TokenTextStreamer {
  const inner = tokenizer.createTextStreamer();
  return {
    push: (id) => (tokenizer.idToToken(id) === undefined ? "" : inner.push(id)),
    flush: () => inner.flush(),
  };
}

/** The opened graph must take and give what the manifest says, or the engine would feed it wrongly. */
function checkSessionIo(session: EngineSession, graph: GraphManifest): void {
  const expectedInputs = graph.inputs.map((t) => t.name).sort();
  const expectedOutputs = graph.outputs.map((t) => t.name).sort();
  const inputs = [...session.inputNames].sort();
  const outputs = [...session.outputNames].sort();
  if (expectedInputs.join() !== inputs.join() || expectedOutputs.join() !== outputs.join()) {
    throw new BundleError(
      "config_mismatch",
      `${session.modelPath} takes ${inputs.join(", ")} and gives ${outputs.join(", ")}, but the bundle's config.json lists ` +
        `${expectedInputs.join(", ")} and ${expectedOutputs.join(", ")}: the graph file does not belong to this bundle.`,
    );
  }
}

/**
 * The prefix cache's budget for this engine. Reusing a prefix runs the decoder on several tokens after a
 * non-empty past; the tests check that on the CPU for both decoder kinds, and the plain decoder is ordinary
 * ONNX operators on every provider. WebGPU's GroupQueryAttention kernel has not been checked on that case
 * (no GPU run since), so on WebGPU with the fused decoder the cache is off unless the caller sized it.
 */
function defaultPrefixCacheBytes(requested: number | undefined, resolved: number, ep: string, decoderOps: string, logger: Logger): number {
  if (requested === undefined && ep === "webgpu" && decoderOps === "fused") {
    logger.info("The prefix cache is off on WebGPU with the fused decoder until its GroupQueryAttention is verified there on a prompt after a cached prefix; pass prefixCacheBytes to turn it on.");
    return 0;
  }
  return resolved;
}
