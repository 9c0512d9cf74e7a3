/**
 * `npx tsc -p . && node dist/tests/bench/engine-prefix-cache.bench.js` — what the
 * image-prefix KV cache saves on a follow-up question about the same screenshot, on the CPU.
 *
 * The model: the bundle of `bench:engine-cpu` (Molmo-7B-D's real widths, random weights, `--layers` of the 28
 * decoder blocks, made and cached by engine_cpu_reference.py `prepare` under the same `--cache`, so one bundle
 * serves both benches). The image: a synthetic UI screenshot (`--image`, default 1920x1080).
 *
 * Two engines in turn, one process, the CPU provider: feature cache only (`prefixCacheBytes: 0`) and feature +
 * prefix cache (the default). Each answers a first question (vision encoder, full prefill; with the prefix
 * cache in two runs, the image prefix cached), then `--runs` follow-up questions, each a different question so
 * that only the image is shared, one new token each. Reported: time to first token of the follow-ups (best
 * and median), where it went, and the 28-layer extrapolation: the full prefill is compute-bound (x 28 / n);
 * the follow-up's ~15-token run on the cached prefix reads every weight once, like a decode step, so it
 * scales as (H + 28 B) / (H + n B) (B: a block's bytes, H: the LM head's), as in `bench:engine-cpu`.
 *
 *   node dist/tests/bench/engine-prefix-cache.bench.js [--layers 2] [--vit-layers 23] [--image 1920x1080]
 *     [--runs 3] [--threads N] [--cache DIR] [--preset 7b-d|tiny]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeScreenshot } from "./bench-inputs";
import { MolmoEngine, type AskResult } from "../../models/engine/molmo-engine";
import { prefixStateBytes } from "../../models/engine/prefix-cache";
import { molmoTokenizerJsonPath } from "../helpers/molmo-tokenizer-fixture";
import { repoRoot } from "../helpers/repo-root";

const FULL_LAYERS = 28;
const FIRST_QUESTION = "What is shown in this screenshot? Describe every window and button.";
const FOLLOW_UPS = ["Where is the search box?", "How many buttons are there?", "What colour is the side bar?", "Is there a dialog open?", "Point to the close button."];
const OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

interface Settings {
  readonly preset: "7b-d" | "tiny";
  readonly layers: number;
  readonly vitLayers: number;
  readonly width: number;
  readonly height: number;
  readonly runs: number;
  readonly threads: number;
  readonly cache: string;
}

interface ModeFigures {
  readonly label: string;
  readonly first: AskResult;
  readonly followUps: AskResult[];
  /** BOS + image tokens: the positions a follow-up with a prefix hit does not run. */
  readonly prefixLength: number;
}

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      preset: { type: "string", default: "7b-d" },
      layers: { type: "string", default: "2" },
      "vit-layers": { type: "string" },
      image: { type: "string", default: "1920x1080" },
      runs: { type: "string", default: "3" },
      threads: { type: "string", default: String(cpus().length) },
      cache: { type: "string", default: join(tmpdir(), "molmo-bench-engine-cpu") },
    },
  });
  if (values.preset !== "7b-d" && values.preset !== "tiny") throw new Error(`--preset must be 7b-d or tiny, got ${String(values.preset)}`);
  const size = /^(\d+)x(\d+)$/.exec(values.image ?? "");
  if (size === null) throw new Error(`--image must be WIDTHxHEIGHT, got ${String(values.image)}`);
  const settings: Settings = {
    preset: values.preset,
    layers: Number(values.layers),
    vitLayers: Number(values["vit-layers"] ?? (values.preset === "tiny" ? 9 : 23)),
    width: Number(size[1]),
    height: Number(size[2]),
    runs: Number(values.runs),
    threads: Number(values.threads),
    cache: values.cache ?? join(tmpdir(), "molmo-bench-engine-cpu"),
  };
  for (const [name, value] of Object.entries({ layers: settings.layers, runs: settings.runs, threads: settings.threads })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${String(value)}`);
  }
  if (settings.runs > FOLLOW_UPS.length) throw new Error(`--runs is at most ${FOLLOW_UPS.length} (one distinct follow-up question each)`);
  return settings;
}

/** The bench:engine-cpu bundle, made once by engine_cpu_reference.py `prepare` (minutes the first time). */
function prepareBundle(settings: Settings): string {
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(settings.threads), OPENBLAS_NUM_THREADS: String(settings.threads) };
  if (existsSync(join(OPENBLAS_DIR, "libblas.so.3"))) env.LD_LIBRARY_PATH = [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  const args = [join(repoRoot(), "tests", "bench", "engine_cpu_reference.py"), "prepare", "--cache", settings.cache, "--preset", settings.preset,
    "--layers", String(settings.layers), "--vit-layers", String(settings.vitLayers), "--tokenizer", molmoTokenizerJsonPath()];
  const result = spawnSync(python, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env, maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`engine_cpu_reference.py prepare failed (exit ${String(result.status)})`);
  const lines = result.stdout.trim().split("\n");
  return (JSON.parse(lines[lines.length - 1]) as { bundle: string }).bundle;
}

async function runMode(label: string, bundleDir: string, imagePath: string, settings: Settings, prefixCacheBytes: number | undefined): Promise<ModeFigures> {
  const engine = await MolmoEngine.load(bundleDir, { ep: "cpu", intraOpNumThreads: settings.threads, tokenizerPath: molmoTokenizerJsonPath(), ...(prefixCacheBytes !== undefined ? { prefixCacheBytes } : {}) });
  try {
    const first = await engine.ask({ image: imagePath, prompt: FIRST_QUESTION, maxNewTokens: 1 });
    console.log(`${label}: first question ${(first.timings.timeToFirstTokenMs / 1000).toFixed(2)} s to the first token (cache ${JSON.stringify(first.cache)})`);
    const followUps: AskResult[] = [];
    for (const question of FOLLOW_UPS.slice(0, settings.runs)) {
      const result = await engine.ask({ image: imagePath, prompt: question, maxNewTokens: 1 });
      const t = result.timings;
      console.log(`${label}: follow-up ${(t.timeToFirstTokenMs / 1000).toFixed(3)} s (image read+hash ${t.imageLoadMs.toFixed(0)} ms, embed ${t.embedMs.toFixed(0)} ms, prefill ${t.prefillMs.toFixed(0)} ms; cache ${JSON.stringify(result.cache)})`);
      followUps.push(result);
    }
    // The question text has no special ids, so the prefix ends after the last one (BOS and image tokens are special).
    let prefixLength = 0;
    followUps[0].inputIds.forEach((id, i) => {
      if (engine.tokenizer.isSpecialId(id)) prefixLength = i + 1;
    });
    return { label, first, followUps, prefixLength };
  } finally {
    await engine.dispose();
  }
}

const best = (values: number[]) => Math.min(...values);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

/** Bytes a decode-like run reads per block and for the LM head (fp32), as in bench:engine-cpu. */
function weightBytes(preset: Settings["preset"]): { block: number; fixed: number } {
  const dims = preset === "7b-d" ? { d: 3584, heads: 28, kv: 4, head: 128, ff: 37888, vocab: 152064 } : { d: 16, heads: 4, kv: 2, head: 4, ff: 64, vocab: 152064 };
  const qkvWidth = (dims.heads + 2 * dims.kv) * dims.head;
  const block = dims.d * qkvWidth + qkvWidth + dims.d * dims.d + dims.d * dims.ff + (dims.ff / 2) * dims.d + 2 * dims.d;
  return { block: block * 4, fixed: (dims.d * dims.vocab + dims.d) * 4 };
}

function report(settings: Settings, featureOnly: ModeFigures, withPrefix: ModeFigures, engineLayout: { prefixLength: number; bytesPerPosition28: number }): void {
  const ttft = (mode: ModeFigures) => mode.followUps.map((r) => r.timings.timeToFirstTokenMs);
  const offMs = best(ttft(featureOnly));
  const onMs = best(ttft(withPrefix));
  const pick = (mode: ModeFigures) => mode.followUps.reduce((a, b) => (a.timings.timeToFirstTokenMs <= b.timings.timeToFirstTokenMs ? a : b));
  const off = pick(featureOnly).timings;
  const on = pick(withPrefix).timings;
  const { block, fixed } = weightBytes(settings.preset);
  const memoryScale = (fixed + FULL_LAYERS * block) / (fixed + settings.layers * block);
  const offFull = off.imageLoadMs + off.embedMs + (off.prefillMs * FULL_LAYERS) / settings.layers;
  const onFull = on.imageLoadMs + on.embedMs + on.prefillMs * memoryScale;
  const offTokens = pick(featureOnly).inputIds.length;
  const onTokens = pick(withPrefix).inputIds.length;
  console.log("");
  console.log(`follow-up question, time to first token (best of ${settings.runs}; median ${seconds(median(ttft(featureOnly)))} / ${seconds(median(ttft(withPrefix)))}):`);
  console.log(`  ${settings.layers} layers: feature cache only ${seconds(offMs)} (prefill ${offTokens} tokens ${seconds(off.prefillMs)}, embed ${seconds(off.embedMs)}); ` +
    `feature + prefix cache ${seconds(onMs)} (prefill ${onTokens - engineLayout.prefixLength} tokens ${seconds(on.prefillMs)}, embed ${seconds(on.embedMs)}): ${(offMs / onMs).toFixed(1)}x`);
  console.log(`  ${FULL_LAYERS} layers (extrapolated: full prefill x ${FULL_LAYERS}/${settings.layers}, cached-prefix run x ${memoryScale.toFixed(2)}): ` +
    `${seconds(offFull)} vs ${seconds(onFull)}: ${(offFull / onFull).toFixed(1)}x`);
  console.log(`first question (vision encoder + prefill): ${seconds(featureOnly.first.timings.timeToFirstTokenMs)} without the prefix cache, ` +
    `${seconds(withPrefix.first.timings.timeToFirstTokenMs)} with it (the prefill in two runs, ${seconds(featureOnly.first.timings.prefillMs)} vs ${seconds(withPrefix.first.timings.prefillMs)})`);
  console.log(`prefix cache entry: ${engineLayout.prefixLength} positions; at Molmo-7B-D's ${FULL_LAYERS} layers ${(engineLayout.prefixLength * engineLayout.bytesPerPosition28 / 1e6).toFixed(0)} MB in fp32, ` +
    `${(engineLayout.prefixLength * engineLayout.bytesPerPosition28 / 2e6).toFixed(0)} MB in fp16`);
  console.log(JSON.stringify({ settings, followUpMs: { featureOnly: ttft(featureOnly), withPrefix: ttft(withPrefix) }, extrapolated28: { featureOnlyMs: offFull, withPrefixMs: onFull } }));
}

