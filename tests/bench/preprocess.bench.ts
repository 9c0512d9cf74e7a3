/**
 * `npm run bench:preprocess` — image file → Molmo's tensors, TypeScript vs the reference.
 *
 * Two inputs: a 1920x1080 UI screenshot (PNG) and a 4000x3000 photo (JPEG), both synthesised
 * here so the run needs nothing downloaded. Each side decodes the file and builds the crops,
 * masks, token sequence and index (the reference: `load_image` + `image_to_patches_and_tokens`
 * of allenai/molmo's `olmo/data/model_preprocessor.py`, run by tests/bench/reference_preprocess.py
 * in the same run on the same machine). Prints the median and spread of repeated runs and the
 * speed ratio. It is a benchmark, not a test: it asserts nothing about time.
 *
 * The reference needs a checkout of allenai/molmo: pass `--molmo-repo <dir>` or set
 * MOLMO_REFERENCE_REPO. Without it only the TypeScript figures are printed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, existsSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { loadImage } from "../../models/image/load";
import { preprocessImage } from "../../models/preprocess";
import { repoRoot } from "../helpers/repo-root";

interface Stats { median: number; min: number; max: number; runs: number }

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

/** A deterministic pseudo-random generator, so every run benchmarks the same pixels. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function makeScreenshot(path: string): Promise<void> {
  const rand = lcg(7);
  const boxes: string[] = [];
  for (let i = 0; i < 120; i++) {
    const x = Math.floor(rand() * 1800), y = Math.floor(rand() * 1000);
    const w = 40 + Math.floor(rand() * 300), h = 16 + Math.floor(rand() * 60);
    const shade = Math.floor(rand() * 200);
    boxes.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="4" fill="rgb(${shade},${(shade * 3) % 255},${255 - shade})"/>`);
    boxes.push(`<rect x="${x + 6}" y="${y + 6}" width="${Math.max(4, w - 12)}" height="4" fill="#222"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1920" height="1080"><rect width="1920" height="1080" fill="#f3f3f3"/><rect width="260" height="1080" fill="#252526"/>${boxes.join("")}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path);
}

async function makePhoto(path: string): Promise<void> {
  const width = 4000, height = 3000;
  const rand = lcg(11);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const noise = rand() * 40;
      raw[o] = (x / width) * 200 + noise;
      raw[o + 1] = (y / height) * 180 + noise;
      raw[o + 2] = 128 + 100 * Math.sin(x / 97) * Math.cos(y / 131) + noise / 2;
    }
  }
  await sharp(raw, { raw: { width, height, channels: 3 } }).blur(1.2).jpeg({ quality: 90 }).toFile(path);
}

async function timeTypeScript(path: string, runs: number): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const started = performance.now();
    const image = await loadImage(path);
    await preprocessImage(image);
    const elapsed = performance.now() - started;
    if (i > 0) samples.push(elapsed); // the first run warms up the JIT and libvips caches
  }
  return stats(samples);
}

function timeReference(molmoRepo: string, path: string, runs: number): Stats {
  const script = join(repoRoot(), "tests", "bench", "reference_preprocess.py");
  const out = execFileSync(python3(), [script, "--molmo-repo", molmoRepo, "--runs", String(runs), path], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    // Debian's torch runs one thread unless OpenMP is told otherwise; give the reference the same
    // cores that libvips uses on the TypeScript side, so the ratio compares implementations.
    env: { ...process.env, OMP_NUM_THREADS: process.env["OMP_NUM_THREADS"] ?? String(cpus().length) },
  });
  const samples = JSON.parse(out.trim().split("\n").pop()!) as number[];
  return stats(samples);
}

function fmt(s: Stats): string {
  return `${s.median.toFixed(1).padStart(8)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, n=${s.runs})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "molmo-repo": { type: "string" }, runs: { type: "string" } } });
  const runs = Number(values.runs ?? 7);
  const molmoRepo = values["molmo-repo"] ?? process.env["MOLMO_REFERENCE_REPO"];
  const dir = mkdtempSync(join(tmpdir(), "molmo-bench-"));
  const inputs = [
    { name: "screenshot 1920x1080 PNG", path: join(dir, "screenshot.png"), make: makeScreenshot },
    { name: "photo 4000x3000 JPEG", path: join(dir, "photo.jpg"), make: makePhoto },
  ];
  for (const input of inputs) await input.make(input.path);

  console.log(`preprocess benchmark: ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ""}, node ${process.version}, ${runs} runs after 1 warm-up`);
  if (molmoRepo === undefined || !existsSync(join(molmoRepo, "olmo"))) {
    console.log("reference: skipped (pass --molmo-repo <allenai/molmo checkout> or set MOLMO_REFERENCE_REPO)");
  }
  for (const input of inputs) {
    const ts = await timeTypeScript(input.path, runs);
    console.log(`${input.name}`);
    console.log(`  TypeScript (sharp)     ${fmt(ts)}`);
    if (molmoRepo !== undefined && existsSync(join(molmoRepo, "olmo"))) {
      const ref = timeReference(molmoRepo, input.path, runs);
      console.log(`  reference (PIL+torch)  ${fmt(ref)}`);
      console.log(`  speed-up               ${(ref.median / ts.median).toFixed(2)}x`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

/** Debian's python3 has torch/torchvision; a pyenv python3 earlier on PATH may not. */
function python3(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}
