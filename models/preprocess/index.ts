/**
 * Molmo v1 (0924 release) multi-crop image preprocessing, faithful to the reference implementation
 * (allenai/molmo `olmo/data/model_preprocessor.py::MultiModalPreprocessor`, crop mode
 * overlap-and-resize-c2). See models/preprocess/NOTES.md for the decisions and measured differences.
 */
import type { RgbImage } from "../image/types";
import { MOLMO_7B_D_PREPROCESSOR, validatePreprocessorConfig, type MolmoPreprocessorConfig } from "./config";
import { uninitialisedFloat32, writePatchContentFractions, type CropGeometry } from "./crops";
import { PreprocessError } from "./errors";
import { letterbox, type Letterbox } from "./letterbox";
import { Normaliser } from "./normalise";
import { writeCrops } from "./patchify";
import { resizeImage } from "./resize";
import { selectTiling } from "./tiling";
import { buildImageInputIdx, buildImageTokens } from "./tokens";
import { QWEN2_IMAGE_TOKENS, type ContentPlacement, type ImageSpecialTokens, type PreprocessedImage } from "./types";

export * from "./config";
export { PreprocessError, type PreprocessErrorCode } from "./errors";
export { selectTiling, tilingCandidates, type Tiling } from "./tiling";
export { letterbox, type Letterbox } from "./letterbox";
export { buildImageTokens, buildImageInputIdx, DROPPED_SLOT } from "./tokens";
export * from "./types";

/**
 * Turns an RGB image into Molmo's vision inputs and image-token sequence.
 *
 * Steps (reference order): choose the tiling from the image size minus the overlap margin; letterbox the
 * image into the high-resolution canvas (rows * window + margin) x (cols * window + margin) and into the
 * global 336 x 336 view (bilinear with antialias in float, centred padding with `padValue`); normalise
 * with the CLIP mean/std; cut rows x cols crops of 336 px at a stride of the crop window (224 px); patchify
 * everything with the global view first; compute the per-patch padding fractions (in the reference's
 * shifted layout) and the image tokens with the index that maps pooled slots to `<im_patch>` positions.
 *
 * Pure with respect to its inputs (nothing passed in is modified).
 *
 * @param image upright 8-bit RGB, e.g. from `loadImage` (EXIF orientation applied, alpha dropped).
 * @param config preprocessing settings; default the released Molmo-7B-D-0924 ones.
 * @param tokens ids of the image special tokens; default Molmo-7B-D's Qwen2 ids.
 * @throws PreprocessError for an invalid image or configuration, or when resizing fails.
 */
export async function preprocessImage(
  image: RgbImage,
  config: MolmoPreprocessorConfig = MOLMO_7B_D_PREPROCESSOR,
  tokens: ImageSpecialTokens = QWEN2_IMAGE_TOKENS,
): Promise<PreprocessedImage> {
  checkImage(image);
  checkTokens(tokens);
  const cfg = validatePreprocessorConfig(config);

  const patchSize = cfg.imagePatchSize;
  const cropSize = cfg.baseImageInputSize[0];
  const [leftMargin, rightMargin] = cfg.overlapMargins;
  const marginPixels = patchSize * (leftMargin + rightMargin);
  const windowPixels = (cropSize / patchSize - (leftMargin + rightMargin)) * patchSize;

  const tiling = selectTiling(image.height - marginPixels, image.width - marginPixels, windowPixels, cfg.maxCrops);
  const highResBox = letterbox(
    image.height,
    image.width,
    tiling.rows * windowPixels + marginPixels,
    tiling.cols * windowPixels + marginPixels,
  );
  const globalBox = letterbox(image.height, image.width, cropSize, cropSize);

  const normaliser = new Normaliser(cfg.imageMean, cfg.imageStd, cfg.padValue);
  const geometry: CropGeometry = { cropSize, patchSize };
  const patchesPerCrop = (cropSize / patchSize) ** 2;
  const pixelsPerPatch = patchSize * patchSize * 3;
  const cropValues = patchesPerCrop * pixelsPerPatch;
  const nCrops = 1 + tiling.rows * tiling.cols;
  const crops = uninitialisedFloat32(nCrops * cropValues); // every value is written below

  // Both resizes start before either is awaited, so sharp runs them on two threads, and each view's
  // crops are written as soon as its own resize is done, while the other one may still be running.
  await Promise.all([
    resizeImage(image, globalBox.contentHeight, globalBox.contentWidth, cfg.resizeBackend).then((resized) =>
      writeCrops(crops, resized, { box: globalBox, rows: 1, cols: 1, stride: cropSize, offset: 0 }, geometry, normaliser),
    ),
    resizeImage(image, highResBox.contentHeight, highResBox.contentWidth, cfg.resizeBackend).then((resized) =>
      writeCrops(crops, resized, { box: highResBox, rows: tiling.rows, cols: tiling.cols, stride: windowPixels, offset: cropValues }, geometry, normaliser),
    ),
  ]);

  const imageMasks = new Float32Array(nCrops * patchesPerCrop).fill(-1);
  for (let k = 0; k < tiling.rows * tiling.cols; k++) {
    // Reference layout: high-res crop k's mask goes in row k (not k + 1); the last row stays -1.
    const y0 = Math.floor(k / tiling.cols) * windowPixels;
    const x0 = (k % tiling.cols) * windowPixels;
    writePatchContentFractions(imageMasks, k * patchesPerCrop, highResBox, y0, x0, geometry);
  }

  const imageTokens = buildImageTokens(tiling, cfg, tokens);
  const imageInputIdx = buildImageInputIdx(tiling, cfg, imageTokens, tokens);
  let numPatchTokens = 0;
  for (const id of imageTokens) if (id === tokens.imPatch) numPatchTokens++;

  return {
    crops,
    nCrops,
    patchesPerCrop,
    pixelsPerPatch,
    imageMasks,
    imageInputIdx,
    tokensPerCrop: cfg.imageTokenLengthH * cfg.imageTokenLengthW,
    imageTokens,
    numPatchTokens,
    tiling: { rows: tiling.rows, cols: tiling.cols },
    originalSize: { width: image.width, height: image.height },
    highRes: placement(highResBox),
    global: placement(globalBox),
    resizedContentSize: { width: highResBox.contentWidth, height: highResBox.contentHeight },
    specialTokens: { ...tokens },
  };
}

function placement(box: Letterbox): ContentPlacement {
  return {
    canvas: { width: box.canvasWidth, height: box.canvasHeight },
    content: { width: box.contentWidth, height: box.contentHeight },
    top: box.top,
    left: box.left,
  };
}

function checkImage(image: RgbImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new PreprocessError("invalid_image", `image size must be positive integers, got ${String(width)}x${String(height)}.`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new PreprocessError(
      "invalid_image",
      `expected ${width * height * 3} bytes of RGB for a ${width}x${height} image, got ${data instanceof Uint8Array ? data.length : typeof data}.`,
    );
  }
}

function checkTokens(tokens: ImageSpecialTokens): void {
  for (const key of ["imStart", "imEnd", "imPatch", "imCol"] as const) {
    const id = tokens[key];
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new PreprocessError("invalid_config", `special token id ${key} must be a non-negative int32, got ${String(id)}.`);
    }
  }
}
