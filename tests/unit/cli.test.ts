/**
 * The `molmo` command line, run as a user runs it: the compiled entry point in a child process.
 * Checks the files `molmo preprocess` writes (read back with our .npy reader and, where Debian's
 * numpy is installed, with numpy itself), `molmo points`, and the exit codes and messages of
 * every kind of bad call.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readNpyFile } from "../../models/io/npy";
import { loadImage } from "../../models/image/load";
import { preprocessImage } from "../../models/preprocess";
import { repoRoot } from "../helpers/repo-root";
import { molmoTokenizerJsonPath } from "../helpers/molmo-tokenizer-fixture";

const cli = join(repoRoot(), "dist", "server", "cli", "molmo.js");
const golden = (name: string) => join(repoRoot(), "tests", "golden", "images", name);

function molmo(...args: string[]) {
  const run = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "molmo-cli-"));
}

void test("preprocess writes the four .npy files and meta.json, equal to the library's result", async () => {
  const out = tempDir();
  const image = golden("small_500x300.png");
  const run = molmo("preprocess", image, "--out", out);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /tiling 1x2, 3 crops, 412 image tokens/);

  const expected = await preprocessImage(await loadImage(image));
  const crops = await readNpyFile(join(out, "crops.npy"));
  assert.equal(crops.dtype, "<f4");
  assert.deepEqual(crops.shape, [3, 576, 588]);
  assert.deepEqual(crops.data, expected.crops);
  const masks = await readNpyFile(join(out, "image_masks.npy"));
  assert.deepEqual(masks.shape, [3, 576]);
  assert.deepEqual(masks.data, expected.imageMasks);
  const idx = await readNpyFile(join(out, "image_input_idx.npy"));
  assert.equal(idx.dtype, "<i4");
  assert.deepEqual(idx.shape, [3, 144]);
  assert.deepEqual(idx.data, expected.imageInputIdx);
  const tokens = await readNpyFile(join(out, "tokens.npy"));
  assert.deepEqual(tokens.shape, [412]);
  assert.deepEqual(tokens.data, expected.imageTokens);

  // Every non-negative index points at an <im_patch> token, and each patch token is used once.
  const ids = tokens.data;
  const used = Array.from(idx.data).filter((v) => v >= 0);
  assert.equal(used.length, 384);
  assert.equal(new Set(used).size, 384);
  for (const position of used) assert.equal(ids[position], 152066);

  const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8"));
  assert.deepEqual(meta.tiling, { rows: 1, cols: 2 });
  assert.deepEqual(meta.original_size, { width: 500, height: 300 });
  assert.equal(meta.n_crops, 3);
  assert.deepEqual(meta.special_tokens, { im_start: 152064, im_end: 152065, im_patch: 152066, im_col: 152067 });
  assert.equal(meta.options.maxCrops, 12);
});

void test("numpy reads what preprocess writes", { skip: !existsSync("/usr/bin/python3") && "needs Debian's python3-numpy" }, () => {
  const out = tempDir();
  assert.equal(molmo("preprocess", golden("screen_1920x1080.png"), "--out", out).code, 0);
  const script = [
    "import json, sys, numpy as np",
    "d = sys.argv[1]",
    "c = np.load(d + '/crops.npy'); m = np.load(d + '/image_masks.npy')",
    "i = np.load(d + '/image_input_idx.npy'); t = np.load(d + '/tokens.npy')",
    "print(json.dumps({'crops': [str(c.dtype), list(c.shape)], 'masks': [str(m.dtype), list(m.shape)],",
    "  'idx': [str(i.dtype), list(i.shape)], 'tokens': [str(t.dtype), list(t.shape)],",
    "  'patches': int((t == 152066).sum()), 'valid': int((i >= 0).sum()), 'last_mask_row': float(m[-1].max())}))",
  ].join("\n");
  const run = spawnSync("/usr/bin/python3", ["-c", script, out], { encoding: "utf8" });
  if (run.status !== 0 && /No module named 'numpy'/.test(run.stderr)) {
    assert.fail("python3-numpy is not installed (.ci/run installs it)");
  }
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), {
    crops: ["float32", [13, 576, 588]],
    masks: ["float32", [13, 576]],
    idx: ["int32", [13, 144]],
    tokens: ["int32", [1196]],
    patches: 1152,
    valid: 1152,
    // The released checkpoints' mask layout ends with a row of -1 (see models/preprocess/NOTES.md).
    last_mask_row: -1,
  });
});

void test("preprocess --max-crops changes the tiling and --model reads ids from the bundle's tokenizer", () => {
  const bundle = tempDir();
  writeFileSync(join(bundle, "preprocessor_config.json"), JSON.stringify({ max_crops: 6 }));
  writeFileSync(join(bundle, "tokenizer.json"), readFileSync(molmoTokenizerJsonPath()));
  const out = tempDir();
  const run = molmo("preprocess", golden("screen_1920x1080.png"), "--out", out, "--model", bundle);
  assert.equal(run.code, 0, run.stderr);
  const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8"));
  assert.equal(meta.options.maxCrops, 6);
  assert.ok(meta.n_crops <= 7);
  assert.equal(meta.special_tokens.im_patch, 152066);
  assert.equal(meta.special_tokens_source, join(bundle, "tokenizer.json"));

  const out2 = tempDir();
  assert.equal(molmo("preprocess", golden("screen_1920x1080.png"), "--out", out2, "--max-crops", "4").code, 0);
  const meta2 = JSON.parse(readFileSync(join(out2, "meta.json"), "utf8"));
  assert.equal(meta2.options.maxCrops, 4);
  assert.equal(meta2.n_crops, 1 + meta2.tiling.rows * meta2.tiling.cols);
  assert.ok(meta2.tiling.rows * meta2.tiling.cols <= 4);
});

void test("preprocess fails clearly on bad images and bad calls, writing nothing", () => {
  const dir = tempDir();
  const corrupt = join(dir, "corrupt.png");
  writeFileSync(corrupt, Buffer.from("\x89PNG\r\n\x1a\nthis is not really a png"));
  const cases: Array<{ args: string[]; code: number; message: RegExp }> = [
    { args: ["preprocess", join(dir, "missing.png"), "--out", join(dir, "o1")], code: 1, message: /missing\.png: no such file/ },
    { args: ["preprocess", corrupt, "--out", join(dir, "o2")], code: 1, message: /corrupt\.png/ },
    { args: ["preprocess", golden("small_500x300.png"), "--out", join(dir, "o3"), "--max-pixels", "1000"], code: 1, message: /500x300.*1000|too large|limit/i },
    { args: ["preprocess", golden("small_500x300.png")], code: 2, message: /--out <dir> is required/ },
    { args: ["preprocess", "--out", join(dir, "o4")], code: 2, message: /exactly one image/ },
    { args: ["preprocess", golden("small_500x300.png"), "--out", join(dir, "o5"), "--max-crops", "zero"], code: 2, message: /--max-crops expects a positive integer/ },
    { args: ["preprocess", golden("small_500x300.png"), "--out", join(dir, "o6"), "--model", join(dir, "no-bundle")], code: 1, message: /model bundle not found/ },
    { args: ["preprocess", golden("small_500x300.png"), "--out", join(dir, "o7"), "--bogus"], code: 2, message: /bogus/ },
    { args: ["frobnicate"], code: 2, message: /unknown command 'frobnicate'/ },
  ];
  for (const c of cases) {
    const run = molmo(...c.args);
    assert.equal(run.code, c.code, `${c.args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, c.message, c.args.join(" "));
    assert.equal(run.stdout, "", `nothing on stdout for ${c.args.join(" ")}`);
  }
  for (const o of ["o1", "o2", "o3", "o5", "o6", "o7"]) assert.equal(existsSync(join(dir, o)), false, `${o} was created`);
});

void test("points prints pixels, percents, labels and counts as JSON", () => {
  const text = 'Counting the <points x1="10.2" y1="60.4" x2="33.3" y2="58.9" alt="cars">cars</points> shows a total of 2.';
  const run = molmo("points", text, "--size", "1920x1080");
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.deepEqual(result.image_size, { width: 1920, height: 1080 });
  assert.equal(result.points.length, 2);
  assert.ok(Math.abs(result.points[0].x - 195.84) < 1e-6);
  assert.ok(Math.abs(result.points[0].y - 652.32) < 1e-6);
  assert.equal(result.points[1].xPercent, 33.3);
  assert.equal(result.points[0].label, "cars");
  assert.equal(result.count, 2);

  const truncated = molmo("points", 'Here: <point x="50.0" y="50.0" alt="dog">dog</point> and <point x="7', "--size", "100x100");
  assert.equal(truncated.code, 0);
  const parsed = JSON.parse(truncated.stdout);
  assert.equal(parsed.points.length, 1);
  assert.ok((parsed.issues as Array<{ reason: string }>).some((i) => i.reason === "truncated"));

  assert.equal(molmo("points", "x").code, 2);
  assert.match(molmo("points", "x", "--size", "0x5").stderr, /WIDTHxHEIGHT/);
});

void test("--help and --version", () => {
  const help = molmo("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /molmo <command>/);
  const version = molmo("--version");
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")).version);
});
