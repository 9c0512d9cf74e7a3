/**
 * Broken bundles and bad inputs give the documented errors: each test damages one thing in a temporary
 * copy of the tiny bundle (tests/helpers/tiny-bundle.ts; the committed fixture is never written) and
 * checks the error's class, code and that its message names what is wrong.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBundle } from "../../models/bundle/bundle";
import { BundleError, type BundleErrorCode } from "../../models/bundle/errors";
import { EngineError } from "../../models/engine/errors";
import { MolmoEngine } from "../../models/engine/molmo-engine";
import { ImageLoadError } from "../../models/image/load";
import { buildMolmoTokenizerJson, molmoTokenizerJsonPath } from "../helpers/molmo-tokenizer-fixture";
import { committedTinyBundleDir, makeTinyBundle, removeBundleFile, replaceBundleFile, tinyMolmoDir } from "../helpers/tiny-bundle";

type Json = Record<string, unknown>;

/**
 * A temporary bundle whose config.json has the field at `path` set to `value` (or deleted, for
 * undefined), e.g. `["molmo_onnx", "dims", "d_model"]`.
 */
function bundleWithConfig(path: readonly string[], value: unknown): string {
  const dir = makeTinyBundle();
  const config = JSON.parse(readFileSync(join(committedTinyBundleDir(), "config.json"), "utf8")) as Json;
  let parent = config;
  for (const key of path.slice(0, -1)) parent = parent[key] as Json;
  const last = path[path.length - 1];
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  replaceBundleFile(dir, "config.json", JSON.stringify(config));
  return dir;
}

