/**
 * `molmo ask` and `molmo export` as a user runs them: the compiled CLI in a child process, on the tiny
 * bundle (tests/helpers/tiny-bundle.ts). Checks the streamed answer and the points printed after it,
 * the one JSON object of --json, the PNG of --annotate, the exit codes and messages of bad calls, and
 * that `molmo export` runs the Python exporter (end to end where Debian's python3-torch is installed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { molmoTokenizerJsonPath } from "../helpers/molmo-tokenizer-fixture";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const cli = join(repoRoot(), "dist", "server", "cli", "molmo.js");
const image = join(tinyMolmoDir(), "image.png");
const referenceTokens = (JSON.parse(readFileSync(join(tinyMolmoDir(), "reference.json"), "utf8")) as { greedy: { tokens: number[] } }).greedy.tokens;
const bundle = makeTinyBundle();
const pointPrefix = '<point x="20.0" y="50.0" alt="red circle">red circle</point>';

function molmo(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const run = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120_000, env });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The JSON object `molmo ask --json` prints (the fields these tests read). */
interface AskJson {
  text: string;
  tokenIds: number[];
  points: unknown[];
  count: number | null;
  ep: string;
  cache: { imageFeatures: string; prefix: string };
  imageSize: { width: number; height: number };
  stopReason: string;
  generation: { maxNewTokens: number; greedy: boolean; temperature: number; topK: number; topP: number; seed: number };
  inputTokens: number;
  timings: Record<string, unknown>;
  model: { dir: string; dtype: string; variant: string };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "molmo-cli-ask-"));
}

const hasTorch =
  existsSync("/usr/bin/python3") && spawnSync("/usr/bin/python3", ["-c", "import torch, onnx"], { encoding: "utf8" }).status === 0;

void test("ask streams the answer, then prints the points in pixels and writes the annotated image", async () => {
  const out = join(tempDir(), "annotated.png");
  const run = molmo(["ask", image, "red circle", "--task", "point", "--model", bundle, "--ep", "cpu", "--max-new-tokens", "3", "--answer-prefix", pointPrefix, "--annotate", out]);
  assert.equal(run.code, 0, run.stderr);
  const [answer, ...rest] = run.stdout.split("\n");
  assert.ok(answer.startsWith(` ${pointPrefix}`), answer);
  assert.ok(answer.length > pointPrefix.length + 1, "the model's tokens follow the prefix");
  assert.deepEqual(rest.filter((line) => line !== ""), [
    "Points (1), in pixels of the 500x300 image:",
    "  1. x=100.0 y=150.0  red circle",
    `Annotated image: ${out}`,
  ]);
  assert.equal(run.stderr, "", "nothing is logged without --verbose");

  const annotated = sharp(out);
  const meta = await annotated.metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 500, 300]);
  // The marker's pink fill surrounds the point (100, 150), which is background in the original image.
  const { data } = await annotated.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let pink = 0;
  for (let y = 140; y <= 160; y++) {
    for (let x = 90; x <= 110; x++) {
      const at = (y * 500 + x) * 3;
      if (data[at] === 0xff && data[at + 1] === 0x1f && data[at + 2] === 0x7a) pink++;
    }
  }
  assert.ok(pink > 50, `${pink} marker pixels around the point`);
});

void test("ask --json prints one JSON object with the text, token ids, points, count, timings and EP", () => {
  const run = molmo(["ask", image, "red circle", "--task", "point", "-m", bundle, "--ep", "cpu", "--max-new-tokens", "4", "--json", "--verbose"]);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as AskJson;
  assert.deepEqual(result.tokenIds, referenceTokens.slice(0, 4), "the reference's greedy tokens");
  assert.equal(typeof result.text, "string");
  assert.ok(result.text.length > 0);
  assert.deepEqual(result.points, []);
  assert.equal(result.count, null);
  assert.equal(result.ep, "cpu");
  assert.deepEqual(result.cache, { imageFeatures: "miss", prefix: "miss" });
  assert.deepEqual(result.imageSize, { width: 500, height: 300 });
  assert.equal(result.stopReason, "max_new_tokens");
  assert.equal(result.generation.greedy, true);
  assert.equal(result.inputTokens, 440);
  assert.deepEqual(result.model, { dir: bundle, dtype: "fp32", variant: "molmo-qwen2" });
  for (const key of ["imageLoadMs", "preprocessMs", "visionMs", "embedMs", "prefillMs", "decodeMs", "timeToFirstTokenMs", "decodeTokensPerSecond", "totalMs"]) {
    assert.equal(typeof result.timings[key], "number", key);
  }
  assert.match(run.stderr, /running on cpu/);
  assert.match(run.stderr, /4 tokens on cpu: first token after \d+ ms/);

  const sampled = molmo(["ask", image, "What is this?", "-m", bundle, "--ep", "cpu", "--max-new-tokens", "3", "--temperature", "0.8", "--top-k", "40", "--top-p", "0.9", "--seed", "5", "--json"]);
  assert.equal(sampled.code, 0, sampled.stderr);
  const settings = (JSON.parse(sampled.stdout) as AskJson).generation;
  assert.deepEqual(settings, { maxNewTokens: 3, greedy: false, temperature: 0.8, topK: 40, topP: 0.9, seed: 5 });
});

