/**
 * `molmo ask <image> "<question>" --model <bundle>`: loads an exported bundle, streams Molmo's answer to
 * stdout, then prints the points in pixels of the image (and the count, when the answer states one).
 * With `--json` stdout carries one JSON object instead; `--annotate out.png` draws the points.
 * Log lines (provider choice, fallbacks, timings with --verbose) go to stderr.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { loadImage } from "../../../models/image/load";
import { MolmoEngine, type AskRequest, type AskResult } from "../../../models/engine/molmo-engine";
import { isCancellation } from "../../../models/engine/errors";
import { parseEpName } from "../../../models/engine/execution-provider";
import type { Logger } from "../../../models/engine/logger";
import { annotatePng } from "../../../models/points/annotate";
import type { MolmoTask } from "../../../models/prompt";
import { CliUsageError, parseCommandArgs, parsePositiveInt } from "../usage";

/** Exit code of an answer cancelled with Ctrl-C, as shells report SIGINT. */
const CANCELLED_EXIT_CODE = 130;

const TASKS = ["ask", "point", "count", "caption", "clock"] as const;
type TaskName = (typeof TASKS)[number];

const ASK_USAGE = `molmo ask <image> "<question>" --model <bundle> [options]
  --model, -m <dir>       the exported model bundle (molmo export makes one)
  --task <kind>           ask (default) | point | count (the question is what to point at / count)
                          | caption | clock (no question)
  --ep <name>             auto (default) | cpu | webgpu | cuda | dml | coreml
  --max-new-tokens <n>    most tokens to generate (default 200)
  --temperature <t>       sample at this temperature (default: greedy)
  --top-k <k>  --top-p <p>  --seed <n>   sampling settings
  --answer-prefix <text>  text the answer must begin with (the model continues it)
  --tokenizer <path>      tokenizer.json, for bundles exported without one
  --annotate <out.png>    write the image with the points drawn on it
  --json                  print one JSON object (text, tokenIds, points, count, timings, ep, ...)
  --verbose               log the provider choice and timings to stderr`;

export async function runAsk(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    process.stdout.write(`Usage: ${ASK_USAGE}\n`);
    return 0;
  }
  const task = values.task ?? "ask";
  if (!(TASKS as readonly string[]).includes(task)) {
    throw new CliUsageError(`--task must be one of ${TASKS.join(", ")}, got '${task}'`);
  }
  const request = buildTask(task as TaskName, positionals);
  if (values.model === undefined) {
    throw new CliUsageError(
      "needs a model bundle: pass --model <bundle-dir>. Make one from a Hugging Face checkpoint with " +
        "`molmo export <hf-checkpoint-dir> <bundle-dir>` (see README, 'The molmo command line').",
    );
  }
  const generation = {
    ...(values["max-new-tokens"] !== undefined ? { maxNewTokens: parsePositiveInt(values["max-new-tokens"], "--max-new-tokens") } : {}),
    ...(values.temperature !== undefined ? { temperature: parseNumber(values.temperature, "--temperature", 0) } : {}),
    ...(values["top-k"] !== undefined ? { topK: parseWhole(values["top-k"], "--top-k") } : {}),
    ...(values["top-p"] !== undefined ? { topP: parseNumber(values["top-p"], "--top-p", Number.MIN_VALUE, 1) } : {}),
    ...(values.seed !== undefined ? { seed: parseWhole(values.seed, "--seed") } : {}),
  };
  const ep = values.ep ?? "auto";
  try {
    parseEpName(ep);
  } catch (error) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  const imagePath = resolve(request.image);
  const json = values.json === true;
  const logger = stderrLogger(values.verbose === true);
  // The image is decoded before the model is loaded, so a wrong path fails at once, not after a long load.
  const image = await loadImage(imagePath);

  const engine = await MolmoEngine.load(resolve(values.model), {
    ep,
    logger,
    ...(values.tokenizer !== undefined ? { tokenizerPath: resolve(values.tokenizer) } : {}),
  });
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error("interrupted (Ctrl-C)"));
  process.once("SIGINT", onSigint);
  let result: AskResult;
  try {
    result = await engine.ask({
      image,
      ...request.question,
      ...generation,
      ...(values["answer-prefix"] !== undefined ? { answerPrefix: values["answer-prefix"] } : {}),
      signal: controller.signal,
      ...(json ? {} : { onText: (delta: string) => void process.stdout.write(delta) }),
    });
  } catch (error) {
    if (isCancellation(error)) {
      process.stderr.write(`${json ? "" : "\n"}molmo ask: cancelled\n`);
      return CANCELLED_EXIT_CODE;
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", onSigint);
    await engine.dispose();
  }

  let annotated: string | undefined;
  if (values.annotate !== undefined) {
    annotated = resolve(values.annotate);
    // The pixels the model saw (upright, RGB), so the points land where the model put them.
    const png = await annotatePng(image, result.points);
    await writeFile(annotated, png);
  }
  logger.info(describeTimings(result));
  const model = { dir: resolve(values.model), dtype: engine.bundle.manifest.dtype, variant: engine.bundle.manifest.variant };
  process.stdout.write(json ? `${JSON.stringify(jsonResult(result, imagePath, model, annotated), null, 2)}\n` : textResult(result, annotated));
  return 0;
}