async function main(): Promise<void> {
  const settings = parseSettings();
  mkdirSync(settings.cache, { recursive: true });
  console.log(`prefix-cache benchmark: ${cpus().length} x ${cpus()[0]?.model ?? "CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; preset ${settings.preset}, ` +
    `${settings.layers} decoder / ${settings.vitLayers} ViT layers, image ${settings.width}x${settings.height}, ${settings.runs} follow-ups, ${settings.threads} threads`);
  const bundleDir = prepareBundle(settings);
  const work = mkdtempSync(join(tmpdir(), "molmo-bench-prefix-"));
  try {
    const imagePath = join(work, "screenshot.png");
    await makeScreenshot(imagePath, settings.width, settings.height, { textBars: false });
    const featureOnly = await runMode("feature cache only", bundleDir, imagePath, settings, 0);
    const withPrefix = await runMode("feature + prefix cache", bundleDir, imagePath, settings, undefined);
    const kvLayout = { cache: { inputs: new Array<string>(2 * FULL_LAYERS).fill("kv"), outputs: [], dtype: "float32" as const, inputShape: [] }, numKvHeads: 4, headDim: 128 };
    report(settings, featureOnly, withPrefix, { prefixLength: withPrefix.prefixLength, bytesPerPosition28: prefixStateBytes(kvLayout, 1) });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
