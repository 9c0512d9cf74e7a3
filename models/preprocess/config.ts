import { PreprocessError } from "./errors";

/** The only crop mode of the released Molmo v1 checkpoints (overlapping crops + one resized global view). */
export type CropMode = "overlap-and-resize-c2";

/**
 * How the image is resized into the canvas (see models/preprocess/NOTES.md for the measured differences):
 * - `sharp`: libvips (via sharp) linear-kernel reduction for downscaling, with the outermost output rows
 *   and columns and every upscaling recomputed exactly; fast, within a few thousandths of the reference
 *   on average (larger, up to ~0.1 normalised units, at sharp edges when shrinking 4x or more).
 * - `exact`: a TypeScript port of the reference's resampling arithmetic (torchvision bilinear with
 *   antialias on float32): matches the reference to ~1e-6, several times slower on large images.
 */
export type ResizeBackend = "sharp" | "exact";

/**
 * Settings of Molmo's multi-crop image preprocessing. Sizes are [height, width], margins
 * [left/top, right/bottom] in patches, as in the reference (allenai/molmo
 * `olmo/data/model_preprocessor.py::MultiModalPreprocessor`).
 */
export interface MolmoPreprocessorConfig {
  readonly cropMode: CropMode;
  /** Most high-resolution crops (the global view comes on top). */
  readonly maxCrops: number;
  /** Patches dropped from the (left/top, right/bottom) side of interior crops. */
  readonly overlapMargins: readonly [number, number];
  /** ViT input size [height, width]; must be square. */
  readonly baseImageInputSize: readonly [number, number];
  readonly imagePatchSize: number;
  readonly imagePoolingH: number;
  readonly imagePoolingW: number;
  /** Pooled tokens per crop side; must equal ceil(patches per crop side / pooling). */
  readonly imageTokenLengthH: number;
  readonly imageTokenLengthW: number;
  readonly imageMean: readonly [number, number, number];
  readonly imageStd: readonly [number, number, number];
  /** Value of padding pixels in [0, 1] space, before normalisation. */
  readonly padValue: number;
  /** Whether each row of image patch tokens ends with an `<im_col>` token. */
  readonly useColTokens: boolean;
  /** Whether the model consumes `image_masks` (true for the released checkpoints). */
  readonly imagePaddingMask: boolean;
  /** Not a checkpoint setting: how this implementation resizes. */
  readonly resizeBackend: ResizeBackend;
}

/** OpenAI CLIP normalisation (transformers `OPENAI_CLIP_MEAN` / `OPENAI_CLIP_STD`). */
export const OPENAI_CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** The released Molmo-7B-D-0924 settings (HF preprocessor_config.json; GH olmo/hf_molmo.py). */
export const MOLMO_7B_D_PREPROCESSOR: MolmoPreprocessorConfig = Object.freeze({
  cropMode: "overlap-and-resize-c2",
  maxCrops: 12,
  overlapMargins: [4, 4] as const,
  baseImageInputSize: [336, 336] as const,
  imagePatchSize: 14,
  imagePoolingH: 2,
  imagePoolingW: 2,
  imageTokenLengthH: 12,
  imageTokenLengthW: 12,
  imageMean: OPENAI_CLIP_MEAN,
  imageStd: OPENAI_CLIP_STD,
  padValue: 0,
  useColTokens: true,
  imagePaddingMask: true,
  resizeBackend: "sharp",
});

/** The released Molmo-7B-D-0924 settings (a fresh reference to the frozen defaults). */
export function defaultPreprocessorConfig(): MolmoPreprocessorConfig {
  return MOLMO_7B_D_PREPROCESSOR;
}

/**
 * Reads a checkpoint's `preprocessor_config.json` (the HF field names: `max_crops`, `overlap_margins`,
 * `base_image_input_size`, `image_patch_size`, `image_token_length_w/h`, `image_mean`, `image_std`,
 * `image_padding_mask`, `do_normalize`), taking the released 7B-D value for every absent field. The GH
 * names `crop_mode`, `image_pooling_w/h`, `pad_value` and `use_col_tokens` are read too when present
 * (HF's processor hard-codes them). `do_normalize` is accepted and ignored, as the HF processor ignores
 * it (it always normalises).
 *
 * @param json the parsed JSON object.
 * @param overrides settings to apply on top (e.g. a `maxCrops` from the command line, `resizeBackend`).
 * @throws PreprocessError (`invalid_config` / `unsupported_config`) for a bad or unsupported value.
 */
