/**
 * `npm run bench:engine-cpu` — the TypeScript engine on the CPU against PyTorch eager, same model, same
 * inputs, same machine, one run.
 *
 * The model: Molmo-7B-D-0924's real widths (decoder d_model 3584, 28 query / 4 KV heads of 128, SwiGLU
 * 2 x 18944, vocabulary 152064 + 128; the released CLIP ViT-L/14 with its 2x2 pooling and projector) with
 * random weights and few blocks (`--layers`, default 2 of 28; `--vit-layers`, default all 23). The
 * Python side (engine_cpu_reference.py `prepare`) writes it once as a Hugging Face checkpoint and exports
 * it to an fp32 bundle with the project's exporter; both are cached under `--cache`, keyed by the settings.
 *
 * The inputs: a synthetic screenshot (`--image WxH`, default 1920x1080) and a question, preprocessed here
 * by the engine's own pipeline (loadImage, preprocessImage, buildInputIds) and written to disk, so PyTorch
 * gets exactly the tensors the engine computes for itself (checked: the engine's input ids must hash alike).
 *
 * Each side is a child process of its own, loaded once: PyTorch eager (engine_cpu_reference.py `serve`:
 * vision encoder, prefill, greedy decode with the KV cache) and the engine (this file with
 * `--engine-child`: `MolmoEngine.load` on the `cpu` EP, then `ask`, greedy, no stop token, the feature
 * cache off so every question encodes the image). Their runs alternate (PyTorch, engine, engine, PyTorch,
 * ...), so that both meet the same machine conditions, and only one side computes at a time. Both use
 * `--threads` threads (default: all cores). Each phase reports its best run (a shared machine only ever
 * slows a run down), the decode step the median over all steps of all runs.
 *
 * Prints the settings, both sides' figures and the ratios, the 28-layer extrapolation, each process's
 * resident memory against the bundle's size on disk, and one JSON line with everything. A benchmark, not
 * a test: it asserts nothing about time; it fails only if the two sides did not get the same inputs.
 *
 *   npm run bench:engine-cpu -- [--layers 2] [--vit-layers 23] [--image 1920x1080] [--new-tokens 16]
 *     [--runs 2] [--threads N] [--cache DIR] [--fresh] [--torch-blas auto|system] [--preset 7b-d|tiny] [--skip-torch]
 */
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { ORT_VERSION } from "../../models/engine/backend";
import { MolmoEngine } from "../../models/engine/molmo-engine";
import { molmoTokenizerJsonPath } from "../helpers/molmo-tokenizer-fixture";
import { makeScreenshot, median, sha256, writeInputs } from "./bench-inputs";
import { repoRoot } from "../helpers/repo-root";

/** Molmo-7B-D's decoder depth, the target of the extrapolation. */
const FULL_LAYERS = 28;
const QUESTION = "What is shown in this screenshot? Describe every window and button.";
/** Debian's OpenBLAS (package libopenblas0-openmp). Debian's torch otherwise runs on the reference BLAS. */
const OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

interface Settings {
  readonly preset: "7b-d" | "tiny";
  readonly layers: number;
  readonly vitLayers: number;
  readonly width: number;
  readonly height: number;
  readonly newTokens: number;
  readonly runs: number;
  readonly threads: number;
  readonly cache: string;
  readonly torchBlas: "auto" | "system";
  readonly skipTorch: boolean;
  readonly fresh: boolean;
}

/** What engine_cpu_reference.py `prepare` prints. */
interface PrepareRecord {
  readonly checkpoint: string;
  readonly bundle: string;
  readonly parameters: number;
  readonly checkpoint_s: number;
  readonly export_s: number;
  readonly export_peak_rss_bytes: number;
  readonly checkpoint_peak_rss_bytes: number;
  readonly cached: boolean;
  readonly exporter_changed: boolean;
}

