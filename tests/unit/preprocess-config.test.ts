import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defaultPreprocessorConfig,
  MOLMO_7B_D_PREPROCESSOR,
  preprocessorConfigFromJson,
  validatePreprocessorConfig,
} from "../../models/preprocess/config";
import { PreprocessError } from "../../models/preprocess/errors";

/** The released Molmo-7B-D-0924 preprocessor_config.json (HF hub). */
const RELEASED_JSON = {
  auto_map: {
    AutoImageProcessor: "image_preprocessing_molmo.MolmoImageProcessor",
    AutoProcessor: "preprocessing_molmo.MolmoProcessor",
  },
  base_image_input_size: [336, 336],
  do_normalize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_padding_mask: true,
  image_patch_size: 14,
  image_processor_type: "MolmoImageProcessor",
  image_std: [0.26862954, 0.26130258, 0.27577711],
  image_token_length_h: 12,
  image_token_length_w: 12,
  max_crops: 12,
  overlap_margins: [4, 4],
  processor_class: "MolmoProcessor",
};

function expectError(code: string, fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof PreprocessError, `expected PreprocessError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

void test("defaults are the released 7B-D settings", () => {
  const c = defaultPreprocessorConfig();
  assert.equal(c.cropMode, "overlap-and-resize-c2");
  assert.equal(c.maxCrops, 12);
  assert.deepEqual(c.overlapMargins, [4, 4]);
  assert.deepEqual(c.baseImageInputSize, [336, 336]);
  assert.equal(c.imagePatchSize, 14);
  assert.deepEqual([c.imagePoolingH, c.imagePoolingW, c.imageTokenLengthH, c.imageTokenLengthW], [2, 2, 12, 12]);
  assert.deepEqual(c.imageMean, [0.48145466, 0.4578275, 0.40821073]);
  assert.deepEqual(c.imageStd, [0.26862954, 0.26130258, 0.27577711]);
  assert.equal(c.padValue, 0);
  assert.equal(c.useColTokens, true);
  assert.equal(c.imagePaddingMask, true);
  assert.ok(Object.isFrozen(c));
});

void test("the released preprocessor_config.json reads back as the defaults", () => {
  assert.deepEqual(preprocessorConfigFromJson(RELEASED_JSON), validatePreprocessorConfig(MOLMO_7B_D_PREPROCESSOR));
  assert.deepEqual(preprocessorConfigFromJson({}), validatePreprocessorConfig(MOLMO_7B_D_PREPROCESSOR));
});

void test("JSON values and overrides are applied", () => {
  const c = preprocessorConfigFromJson({ ...RELEASED_JSON, max_crops: 36, overlap_margins: [2, 2] }, { resizeBackend: "exact" });
  assert.equal(c.maxCrops, 36);
  assert.deepEqual(c.overlapMargins, [2, 2]);
  assert.equal(c.resizeBackend, "exact");
  const scalar = preprocessorConfigFromJson({ image_mean: 0.5, image_std: 0.5, base_image_input_size: 336 });
  assert.deepEqual(scalar.imageMean, [0.5, 0.5, 0.5]);
  assert.deepEqual(scalar.baseImageInputSize, [336, 336]);
  const override = preprocessorConfigFromJson(RELEASED_JSON, { maxCrops: 4 });
  assert.equal(override.maxCrops, 4);
});

void test("margins must be divisible by the pooling size", () => {
  expectError("invalid_config", () => preprocessorConfigFromJson({ overlap_margins: [3, 4] }), /overlap_margins\[0\] \(3\) must be divisible by the pooling size 2x2/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ overlap_margins: [-2, 4] }), /non-negative/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ overlap_margins: [12, 12] }), /leave no crop window/);
});

void test("unsupported and inconsistent settings are refused with a sentence", () => {
  expectError("unsupported_config", () => preprocessorConfigFromJson({ crop_mode: "resize" }), /crop mode "resize" is not supported/);
  expectError("unsupported_config", () => preprocessorConfigFromJson({ base_image_input_size: [336, 448] }), /must be square/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ base_image_input_size: [340, 340] }), /not a multiple of image_patch_size 14/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ image_token_length_w: 24 }), /expected 12x12/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ max_crops: 0 }), /max_crops must be an integer from 1 to 256/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ max_crops: 2.5 }), /max_crops/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ image_std: [0.2, 0, 0.2] }), /image_std\[1\] must be a positive number/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ image_mean: [0.2, 0.2] }), /image_mean must be a list of 3 numbers/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ max_crops: "12" }), /max_crops must be a number/);
  expectError("invalid_config", () => preprocessorConfigFromJson({ image_padding_mask: "yes" }), /image_padding_mask must be true or false/);
  expectError("invalid_config", () => preprocessorConfigFromJson([1, 2]), /JSON object/);
  expectError("invalid_config", () => preprocessorConfigFromJson(null), /JSON object/);
  expectError(
    "invalid_config",
    () => validatePreprocessorConfig({ ...MOLMO_7B_D_PREPROCESSOR, resizeBackend: "bicubic" as "exact" }),
    /resize backend "bicubic" is unknown/,
  );
});