export function preprocessorConfigFromJson(
  json: unknown,
  overrides: Partial<MolmoPreprocessorConfig> = {},
): MolmoPreprocessorConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new PreprocessError("invalid_config", "preprocessor_config.json must hold a JSON object.");
  }
  const fields = json as Record<string, unknown>;
  const d = MOLMO_7B_D_PREPROCESSOR;
  const config: MolmoPreprocessorConfig = {
    cropMode: readString(fields, "crop_mode", d.cropMode) as CropMode,
    maxCrops: readNumber(fields, "max_crops", d.maxCrops),
    overlapMargins: readPair(fields, "overlap_margins", d.overlapMargins),
    baseImageInputSize: readSize(fields, "base_image_input_size", d.baseImageInputSize),
    imagePatchSize: readNumber(fields, "image_patch_size", d.imagePatchSize),
    imagePoolingH: readNumber(fields, "image_pooling_h", d.imagePoolingH),
    imagePoolingW: readNumber(fields, "image_pooling_w", d.imagePoolingW),
    imageTokenLengthH: readNumber(fields, "image_token_length_h", d.imageTokenLengthH),
    imageTokenLengthW: readNumber(fields, "image_token_length_w", d.imageTokenLengthW),
    imageMean: readTriple(fields, "image_mean", d.imageMean),
    imageStd: readTriple(fields, "image_std", d.imageStd),
    padValue: readNumber(fields, "pad_value", d.padValue),
    useColTokens: readBoolean(fields, "use_col_tokens", d.useColTokens),
    imagePaddingMask: readBoolean(fields, "image_padding_mask", d.imagePaddingMask),
    resizeBackend: d.resizeBackend,
  };
  readBoolean(fields, "do_normalize", true);
  return validatePreprocessorConfig({ ...config, ...overrides });
}

/**
 * Checks a configuration the way the reference's assertions do, with a sentence per problem instead of
 * an assertion failure, and returns it frozen.
 * @throws PreprocessError (`invalid_config` / `unsupported_config`).
 */