void test("ask fails clearly on bad calls, printing nothing on stdout", () => {
  const dir = tempDir();
  const cases: { args: string[]; code: number; message: RegExp }[] = [
    { args: ["ask", image, "What is this?"], code: 2, message: /needs a model bundle: pass --model <bundle-dir>.*molmo export <hf-checkpoint-dir> <bundle-dir>/ },
    { args: ["ask", image, "-m", bundle], code: 2, message: /expects the image path and the question/ },
    { args: ["ask", "-m", bundle], code: 2, message: /expects an image path and a question/ },
    { args: ["ask", image, "q", "-m", bundle, "--task", "poem"], code: 2, message: /--task must be one of ask, point, count, caption, clock/ },
    { args: ["ask", image, "q", "-m", bundle, "--task", "clock"], code: 2, message: /--task clock takes no question/ },
    { args: ["ask", image, "q", "-m", bundle, "--ep", "tpu"], code: 2, message: /Unknown execution provider "tpu"/ },
    { args: ["ask", image, "q", "-m", bundle, "--top-p", "2"], code: 2, message: /--top-p expects a number in \(0, 1\]/ },
    { args: ["ask", image, "q", "-m", bundle, "--max-new-tokens", "0"], code: 2, message: /--max-new-tokens expects a positive integer/ },
    { args: ["ask", image, "q", "-m", bundle, "--bogus"], code: 2, message: /bogus/ },
    { args: ["ask", join(dir, "missing.png"), "q", "-m", bundle], code: 1, message: /missing\.png: no such file/ },
    { args: ["ask", image, "q", "-m", join(dir, "no-bundle"), "--ep", "cpu"], code: 1, message: /Model bundle not found/ },
    { args: ["ask", image, "q", "-m", makeTinyBundle({ withTokenizer: false }), "--ep", "cpu"], code: 1, message: /exported without tokenizer\.json.*--tokenizer/ },
  ];
  for (const c of cases) {
    const run = molmo(c.args);
    assert.equal(run.code, c.code, `${c.args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, c.message, c.args.join(" "));
    assert.equal(run.stdout, "", `nothing on stdout for ${c.args.join(" ")}`);
  }
  const help = molmo(["ask", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--annotate <out\.png>/);
});

/** A stand-in Python interpreter: a shell script answering the package probe and the exporter's run. */
function fakePython(probeAnswer: string, exporter: string): string {
  const path = join(tempDir(), "python3");
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = "-c" ]; then echo "${probeAnswer}"; exit 0; fi\n${exporter}\n`);
  chmodSync(path, 0o755);
  return path;
}

void test("export reports a missing Python or missing packages, and forwards the exporter's output and exit code", () => {
  const missingPython = molmo(["export", "ckpt", "bundle"], { ...process.env, MOLMO_PYTHON: join(tempDir(), "no-python3") });
  assert.equal(missingPython.code, 1);
  assert.match(missingPython.stderr, /needs Python 3 with PyTorch and onnx, but .*no-python3 cannot be run \(it was not found\).*apt-get install python3 python3-torch/);

  const noTorch = molmo(["export", "ckpt", "bundle"], { ...process.env, MOLMO_PYTHON: fakePython("torch", "exit 0") });
  assert.equal(noTorch.code, 1);
  assert.match(noTorch.stderr, /needs the Python package torch, which .* lacks.*apt-get install python3-torch/);

  // Arguments reach `python3 -m molmo_onnx.export` unchanged, with models/python on PYTHONPATH.
  const exporter = 'echo "args: $*"; echo "path: $PYTHONPATH"; echo "exporter failed" >&2; exit 3';
  const forwarded = molmo(["export", "ckpt dir", "out", "--dtype", "fp16"], { ...process.env, MOLMO_PYTHON: fakePython("", exporter) });
  assert.equal(forwarded.code, 3);
  assert.match(forwarded.stdout, /^args: -m molmo_onnx\.export ckpt dir out --dtype fp16$/m);
  assert.match(forwarded.stdout, new RegExp(`^path: ${join(repoRoot(), "models", "python")}`, "m"));
  assert.equal(forwarded.stderr, "exporter failed\n");
});

void test("export runs the exporter, and ask answers with the fp16 bundle it wrote", { skip: !hasTorch && "needs Debian's python3-torch and python3-onnx" }, () => {
  // The fixture's checkpoint (seed 138, see reference.json), exported again in fp16: the engine's
  // float16 path (embeddings, image features, KV cache as fp16 bits) must give the fp32 reference's tokens.
  const dir = tempDir();
  const checkpoint = join(dir, "checkpoint");
  const written = spawnSync("/usr/bin/python3", ["-m", "molmo_onnx.tiny_random", "--out", checkpoint, "--seed", "138"], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(repoRoot(), "models", "python") },
  });
  assert.equal(written.status, 0, written.stderr);

  const exported = join(dir, "bundle");
  const run = molmo(["export", checkpoint, exported, "--dtype", "fp16", "--tokenizer", molmoTokenizerJsonPath(), "--quiet"]);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(existsSync(join(exported, "onnx", "decoder_model_merged.onnx")));
  assert.ok(existsSync(join(exported, "tokenizer.json")));

  const answer = molmo(["ask", image, "red circle", "--task", "point", "-m", exported, "--ep", "cpu", "--max-new-tokens", "8", "--json"]);
  assert.equal(answer.code, 0, answer.stderr);
  const result = JSON.parse(answer.stdout) as AskJson;
  assert.equal(result.model.dtype, "fp16");
  assert.deepEqual(result.tokenIds, referenceTokens.slice(0, 8));
});
