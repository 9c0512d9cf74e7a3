/**
 * What the engine benchmarks share: a deterministic UI-like screenshot, the engine's preprocessing of it
 * written as tensors for the PyTorch side (so both sides see the same inputs), and the median.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { loadBundle } from "../../models/bundle/bundle";
import { loadImage } from "../../models/image/load";
import { preprocessImage } from "../../models/preprocess";
import { buildInputIds, buildPrompt } from "../../models/prompt";

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A linear congruential generator in [0, 1): the same numbers on every machine. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * A UI-like screenshot: a dark side bar and coloured boxes on a light background, each box with a text-like
 * bar unless `textBars` is false (the prefix-cache bench's image has none). Deterministic.
 */
export async function makeScreenshot(path: string, width: number, height: number, options: { textBars?: boolean } = {}): Promise<void> {
  const rand = lcg(7);
  const shapes: string[] = [];
  for (let i = 0; i < Math.max(8, Math.round((width * height) / 17000)); i++) {
    const x = Math.floor(rand() * width * 0.94), y = Math.floor(rand() * height * 0.93);
    const w = 20 + Math.floor(rand() * width * 0.15), h = 10 + Math.floor(rand() * height * 0.05);
    const shade = Math.floor(rand() * 200);
    shapes.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="4" fill="rgb(${shade},${(shade * 3) % 255},${255 - shade})"/>`);
    if (options.textBars !== false) {
      shapes.push(`<rect x="${x + 4}" y="${y + 4}" width="${Math.max(4, w - 8)}" height="3" fill="#222"/>`);
    }
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#f3f3f3"/>` +
    `<rect width="${Math.round(width * 0.135)}" height="${height}" fill="#252526"/>${shapes.join("")}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path);
}

/** The hex sha256 of a typed array's bytes (the inputs' fingerprint both sides compare). */
export function sha256(data: ArrayBufferView): string {
  return createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");
}

/**
 * The engine's own preprocessing of the image and question, written as little-endian tensors with an
 * inputs.json naming them: input_ids [1, L] int64, crops [n, 576, 588] f32, image_masks [n, 576] f32,
 * image_input_idx [n, 144] int64 as sequence positions (the preprocessor's index + the offset of the first
 * image token; -1 where the slot is dropped), which is where the engine adds each feature.
 */
export async function writeInputs(
  bundleDir: string,
  tokenizerPath: string,
  imagePath: string,
  dir: string,
  question: string,
): Promise<{ sha256: string; length: number; nCrops: number }> {
  const bundle = await loadBundle(bundleDir, { tokenizerPath });
  const pre = await preprocessImage(await loadImage(imagePath), bundle.preprocessorConfig, bundle.tokenizer.imageTokens);
  const input = buildInputIds({
    tokenizer: bundle.tokenizer,
    imageTokens: pre.imageTokens,
    prompt: buildPrompt({ kind: "ask", question }),
    maxSequenceLength: bundle.manifest.dims.maxPositionEmbeddings,
  });
  const ids = BigInt64Array.from(input.inputIds, (id) => BigInt(id));
  const idx = BigInt64Array.from(pre.imageInputIdx, (i) => BigInt(i < 0 ? -1 : i + input.imageTokenOffset));
  const tensors = {
    input_ids: { data: ids, shape: [1, ids.length], file: "input_ids.i64" },
    crops: { data: pre.crops, shape: [pre.nCrops, pre.patchesPerCrop, pre.pixelsPerPatch], file: "crops.f32" },
    image_masks: { data: pre.imageMasks, shape: [pre.nCrops, pre.patchesPerCrop], file: "image_masks.f32" },
    image_input_idx: { data: idx, shape: [pre.nCrops, idx.length / pre.nCrops], file: "image_input_idx.i64" },
  };
  for (const tensor of Object.values(tensors)) {
    writeFileSync(join(dir, tensor.file), new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  const digest = sha256(input.inputIds);
  const meta = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, { file: t.file, shape: t.shape }]));
  writeFileSync(join(dir, "inputs.json"), JSON.stringify({ ...meta, sha256: digest, question }));
  return { sha256: digest, length: ids.length, nCrops: pre.nCrops };
}