/** One question on either side, in the bench's own terms. */
interface RunRecord {
  readonly visionMs: number;
  readonly embedMs: number;
  readonly prefillMs: number;
  /** From the preprocessed tensors to the first token: vision + embed + prefill. */
  readonly ttftFromTensorsMs: number;
  /** Decode steps: one token's embedding, decoder run and choice each. */
  readonly stepMs: number[];
  readonly tokens: number[];
  /** Engine only: the `ask` call's own figures, which start from the image file. */
  readonly imageLoadMs?: number;
  readonly preprocessMs?: number;
  readonly ttftFromFileMs?: number;
  readonly inputIdsSha256?: string;
}

/** What a side says once loaded, and at the end. */
interface SideInfo {
  readonly runtime: string;
  readonly threads: number;
  readonly details: string;
  readonly loadMs: number;
  readonly rssLoadedBytes: number;
  peakRssBytes?: number;
  medianLayerMs?: number | null;
  medianHeadMs?: number | null;
}

/** A side's runs summarised: the best run of each phase, the median decode step over all runs. */
interface SideSummary {
  readonly info: SideInfo;
  readonly runs: RunRecord[];
  readonly visionMs: number;
  readonly embedMs: number;
  readonly prefillMs: number;
  readonly ttftFromTensorsMs: number;
  readonly medianStepMs: number;
  readonly sameTokensEveryRun: boolean;
}

function summarise(info: SideInfo, runs: RunRecord[]): SideSummary {
  const best = (key: "visionMs" | "embedMs" | "prefillMs" | "ttftFromTensorsMs"): number => Math.min(...runs.map((run) => run[key]));
  return {
    info,
    runs,
    visionMs: best("visionMs"),
    embedMs: best("embedMs"),
    prefillMs: best("prefillMs"),
    ttftFromTensorsMs: best("ttftFromTensorsMs"),
    medianStepMs: median(runs.flatMap((run) => run.stepMs)),
    sameTokensEveryRun: runs.every((run) => run.tokens.join() === runs[0].tokens.join()),
  };
}

/** Debian's python3 has torch; a pyenv python3 earlier on PATH may not. */
function python3(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

function referenceScript(): string {
  return join(repoRoot(), "tests", "bench", "engine_cpu_reference.py");
}

/**
 * The environment of the Python children: `threads` OpenMP threads (this Debian torch build starts with one,
 * and `torch.set_num_threads` alone does not widen its pool), and OpenBLAS instead of the reference BLAS that
 * Debian's torch is linked with by default, when `--torch-blas auto` and libopenblas0-openmp is installed
 * (the reference BLAS multiplies at ~2 GFLOP/s here, OpenBLAS at ~190). The export runs with it too:
 * tracing runs the model once, which takes minutes on the reference BLAS.
 */
function torchEnv(settings: Settings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(settings.threads), OPENBLAS_NUM_THREADS: String(settings.threads) };
  if (settings.torchBlas === "auto" && existsSync(join(OPENBLAS_DIR, "libblas.so.3"))) {
    env.LD_LIBRARY_PATH = [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  }
  return env;
}

/** Runs a child to completion, its stderr shown live; returns the JSON object on the last line of its stdout. */
function runJsonChild<T>(command: string, args: string[], env: NodeJS.ProcessEnv): T {
  const result = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${String(result.status)}, signal ${String(result.signal)}`})`);
  }
  return JSON.parse(result.stdout.trim().split("\n").pop() ?? "") as T;
}

/**
 * A side as a child process that answers line by line: it prints `{"ready": …}` once loaded, one
 * `{"run": …}` per `run` line it reads, and `{"end": …}` after `end`. Its stderr is shown live.
 */