export function validatePreprocessorConfig(config: MolmoPreprocessorConfig): MolmoPreprocessorConfig {
  if (config.cropMode !== "overlap-and-resize-c2") {
    throw new PreprocessError(
      "unsupported_config",
      `crop mode ${JSON.stringify(config.cropMode)} is not supported; only "overlap-and-resize-c2" (the released Molmo v1 mode) is.`,
    );
  }
  if (config.resizeBackend !== "sharp" && config.resizeBackend !== "exact") {
    throw new PreprocessError(
      "invalid_config",
      `resize backend ${JSON.stringify(config.resizeBackend)} is unknown; use "sharp" or "exact".`,
    );
  }
  // 256 crops are ~350 MB of float32 pixels; the reference's own high-resolution eval uses 36.
  positiveInteger(config.maxCrops, "max_crops", 256);
  positiveInteger(config.imagePatchSize, "image_patch_size", 4096);
  positiveInteger(config.imagePoolingH, "image_pooling_h", 4096);
  positiveInteger(config.imagePoolingW, "image_pooling_w", 4096);
  positiveInteger(config.imageTokenLengthH, "image_token_length_h", 4096);
  positiveInteger(config.imageTokenLengthW, "image_token_length_w", 4096);
  const [inputH, inputW] = config.baseImageInputSize;
  positiveInteger(inputH, "base_image_input_size[0]", 65536);
  positiveInteger(inputW, "base_image_input_size[1]", 65536);
  // The reference cuts square crops of base_image_input_size[0] pixels and counts patches per side
  // from either entry, so a non-square size does not work there either.
  if (inputH !== inputW) {
    throw new PreprocessError("unsupported_config", `base_image_input_size must be square, got [${inputH}, ${inputW}].`);
  }
  if (inputH % config.imagePatchSize !== 0) {
    throw new PreprocessError(
      "invalid_config",
      `base_image_input_size ${inputH} is not a multiple of image_patch_size ${config.imagePatchSize}.`,
    );
  }
  const [left, right] = config.overlapMargins;
  for (const [value, name] of [[left, "overlap_margins[0]"], [right, "overlap_margins[1]"]] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new PreprocessError("invalid_config", `${name} must be a non-negative integer, got ${String(value)}.`);
    }
    // Same requirement as the reference's assertions: kept regions must start on a pooling window.
    if (value % config.imagePoolingH !== 0 || value % config.imagePoolingW !== 0) {
      throw new PreprocessError(
        "invalid_config",
        `${name} (${value}) must be divisible by the pooling size ${config.imagePoolingH}x${config.imagePoolingW}.`,
      );
    }
  }
  const cropPatches = inputH / config.imagePatchSize;
  if (cropPatches - left - right <= 0) {
    throw new PreprocessError(
      "invalid_config",
      `overlap_margins [${left}, ${right}] leave no crop window in a crop of ${cropPatches} patches.`,
    );
  }
  const pooledH = Math.ceil(cropPatches / config.imagePoolingH);
  const pooledW = Math.ceil(cropPatches / config.imagePoolingW);
  if (pooledH !== config.imageTokenLengthH || pooledW !== config.imageTokenLengthW) {
    throw new PreprocessError(
      "invalid_config",
      `image_token_length ${config.imageTokenLengthH}x${config.imageTokenLengthW} does not match ` +
        `${cropPatches} patches per crop side pooled ${config.imagePoolingH}x${config.imagePoolingW} (expected ${pooledH}x${pooledW}).`,
    );
  }
  for (let c = 0; c < 3; c++) {
    if (!Number.isFinite(config.imageMean[c])) {
      throw new PreprocessError("invalid_config", `image_mean[${c}] must be a finite number.`);
    }
    if (!Number.isFinite(config.imageStd[c]) || config.imageStd[c] <= 0) {
      throw new PreprocessError("invalid_config", `image_std[${c}] must be a positive number.`);
    }
  }
  if (!Number.isFinite(config.padValue)) {
    throw new PreprocessError("invalid_config", "pad_value must be a finite number.");
  }
  return Object.freeze({
    ...config,
    overlapMargins: Object.freeze([left, right] as const),
    baseImageInputSize: Object.freeze([inputH, inputW] as const),
    imageMean: Object.freeze([...config.imageMean] as [number, number, number]),
    imageStd: Object.freeze([...config.imageStd] as [number, number, number]),
  });
}

function positiveInteger(value: number, name: string, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new PreprocessError("invalid_config", `${name} must be an integer from 1 to ${max}, got ${String(value)}.`);
  }
}

function readNumber(fields: Record<string, unknown>, key: string, fallback: number): number {
  const value = fields[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number") {
    throw new PreprocessError("invalid_config", `${key} must be a number, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function readString(fields: Record<string, unknown>, key: string, fallback: string): string {
  const value = fields[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string") {
    throw new PreprocessError("invalid_config", `${key} must be a string, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function readBoolean(fields: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = fields[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") {
    throw new PreprocessError("invalid_config", `${key} must be true or false, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function readNumberList(fields: Record<string, unknown>, key: string, length: number): number[] | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === "number")) {
    throw new PreprocessError("invalid_config", `${key} must be a list of ${length} numbers, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function readPair(fields: Record<string, unknown>, key: string, fallback: readonly [number, number]): readonly [number, number] {
  const list = readNumberList(fields, key, 2);
  return list === undefined ? fallback : [list[0], list[1]];
}

/** `base_image_input_size` may be a single number (square) or [height, width], as the reference accepts. */
function readSize(fields: Record<string, unknown>, key: string, fallback: readonly [number, number]): readonly [number, number] {
  const value = fields[key];
  if (typeof value === "number") return [value, value];
  return readPair(fields, key, fallback);
}

/** `image_mean` / `image_std` may be one number for all channels, as the HF processor allows. */
function readTriple(
  fields: Record<string, unknown>,
  key: string,
  fallback: readonly [number, number, number],
): readonly [number, number, number] {
  const value = fields[key];
  if (typeof value === "number") return [value, value, value];
  const list = readNumberList(fields, key, 3);
  return list === undefined ? fallback : [list[0], list[1], list[2]];
}