/** The request's question part, from the task and the positional arguments. */
function buildTask(task: TaskName, positionals: string[]): { image: string; question: Pick<AskRequest, "prompt" | "task"> } {
  const [image, ...rest] = positionals;
  if (image === undefined) {
    throw new CliUsageError(`expects an image path and a question:\n  ${ASK_USAGE.split("\n")[0]}`);
  }
  if (task === "caption" || task === "clock") {
    if (rest.length > 0) {
      throw new CliUsageError(`--task ${task} takes no question, only the image`);
    }
    const chosen: MolmoTask = task === "caption" ? { kind: "caption" } : { kind: "clock" };
    return { image, question: { task: chosen } };
  }
  if (rest.length !== 1) {
    const what = task === "ask" ? "the question" : `what to ${task === "point" ? "point at" : "count"}`;
    throw new CliUsageError(`expects the image path and ${what} as one quoted argument (got ${rest.length} after the image)`);
  }
  const text = rest[0];
  if (task === "ask") {
    return { image, question: { prompt: text } };
  }
  return { image, question: { task: { kind: task, label: text } } };
}

function textResult(result: AskResult, annotated: string | undefined): string {
  const lines = [""];
  if (result.points.length > 0) {
    lines.push(`Points (${result.points.length}), in pixels of the ${result.imageSize.width}x${result.imageSize.height} image:`);
    for (const point of result.points) {
      const label = point.label === "" ? "" : `  ${point.label}`;
      lines.push(`  ${point.index}. x=${point.x.toFixed(1)} y=${point.y.toFixed(1)}${label}`);
    }
  }
  if (result.count !== undefined) {
    lines.push(`Count: ${result.count}`);
  }
  if (annotated !== undefined) {
    lines.push(`Annotated image: ${annotated}`);
  }
  return `${lines.join("\n")}\n`;
}

function jsonResult(result: AskResult, image: string, model: { dir: string; dtype: string; variant: string }, annotated: string | undefined) {
  return {
    image,
    model,
    imageSize: result.imageSize,
    prompt: result.prompt,
    text: result.text,
    tokenIds: result.tokenIds,
    stopReason: result.stopReason,
    points: result.points.map((p) => ({ index: p.index, x: p.x, y: p.y, xPercent: p.xPercent, yPercent: p.yPercent, label: p.label, ...(p.alt !== undefined ? { alt: p.alt } : {}) })),
    count: result.count ?? null,
    ep: result.ep,
    cache: result.cache,
    generation: {
      maxNewTokens: result.generation.maxNewTokens,
      greedy: result.generation.greedy,
      temperature: result.generation.temperature,
      topK: result.generation.topK,
      topP: result.generation.topP,
      seed: result.generation.seed,
    },
    inputTokens: result.inputIds.length,
    timings: roundTimings(result.timings),
    annotated: annotated ?? null,
  };
}

function roundTimings(timings: AskResult["timings"]): Record<string, number> {
  return Object.fromEntries(Object.entries(timings).map(([key, value]) => [key, Math.round(value * 10) / 10]));
}

function describeTimings(result: AskResult): string {
  const t = result.timings;
  return (
    `${result.tokenIds.length} tokens on ${result.ep}: first token after ${Math.round(t.timeToFirstTokenMs)} ms ` +
    `(image ${Math.round(t.imageLoadMs)}, preprocess ${Math.round(t.preprocessMs)}, vision ${Math.round(t.visionMs)}, ` +
    `prefill ${Math.round(t.prefillMs)} ms; image features ${result.cache.imageFeatures}), ` +
    `decode ${t.decodeTokensPerSecond.toFixed(1)} tokens/s, total ${Math.round(t.totalMs)} ms.`
  );
}

/** Warnings and errors always; info and debug lines only with --verbose. */
function stderrLogger(verbose: boolean): Logger {
  const write = (level: string) => (message: string) => void process.stderr.write(`molmo ask: ${level}${message}\n`);
  const quiet = () => undefined;
  return {
    debug: verbose ? write("") : quiet,
    info: verbose ? write("") : quiet,
    warn: write("warning: "),
    error: write("error: "),
  };
}

function parseNumber(value: string, option: string, min: number, max = Number.POSITIVE_INFINITY): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number < min || number > max) {
    const range = max === Number.POSITIVE_INFINITY ? `at least ${min}` : `in (0, ${max}]`;
    throw new CliUsageError(`${option} expects a number ${range}, got '${value}'`);
  }
  return number;
}

function parseWhole(value: string, option: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new CliUsageError(`${option} expects a whole number (0 or more), got '${value}'`);
  }
  return Number(value);
}

const OPTIONS = {
    model: { type: "string", short: "m" },
    task: { type: "string", short: "t" },
    ep: { type: "string" },
    "max-new-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-k": { type: "string" },
    "top-p": { type: "string" },
    seed: { type: "string" },
    "answer-prefix": { type: "string" },
    tokenizer: { type: "string" },
    annotate: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  } as const;