class ServedSide {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"], env });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** The next message, which must be of `kind`. */
  async next(kind: "ready" | "run" | "end"): Promise<Record<string, unknown>> {
    for (;;) {
      const line = await this.lines.next();
      if (line.done === true) {
        throw new Error(`${this.name} ended before its "${kind}" message (exit ${String(this.child.exitCode)})`);
      }
      if (!line.value.startsWith("{")) {
        process.stderr.write(`${this.name}: ${line.value}\n`);
        continue;
      }
      const message = JSON.parse(line.value) as Record<string, unknown>;
      const body = message[kind];
      if (body === undefined) {
        throw new Error(`${this.name} sent ${line.value.slice(0, 200)} where "${kind}" was expected`);
      }
      return body as Record<string, unknown>;
    }
  }

  async run(): Promise<Record<string, unknown>> {
    this.child.stdin.write("run\n");
    return this.next("run");
  }

  async end(): Promise<Record<string, unknown>> {
    this.child.stdin.end("end\n");
    const last = await this.next("end");
    await new Promise((resolve) => (this.child.exitCode !== null ? resolve(undefined) : this.child.once("exit", resolve)));
    return last;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

/** A deterministic pseudo-random generator, so every run benchmarks the same pixels. */
// ------------------------------------------------------------------------------------------------
// The two sides

function startTorch(settings: Settings, checkpoint: string, inputsDir: string): ServedSide {
  const args = [referenceScript(), "serve", "--checkpoint", checkpoint, "--inputs", inputsDir, "--new-tokens", String(settings.newTokens), "--threads", String(settings.threads)];
  return new ServedSide("PyTorch", python3(), args, torchEnv(settings));
}

function torchInfo(ready: Record<string, unknown>): SideInfo {
  return {
    runtime: `PyTorch ${String(ready.torch_version)} eager`,
    threads: ready.threads as number,
    details: `BLAS ${String(ready.blas)}`,
    loadMs: ready.load_ms as number,
    rssLoadedBytes: ready.rss_loaded_bytes as number,
  };
}

function torchRun(run: Record<string, unknown>): RunRecord {
  return {
    visionMs: run.vision_ms as number,
    embedMs: run.embed_ms as number,
    prefillMs: run.prefill_ms as number,
    ttftFromTensorsMs: run.time_to_first_token_ms as number,
    stepMs: run.step_ms as number[],
    tokens: run.tokens as number[],
  };
}

function startEngine(settings: Settings, bundleDir: string, tokenizerPath: string, imagePath: string): ServedSide {
  const spec = JSON.stringify({ bundleDir, tokenizerPath, imagePath, newTokens: settings.newTokens, threads: settings.threads });
  return new ServedSide("engine", process.execPath, [__filename, "--engine-child", spec], process.env);
}

function say(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Body of the engine child: load, then one `ask` per `run` line (see {@link ServedSide}). */
async function engineChild(spec: string): Promise<void> {
  const { bundleDir, tokenizerPath, imagePath, newTokens, threads } = JSON.parse(spec) as {
    bundleDir: string;
    tokenizerPath: string;
    imagePath: string;
    newTokens: number;
    threads: number;
  };
  const engine = await MolmoEngine.load(bundleDir, { ep: "cpu", tokenizerPath, intraOpNumThreads: threads, featureCacheBytes: 0 });
  const decoderInputs = engine.bundle.manifest.graphs.decoder.inputs.map((t) => t.name).filter((name) => !name.startsWith("past_key_values"));
  const info: SideInfo = {
    runtime: `onnxruntime-node ${ORT_VERSION} (${engine.ep} EP)`,
    threads,
    details: `decoder inputs ${decoderInputs.join(", ")} + past_key_values.*`,
    loadMs: engine.loadMs,
    rssLoadedBytes: process.memoryUsage.rss(),
  };
  say({ ready: info });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "end") break;
    const tokenTimes: number[] = [];
    const result = await engine.ask({ image: imagePath, prompt: QUESTION, maxNewTokens: newTokens, stopTokenIds: [], onToken: () => tokenTimes.push(performance.now()) });
    const t = result.timings;
    const run: RunRecord = {
      visionMs: t.visionMs,
      embedMs: t.embedMs,
      prefillMs: t.prefillMs,
      ttftFromTensorsMs: t.visionMs + t.embedMs + t.prefillMs,
      // Between consecutive tokens: one embed + decoder run + token choice, like a PyTorch step.
      stepMs: tokenTimes.slice(1).map((time, i) => time - tokenTimes[i]),
      tokens: result.tokenIds,
      imageLoadMs: t.imageLoadMs,
      preprocessMs: t.preprocessMs,
      ttftFromFileMs: t.timeToFirstTokenMs,
      inputIdsSha256: sha256(result.inputIds),
    };
    say({ run });
  }
  await engine.dispose();
  say({ end: { peakRssBytes: process.resourceUsage().maxRSS * 1024 } });
}

/**
 * Loads the sides one after the other (loading is disk- and memory-heavy), then alternates their runs
 * (A B B A A B …) and ends them. Both stay loaded meanwhile, so the machine must hold both models.
 */
async function measure(settings: Settings, prepared: PrepareRecord, tokenizerPath: string, imagePath: string, inputsDir: string): Promise<{ torch?: SideSummary; engine: SideSummary }> {
  const sides: ServedSide[] = [];
  try {
    const torch = settings.skipTorch ? undefined : startTorch(settings, prepared.checkpoint, inputsDir);
    if (torch) sides.push(torch);
    const torchReady = torch ? torchInfo(await torch.next("ready")) : undefined;
    const engine = startEngine(settings, prepared.bundle, tokenizerPath, imagePath);
    sides.push(engine);
    const engineInfo = (await engine.next("ready")) as unknown as SideInfo;
    const torchRuns: RunRecord[] = [];
    const engineRuns: RunRecord[] = [];
    for (let i = 0; i < settings.runs; i++) {
      const order = i % 2 === 0 ? ["torch", "engine"] : ["engine", "torch"];
      for (const side of order) {
        if (side === "torch" && torch) torchRuns.push(torchRun(await torch.run()));
        if (side === "engine") engineRuns.push((await engine.run()) as unknown as RunRecord);
      }
      process.stderr.write(`run ${i + 1} of ${settings.runs} done\n`);
    }
    const engineEnd = await engine.end();
    engineInfo.peakRssBytes = engineEnd.peakRssBytes as number;
    let torchSummary: SideSummary | undefined;
    if (torch && torchReady) {
      const end = await torch.end();
      torchReady.peakRssBytes = end.peak_rss_bytes as number;
      torchReady.medianLayerMs = end.median_layer_ms as number | null;
      torchReady.medianHeadMs = end.median_head_ms as number | null;
      torchSummary = summarise(torchReady, torchRuns);
    }
    return { ...(torchSummary ? { torch: torchSummary } : {}), engine: summarise(engineInfo, engineRuns) };
  } finally {
    sides.forEach((side) => side.kill());
  }
}

// ------------------------------------------------------------------------------------------------
// Report

/**
 * Bytes a decode step must read, from the config: each decoder block's weights, and the fixed part (the LM
 * head and the final norm; one embedding row is negligible). At batch 1 a step is bound by reading them,
 * which gives the extrapolation t(28) = t(n) x (fixed + 28 x block) / (fixed + n x block).
 */
function decodeBytes(preset: Settings["preset"]): { block: number; fixed: number } {
  const dims =
    preset === "7b-d" ? { d: 3584, heads: 28, kv: 4, head: 128, ff: 37888, vocab: 152064 } : { d: 16, heads: 4, kv: 2, head: 4, ff: 64, vocab: 152064 };
  const qkvWidth = (dims.heads + 2 * dims.kv) * dims.head;
  const block = dims.d * qkvWidth + qkvWidth + dims.d * dims.d + dims.d * dims.ff + (dims.ff / 2) * dims.d + 2 * dims.d;
  const fixed = dims.d * dims.vocab + dims.d;
  return { block: block * 4, fixed: fixed * 4 };
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

const gb = (bytes: number | undefined): string => (bytes === undefined ? "-" : `${(bytes / 1e9).toFixed(2)} GB`);
const ms = (value: number | undefined): string => (value === undefined ? "-" : `${value.toFixed(0)} ms`);
const tokPerS = (stepMs: number | undefined, factor = 1): string => (stepMs === undefined ? "-" : `${(1000 / (stepMs * factor)).toFixed(2)} tok/s`);
/** How many times faster the engine is (PyTorch time / engine time). */
const speedUp = (torchMs: number | undefined, engineMs: number): string => (torchMs === undefined ? "-" : `${(torchMs / engineMs).toFixed(2)}x`);

function report(settings: Settings, prepared: PrepareRecord, bundleBytes: number, inputs: { length: number; nCrops: number }, torch: SideSummary | undefined, engine: SideSummary): void {
  const { block, fixed } = decodeBytes(settings.preset);
  // The prefill is one pass of every decoder block over the prompt (the LM head only sees the last
  // position), so it grows in proportion to the depth; the vision encoder and embedding do not change.
  const ttftFull = (side: SideSummary | undefined): number | undefined =>
    side === undefined ? undefined : side.visionMs + side.embedMs + (side.prefillMs * FULL_LAYERS) / settings.layers;
  const scale = (fixed + FULL_LAYERS * block) / (fixed + settings.layers * block);
  const fromFile = engine.runs.map((run) => run.ttftFromFileMs ?? 0);
  const bestFromFile = engine.runs[fromFile.indexOf(Math.min(...fromFile))];
  const rows: [string, string, string, string][] = [
    ["", "PyTorch eager", "TS engine (ORT cpu)", "engine speed-up"],
    ["vision encoder", ms(torch?.visionMs), ms(engine.visionMs), speedUp(torch?.visionMs, engine.visionMs)],
    ["embed + image features", ms(torch?.embedMs), ms(engine.embedMs), speedUp(torch?.embedMs, engine.embedMs)],
    ["prefill", ms(torch?.prefillMs), ms(engine.prefillMs), speedUp(torch?.prefillMs, engine.prefillMs)],
    ["time to first token (from tensors)", ms(torch?.ttftFromTensorsMs), ms(engine.ttftFromTensorsMs), speedUp(torch?.ttftFromTensorsMs, engine.ttftFromTensorsMs)],
    [`  the same, ${FULL_LAYERS} layers (extrapolated)`, ms(ttftFull(torch)), ms(ttftFull(engine)), speedUp(ttftFull(torch), ttftFull(engine) ?? 1)],
    [
      "time to first token (from the PNG)",
      "-",
      `${ms(bestFromFile.ttftFromFileMs)} (decode ${ms(bestFromFile.imageLoadMs)}, preprocess ${ms(bestFromFile.preprocessMs)})`,
      "",
    ],
    ["decode step (median)", ms(torch?.medianStepMs), ms(engine.medianStepMs), speedUp(torch?.medianStepMs, engine.medianStepMs)],
    [`decode, ${settings.layers} layers`, tokPerS(torch?.medianStepMs), tokPerS(engine.medianStepMs), speedUp(torch?.medianStepMs, engine.medianStepMs)],
    [`decode, ${FULL_LAYERS} layers (extrapolated)`, tokPerS(torch?.medianStepMs, scale), tokPerS(engine.medianStepMs, scale), ""],
    ["load", ms(torch?.info.loadMs), ms(engine.info.loadMs), ""],
    ["RSS with the model loaded", gb(torch?.info.rssLoadedBytes), gb(engine.info.rssLoadedBytes), ""],
    ["peak RSS", gb(torch?.info.peakRssBytes), gb(engine.info.peakRssBytes), ""],
    [
      `peak RSS / bundle (${gb(bundleBytes)})`,
      torch?.info.peakRssBytes ? `${(torch.info.peakRssBytes / bundleBytes).toFixed(2)}x` : "-",
      engine.info.peakRssBytes ? `${(engine.info.peakRssBytes / bundleBytes).toFixed(2)}x` : "-",
      "",
    ],
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
  console.log("");
  for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  console.log("");
  for (const side of [torch, engine]) {
    if (side) console.log(`${side.info.runtime}: ${side.info.threads} threads; ${side.info.details}`);
  }
  if (torch?.info.medianLayerMs && torch.info.medianHeadMs) {
    const split = torch.medianStepMs + (FULL_LAYERS - settings.layers) * torch.info.medianLayerMs;
    console.log(
      `PyTorch decode step, measured with hooks: ${torch.info.medianLayerMs.toFixed(1)} ms per decoder block, LM head ${torch.info.medianHeadMs.toFixed(1)} ms; ` +
        `its 28-layer step from that split is ${split.toFixed(0)} ms, from the bytes formula ${(torch.medianStepMs * scale).toFixed(0)} ms`,
    );
  }
  console.log(
    `extrapolation: t(${FULL_LAYERS}) = t(${settings.layers}) x (H + ${FULL_LAYERS} B) / (H + ${settings.layers} B) = t x ${scale.toFixed(2)}, with B = ${gb(block)} ` +
      `of weights per decoder block and H = ${gb(fixed)} for the LM head (batch-1 decoding reads every weight once per token); ` +
      `time to first token: vision + embed + prefill x ${FULL_LAYERS} / ${settings.layers}`,
  );
  if (torch) {
    const same = torch.runs[0].tokens.filter((t, i) => engine.runs[0].tokens[i] === t).length;
    console.log(
      `greedy tokens: ${same} of ${torch.runs[0].tokens.length} equal on both sides; the same every run: PyTorch ${String(torch.sameTokensEveryRun)}, engine ${String(engine.sameTokensEveryRun)}`,
    );
  }
  console.log(`inputs: ${inputs.nCrops} crops, ${inputs.length} tokens; ${settings.runs} run(s) a side, alternating; best run per phase, median over all decode steps`);
  // Other work on the machine slows one side or the other; the load average says whether there was any.
  console.log(`load average at the end (1, 5, 15 min): ${loadavg().map((x) => x.toFixed(2)).join(", ")} on ${cpus().length} cores (this bench alone keeps it near ${settings.threads})`);
  console.log(JSON.stringify({ settings, inputs, bundleBytes, prepared, torch, engine, extrapolationScale: scale }));
}

// ------------------------------------------------------------------------------------------------

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      preset: { type: "string", default: "7b-d" },
      layers: { type: "string", default: "2" },
      "vit-layers": { type: "string" },
      image: { type: "string", default: "1920x1080" },
      "new-tokens": { type: "string", default: "16" },
      runs: { type: "string", default: "2" },
      threads: { type: "string", default: String(cpus().length) },
      cache: { type: "string", default: join(tmpdir(), "molmo-bench-engine-cpu") },
      "torch-blas": { type: "string", default: "auto" },
      "skip-torch": { type: "boolean", default: false },
      fresh: { type: "boolean", default: false },
    },
  });
  if (values.preset !== "7b-d" && values.preset !== "tiny") throw new Error(`--preset must be 7b-d or tiny, got ${String(values.preset)}`);
  if (values["torch-blas"] !== "auto" && values["torch-blas"] !== "system") throw new Error(`--torch-blas must be auto or system, got ${String(values["torch-blas"])}`);
  const size = /^(\d+)x(\d+)$/.exec(values.image ?? "");
  if (size === null) throw new Error(`--image must be WIDTHxHEIGHT, got ${String(values.image)}`);
  const settings: Settings = {
    preset: values.preset,
    layers: Number(values.layers),
    vitLayers: Number(values["vit-layers"] ?? (values.preset === "tiny" ? 9 : 23)),
    width: Number(size[1]),
    height: Number(size[2]),
    newTokens: Number(values["new-tokens"]),
    runs: Number(values.runs),
    threads: Number(values.threads),
    cache: values.cache ?? join(tmpdir(), "molmo-bench-engine-cpu"),
    torchBlas: values["torch-blas"],
    skipTorch: values["skip-torch"] ?? false,
    fresh: values.fresh ?? false,
  };
  const counts = { layers: settings.layers, "vit-layers": settings.vitLayers, "new-tokens": settings.newTokens, runs: settings.runs, threads: settings.threads };
  for (const [name, value] of Object.entries(counts)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${String(value)}`);
  }
  if (settings.newTokens < 2) throw new Error("--new-tokens must be at least 2 (the prefill's token and one decode step)");
  if (settings.vitLayers < 9) throw new Error("--vit-layers must be at least 9: Molmo reads ViT blocks -2 and -9");
  return settings;
}

async function main(): Promise<void> {
  const settings = parseSettings();
  const tokenizerPath = molmoTokenizerJsonPath();
  mkdirSync(settings.cache, { recursive: true });
  console.log(
    `engine CPU benchmark: ${cpus().length} x ${cpus()[0]?.model ?? "CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ` +
      `preset ${settings.preset}, ${settings.layers} decoder / ${settings.vitLayers} ViT layers, image ${settings.width}x${settings.height}, ` +
      `${settings.newTokens} new tokens, ${settings.runs} run(s) a side, ${settings.threads} threads`,
  );
  const prepareArgs = [referenceScript(), "prepare", "--cache", settings.cache, "--preset", settings.preset, "--layers", String(settings.layers),
    "--vit-layers", String(settings.vitLayers), "--tokenizer", tokenizerPath, ...(settings.fresh ? ["--fresh"] : [])];
  if (!settings.skipTorch && settings.torchBlas === "auto" && !existsSync(join(OPENBLAS_DIR, "libblas.so.3"))) {
    console.log(`warning: ${OPENBLAS_DIR} is missing, so PyTorch runs on the BLAS it is linked with (Debian: the slow reference BLAS); apt-get install libopenblas0-openmp`);
  }
  const prepared = runJsonChild<PrepareRecord>(python3(), prepareArgs, torchEnv(settings));
  const bundleBytes = folderBytes(prepared.bundle);
  if (prepared.exporter_changed) {
    console.log("warning: the exporter's sources changed since this bundle was made; pass --fresh to export it again (minutes)");
  }
  console.log(
    `model: ${(prepared.parameters / 1e9).toFixed(2)} B parameters, fp32 bundle of ${gb(bundleBytes)} at ${prepared.bundle} ` +
      `(${prepared.cached ? "cached" : "made now"}: checkpoint ${prepared.checkpoint_s.toFixed(0)} s, export ${prepared.export_s.toFixed(0)} s with a peak RSS of ${gb(prepared.export_peak_rss_bytes)})`,
  );

  const work = mkdtempSync(join(tmpdir(), "molmo-bench-engine-cpu-run-"));
  try {
    const imagePath = join(work, `screenshot-${settings.width}x${settings.height}.png`);
    await makeScreenshot(imagePath, settings.width, settings.height);
    const inputs = await writeInputs(prepared.bundle, tokenizerPath, imagePath, work, QUESTION);
    console.log(`inputs: ${inputs.nCrops} crops, ${inputs.length} tokens (input_ids sha256 ${inputs.sha256.slice(0, 12)})`);
    const { torch, engine } = await measure(settings, prepared, tokenizerPath, imagePath, work);
    if (engine.runs.some((run) => run.inputIdsSha256 !== inputs.sha256)) {
      throw new Error("the engine's input_ids differ from those written for PyTorch: the two sides did not run the same inputs");
    }
    report(settings, prepared, bundleBytes, inputs, torch, engine);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--engine-child") {
  engineChild(process.argv[3] ?? "{}").catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
