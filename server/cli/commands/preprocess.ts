/**
 * `molmo preprocess <image> --out <dir>`: writes the exact tensors Molmo's vision encoder and
 * decoder receive for an image, as .npy files numpy can load, plus meta.json. Used to check
 * the TypeScript preprocessing against the reference implementation by hand.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadImage } from "../../../models/image/load";
import { preprocessImage } from "../../../models/preprocess";
import { loadPreprocessingSettings } from "../../../models/bundle/preprocessing-settings";
import { encodeNpy } from "../../../models/io/npy";
import { CliUsageError, parseCommandArgs, parsePositiveInt } from "../usage";

export async function runPreprocess(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (positionals.length !== 1) {
    throw new CliUsageError("expects exactly one image path (molmo preprocess <image> --out <dir>)");
  }
  if (values.out === undefined) {
    throw new CliUsageError("--out <dir> is required");
  }
  const imagePath = resolve(positionals[0]);
  const outDir = resolve(values.out);

  const settings = await loadPreprocessingSettings(values.model === undefined ? undefined : resolve(values.model));
  const config = values["max-crops"] === undefined
    ? settings.config
    : { ...settings.config, maxCrops: parsePositiveInt(values["max-crops"], "--max-crops") };
  const maxPixels = values["max-pixels"] === undefined ? undefined : parsePositiveInt(values["max-pixels"], "--max-pixels");

  const image = await loadImage(imagePath, maxPixels === undefined ? {} : { maxPixels });
  const started = performance.now();
  const result = await preprocessImage(image, config, settings.specialTokens);
  const elapsedMs = performance.now() - started;

  await mkdir(outDir, { recursive: true });
  const n = result.nCrops;
  await Promise.all([
    writeFile(join(outDir, "crops.npy"), encodeNpy(result.crops, [n, result.patchesPerCrop, result.pixelsPerPatch])),
    writeFile(join(outDir, "image_masks.npy"), encodeNpy(result.imageMasks, [n, result.patchesPerCrop])),
    writeFile(join(outDir, "image_input_idx.npy"), encodeNpy(result.imageInputIdx, [n, result.imageInputIdx.length / n])),
    writeFile(join(outDir, "tokens.npy"), encodeNpy(result.imageTokens, [result.imageTokens.length])),
  ]);
  const meta = {
    image: imagePath,
    format: image.format,
    original_size: { width: image.width, height: image.height },
    exif_orientation_applied: image.orientationApplied,
    had_alpha: image.hadAlpha,
    tiling: { rows: result.tiling.rows, cols: result.tiling.cols },
    n_crops: n,
    n_image_tokens: result.imageTokens.length,
    n_patch_tokens: result.numPatchTokens,
    image_input_idx: "positions within tokens.npy (no BOS); negative = slot dropped where crops overlap",
    special_tokens: {
      im_start: settings.specialTokens.imStart,
      im_end: settings.specialTokens.imEnd,
      im_patch: settings.specialTokens.imPatch,
      im_col: settings.specialTokens.imCol,
    },
    special_tokens_source: settings.specialTokensSource,
    options: config,
    model: settings.bundleDir ?? null,
    preprocess_ms: Math.round(elapsedMs * 10) / 10,
  };
  await writeFile(join(outDir, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
  process.stdout.write(
    `${imagePath}: ${image.width}x${image.height} -> tiling ${result.tiling.rows}x${result.tiling.cols}, ` +
      `${n} crops, ${result.imageTokens.length} image tokens; wrote ${outDir}\n`,
  );
}

const OPTIONS = {
    out: { type: "string", short: "o" },
    "max-crops": { type: "string" },
    "max-pixels": { type: "string" },
    model: { type: "string", short: "m" },
  } as const;