function bundleError(code: BundleErrorCode, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BundleError, `expected a BundleError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  };
}

void test("a missing graph file is named", async () => {
  const dir = makeTinyBundle();
  removeBundleFile(dir, "onnx/decoder_model_merged.onnx");
  await assert.rejects(MolmoEngine.load(dir, { ep: "cpu" }), bundleError("missing_file", /onnx\/decoder_model_merged\.onnx/));
});

void test("a missing or wrong bundle folder", async () => {
  await assert.rejects(loadBundle(join(tmpdir(), "no-such-molmo-bundle")), bundleError("not_found", /molmo export/));
  await assert.rejects(loadBundle(join(tinyMolmoDir(), "image.png")), bundleError("not_a_directory", /must be a folder/));
  const empty = mkdtempSync(join(tmpdir(), "molmo-empty-bundle-"));
  await assert.rejects(loadBundle(empty), bundleError("missing_file", /config\.json/));
});

void test("corrupt JSON and a config without the export manifest", async () => {
  const truncated = makeTinyBundle();
  replaceBundleFile(truncated, "config.json", readFileSync(join(committedTinyBundleDir(), "config.json"), "utf8").slice(0, 500));
  await assert.rejects(loadBundle(truncated), bundleError("corrupt_file", /config\.json is not valid JSON/));

  const checkpointConfig = bundleWithConfig(["molmo_onnx"], undefined);
  await assert.rejects(loadBundle(checkpointConfig), bundleError("bad_config", /no "molmo_onnx" section.*molmo export/s));

  const badField = bundleWithConfig(["molmo_onnx", "dims", "d_model"], "sixteen");
  await assert.rejects(loadBundle(badField), bundleError("bad_config", /molmo_onnx\.dims\.d_model/));

  const badPreprocessor = makeTinyBundle();
  replaceBundleFile(badPreprocessor, "preprocessor_config.json", "{");
  await assert.rejects(loadBundle(badPreprocessor), bundleError("corrupt_file", /preprocessor_config\.json/));
});

void test("an export version or dtype this engine does not run", async () => {
  await assert.rejects(loadBundle(bundleWithConfig(["molmo_onnx", "export_version"], 99)), bundleError("unsupported", /export_version is 99/));
  await assert.rejects(loadBundle(bundleWithConfig(["molmo_onnx", "dtype"], "int3")), bundleError("unsupported", /"int3"/));
});

void test("a num_logits_to_keep input the engine cannot feed", async () => {
  const config = JSON.parse(readFileSync(join(committedTinyBundleDir(), "config.json"), "utf8")) as { molmo_onnx: { graphs: { decoder_model_merged: { inputs: { name: string }[] } } } };
  const index = String(config.molmo_onnx.graphs.decoder_model_merged.inputs.findIndex((input) => input.name === "num_logits_to_keep"));
  assert.notEqual(index, "-1", "the committed bundle declares num_logits_to_keep");
  const input = ["molmo_onnx", "graphs", "decoder_model_merged", "inputs", index];
  await assert.rejects(loadBundle(bundleWithConfig([...input, "dtype"], "float32")), bundleError("config_mismatch", /num_logits_to_keep input is float32 \[\]/));
  await assert.rejects(loadBundle(bundleWithConfig([...input, "shape"], ["batch_size"])), bundleError("config_mismatch", /int64 scalar/));
});

void test("a graph file of the wrong size, a damaged graph, and a graph from elsewhere", async () => {
  const truncated = makeTinyBundle();
  const vision = readFileSync(join(committedTinyBundleDir(), "onnx/vision_encoder.onnx"));
  replaceBundleFile(truncated, "onnx/vision_encoder.onnx", vision.subarray(0, 1000));
  await assert.rejects(loadBundle(truncated), bundleError("corrupt_file", /vision_encoder\.onnx is 1000 bytes but .* records/));

  // The recorded size, but not an ONNX model: only onnxruntime can tell.
  const garbage = makeTinyBundle();
  replaceBundleFile(garbage, "onnx/vision_encoder.onnx", new Uint8Array(vision.length).fill(0x5a));
  await assert.rejects(MolmoEngine.load(garbage, { ep: "cpu" }), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, "corrupt_model");
    assert.match(error.message, /vision_encoder\.onnx/);
    return true;
  });

  // The embedding graph in the vision encoder's place (sizes unrecorded): its inputs give it away.
  const swapped = bundleWithConfig(["molmo_onnx", "files"], undefined);
  replaceBundleFile(swapped, "onnx/vision_encoder.onnx", readFileSync(join(committedTinyBundleDir(), "onnx/embed_tokens.onnx")));
  await assert.rejects(MolmoEngine.load(swapped, { ep: "cpu" }), bundleError("config_mismatch", /does not belong to this bundle/));
});

void test("a tokenizer that is not the model's, and a bundle without one", async () => {
  const dir = makeTinyBundle({ withTokenizer: false });
  await assert.rejects(loadBundle(dir), bundleError("missing_file", /exported without tokenizer\.json.*--tokenizer/s));
  const loaded = await loadBundle(dir, { tokenizerPath: molmoTokenizerJsonPath() });
  assert.equal(loaded.tokenizer.imageTokens.imPatch, 152066);

  // Molmo's tokens at other ids (as in a tokenizer of another base model).
  const tokenizer = buildMolmoTokenizerJson();
  for (const token of tokenizer.added_tokens as { id: number; content: string }[]) {
    if (token.content === "<im_start>") token.id = 152065;
    else if (token.content === "<im_end>") token.id = 152064;
  }
  const swappedIds = join(mkdtempSync(join(tmpdir(), "molmo-tokenizer-")), "tokenizer.json");
  writeFileSync(swappedIds, JSON.stringify(tokenizer));
  await assert.rejects(loadBundle(dir, { tokenizerPath: swappedIds }), bundleError("config_mismatch", /<im_start> is 152065, the model was exported with 152064/));

  const notATokenizer = makeTinyBundle({ withTokenizer: false });
  replaceBundleFile(notATokenizer, "tokenizer.json", JSON.stringify({ version: "1.0" }));
  await assert.rejects(loadBundle(notATokenizer), bundleError("bad_tokenizer", /tokenizer\.json/));
});

void test("preprocessing settings the vision encoder cannot take", async () => {
  const dir = makeTinyBundle();
  const settings = JSON.parse(readFileSync(join(committedTinyBundleDir(), "preprocessor_config.json"), "utf8")) as Json;
  Object.assign(settings, { base_image_input_size: [224, 224], image_token_length_w: 8, image_token_length_h: 8 });
  replaceBundleFile(dir, "preprocessor_config.json", JSON.stringify(settings));
  await assert.rejects(loadBundle(dir), bundleError("config_mismatch", /crops of 224x224 px, the vision encoder takes 336x336/));
});

void test("an unknown execution provider", async () => {
  await assert.rejects(MolmoEngine.load(makeTinyBundle(), { ep: "tpu" }), (error: unknown) => error instanceof EngineError && error.code === "unknown_ep");
});

void test("bad images give ImageLoadErrors", async (t) => {
  const engine = await MolmoEngine.load(makeTinyBundle(), { ep: "cpu" });
  t.after(() => engine.dispose());
  const missing = join(tmpdir(), "no-such-image-for-molmo.png");
  await assert.rejects(engine.ask({ image: missing, prompt: "Hi?" }), (error: unknown) => error instanceof ImageLoadError && error.code === "not_found");
  const corrupt = join(mkdtempSync(join(tmpdir(), "molmo-image-")), "corrupt.png");
  writeFileSync(corrupt, Buffer.concat([readFileSync(join(tinyMolmoDir(), "image.png")).subarray(0, 100), Buffer.alloc(50, 7)]));
  await assert.rejects(engine.ask({ image: corrupt, prompt: "Hi?" }), (error: unknown) => error instanceof ImageLoadError);
  assert.equal(engine.stats().visionRuns, 0);
});
