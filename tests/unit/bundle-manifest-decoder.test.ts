/**
 * The manifest's optional `decoder` section (export --decoder-ops): absent means a plain decoder (bundles made
 * before the option), "fused" is read with its positions rule, anything else is refused by name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BundleError } from "../../models/bundle/errors";
import { parseManifest } from "../../models/bundle/manifest";
import { committedTinyBundleDir } from "../helpers/tiny-bundle";

function configWith(decoder: unknown): Record<string, unknown> {
  const config = JSON.parse(readFileSync(join(committedTinyBundleDir(), "config.json"), "utf8")) as { molmo_onnx: Record<string, unknown> };
  if (decoder === undefined) {
    delete config.molmo_onnx.decoder;
  } else {
    config.molmo_onnx.decoder = decoder;
  }
  return config;
}

void test("a bundle without a decoder section has a plain decoder", () => {
  assert.deepEqual(parseManifest(configWith(undefined), "config.json").decoder, { ops: "plain", positions: "position_ids" });
});

void test("a fused decoder section is read, its positions defaulting to the attention mask", () => {
  const written = { ops: "fused", positions: "attention_mask", operators: ["com.microsoft.GroupQueryAttention"] };
  assert.deepEqual(parseManifest(configWith(written), "config.json").decoder, { ops: "fused", positions: "attention_mask" });
  assert.deepEqual(parseManifest(configWith({ ops: "fused" }), "config.json").decoder, { ops: "fused", positions: "attention_mask" });
  assert.deepEqual(parseManifest(configWith({ ops: "plain" }), "config.json").decoder, { ops: "plain", positions: "position_ids" });
});

void test("an unknown decoder kind or positions rule is refused with a sentence naming the field", () => {
  assert.throws(
    () => parseManifest(configWith({ ops: "turbo" }), "config.json"),
    (error: unknown) => error instanceof BundleError && error.code === "unsupported" && /molmo_onnx\.decoder\.ops "turbo"/.test(error.message),
  );
  assert.throws(
    () => parseManifest(configWith({ ops: "fused", positions: "rope" }), "config.json"),
    (error: unknown) => error instanceof BundleError && error.code === "bad_config" && /molmo_onnx\.decoder\.positions/.test(error.message),
  );
  assert.throws(() => parseManifest(configWith("fused"), "config.json"), (error: unknown) => error instanceof BundleError && error.code === "bad_config");
});
