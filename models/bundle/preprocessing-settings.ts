/**
 * What preprocessing needs from a model bundle: the crop/tiling settings of
 * `preprocessor_config.json` and the ids of the image tokens in `tokenizer.json`.
 *
 * Without a bundle the released Molmo-7B-D-0924 settings and Qwen2 ids are used, which is
 * what the debug CLI wants when no model has been exported yet.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { MolmoPreprocessorConfig, defaultPreprocessorConfig, preprocessorConfigFromJson } from "../preprocess/config";
import { ImageSpecialTokens, QWEN2_IMAGE_TOKENS } from "../preprocess/types";
import { MolmoTokenizer } from "../tokenizer/molmo-tokenizer";
import { BundleError } from "./errors";

export interface PreprocessingSettings {
  readonly config: MolmoPreprocessorConfig;
  readonly specialTokens: ImageSpecialTokens;
  /** Where the ids came from: a tokenizer.json path, or the built-in Molmo-7B-D defaults. */
  readonly specialTokensSource: string;
  readonly bundleDir?: string;
}

export async function loadPreprocessingSettings(bundleDir?: string): Promise<PreprocessingSettings> {
  if (bundleDir === undefined) {
    return {
      config: defaultPreprocessorConfig(),
      specialTokens: QWEN2_IMAGE_TOKENS,
      specialTokensSource: "built-in defaults (Molmo-7B-D-0924, Qwen2 tokenizer)",
    };
  }
  await assertDirectory(bundleDir);
  const configPath = join(bundleDir, "preprocessor_config.json");
  const tokenizerPath = join(bundleDir, "tokenizer.json");
  const config = preprocessorConfigFromJson(await readJson(configPath));
  const tokenizer = await MolmoTokenizer.fromFile(tokenizerPath).catch((error: unknown) => {
    throw new BundleError("bad_tokenizer", `${tokenizerPath}: ${error instanceof Error ? error.message : String(error)}`);
  });
  return { config, specialTokens: tokenizer.imageTokens, specialTokensSource: tokenizerPath, bundleDir };
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) {
    throw new BundleError("not_found", `model bundle not found: ${dir}`);
  }
  if (!info.isDirectory()) {
    throw new BundleError("not_a_directory", `model bundle must be a directory: ${dir}`);
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new BundleError("missing_file", `model bundle is missing ${path}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BundleError("corrupt_file", `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}
