/**
 * Loading an exported Molmo bundle (shared/docs/architecture.md, "Model bundle"): config.json with its
 * `molmo_onnx` manifest, preprocessor_config.json, the tokenizer and the three ONNX graphs.
 *
 * Everything that can be checked without opening a graph is checked here, before any session is made,
 * so that a broken bundle fails fast with a {@link BundleError} naming the file: a missing graph or weights
 * file, a file whose size differs from the manifest's record (an interrupted copy), corrupt JSON, and
 * files that disagree with each other (a tokenizer whose image-token ids are not the ones the model was
 * exported with, preprocessing settings whose crops the vision graph cannot take).
 */
import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { preprocessorConfigFromJson, type MolmoPreprocessorConfig } from "../preprocess/config";
import { PreprocessError } from "../preprocess/errors";
import { TokenizerError } from "../tokenizer/errors";
import { MolmoTokenizer } from "../tokenizer/molmo-tokenizer";
import { BundleError } from "./errors";
import { parseManifest, type GraphManifest, type MolmoOnnxManifest } from "./manifest";

/** How to load a bundle. */
export interface LoadBundleOptions {
  /**
   * A tokenizer.json to use instead of the bundle's own (required when the bundle was exported without
   * one). The bundle's tokenizer_config.json still applies when it has one.
   */
  readonly tokenizerPath?: string;
}

/** Absolute paths of the three graphs. */
export interface BundleGraphPaths {
  readonly visionEncoder: string;
  readonly embedTokens: string;
  readonly decoder: string;
}

/** A checked bundle, ready for sessions to be opened on its graphs. */
export interface MolmoBundle {
  /** The bundle folder, as given. */
  readonly dir: string;
  readonly manifest: MolmoOnnxManifest;
  /** The preprocessing the model was trained with (preprocessor_config.json). */
  readonly preprocessorConfig: MolmoPreprocessorConfig;
  readonly tokenizer: MolmoTokenizer;
  /** The tokenizer.json actually used. */
  readonly tokenizerPath: string;
  readonly graphPaths: BundleGraphPaths;
  /**
   * Identifies the model's weights (the recorded sizes and digests of its graphs, or the files' own
   * size and modification time when the manifest records none): part of the feature-cache key.
   */
  readonly id: string;
  /** Bytes of the graph and weight files together. */
  readonly modelBytes: number;
}

const CONFIG_FILE = "config.json";
const PREPROCESSOR_FILE = "preprocessor_config.json";
const TOKENIZER_FILE = "tokenizer.json";
const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";

/**
 * Reads and checks a bundle.
 *
 * @throws {BundleError} `not_found` / `not_a_directory` for a wrong path; `missing_file` naming the file
 *   (a graph, its external data, config.json, preprocessor_config.json, tokenizer.json); `corrupt_file`
 *   for invalid JSON or a file whose size differs from the manifest's record; `bad_config` for a malformed
 *   manifest or preprocessor config; `bad_tokenizer` for a tokenizer that cannot be loaded;
 *   `config_mismatch` when the files disagree; `unsupported` for an export version or dtype this engine
 *   does not run.
 */
export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<MolmoBundle> {
  await assertDirectory(dir);
  const configPath = join(dir, CONFIG_FILE);
  const manifest = parseManifest(await readJson(configPath, "the model configuration"), configPath);

  const graphs = manifest.graphs;
  const graphPaths: BundleGraphPaths = {
    visionEncoder: join(dir, graphs.visionEncoder.file),
    embedTokens: join(dir, graphs.embedTokens.file),
    decoder: join(dir, graphs.decoder.file),
  };
  let modelBytes = 0;
  for (const graph of [graphs.visionEncoder, graphs.embedTokens, graphs.decoder]) {
    modelBytes += await checkGraphFiles(dir, graph, manifest);
  }

  const preprocessorPath = join(dir, PREPROCESSOR_FILE);
  const preprocessorConfig = readPreprocessorConfig(await readJson(preprocessorPath, "the image preprocessing settings"), preprocessorPath);
  checkPreprocessing(preprocessorConfig, manifest, preprocessorPath);

  const tokenizerPath = options.tokenizerPath ?? join(dir, TOKENIZER_FILE);
  const tokenizer = await loadTokenizer(dir, tokenizerPath, options.tokenizerPath !== undefined, manifest);
  checkTokenizer(tokenizer, manifest, tokenizerPath, configPath);

  return {
    dir,
    manifest,
    preprocessorConfig,
    tokenizer,
    tokenizerPath,
    graphPaths,
    id: await bundleId(dir, manifest),
    modelBytes,
  };
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) {
    throw new BundleError("not_found", `Model bundle not found: ${dir}. Export one with: molmo export <hf-checkpoint-dir> ${dir}`);
  }
  if (!info.isDirectory()) {
    throw new BundleError("not_a_directory", `The model bundle must be a folder (config.json, onnx/, ...), but ${dir} is a file.`);
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new BundleError("missing_file", `The model bundle is missing ${path} (${what}).`, { cause: error });
    }
    throw new BundleError("corrupt_file", `${path} cannot be read (${code ?? String(error)}).`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BundleError("corrupt_file", `${path} is not valid JSON (${error instanceof Error ? error.message : String(error)}); the file may be truncated or damaged.`, {
      cause: error,
    });
  }
}

/** Checks that a graph (and its weights file) exist with the recorded sizes; returns their bytes. */
async function checkGraphFiles(dir: string, graph: GraphManifest, manifest: MolmoOnnxManifest): Promise<number> {
  let bytes = 0;
  for (const relative of graph.externalData === undefined ? [graph.file] : [graph.file, graph.externalData]) {
    const path = join(dir, relative);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      throw new BundleError(
        "missing_file",
        `The model bundle is missing ${path}${info === undefined ? "" : " (not a file)"}, which its config.json lists; the export or copy is incomplete.`,
      );
    }
    const recorded = manifest.files[relative];
    if (recorded !== undefined && recorded.bytes !== info.size) {
      throw new BundleError(
        "corrupt_file",
        `${path} is ${info.size} bytes but the bundle's config.json records ${recorded.bytes}: an interrupted download or copy? Copy or export the bundle again.`,
      );
    }
    bytes += info.size;
  }
  return bytes;
}

function readPreprocessorConfig(json: unknown, path: string): MolmoPreprocessorConfig {
  try {
    return preprocessorConfigFromJson(json);
  } catch (error) {
    if (error instanceof PreprocessError) {
      throw new BundleError("bad_config", `${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** The crops the preprocessor makes must be what the vision graph takes. */
function checkPreprocessing(config: MolmoPreprocessorConfig, manifest: MolmoOnnxManifest, path: string): void {
  const vision = manifest.vision;
  const problems: string[] = [];
  if (config.baseImageInputSize[0] !== vision.cropSize[0] || config.baseImageInputSize[1] !== vision.cropSize[1]) {
    problems.push(`crops of ${config.baseImageInputSize.join("x")} px, the vision encoder takes ${vision.cropSize.join("x")}`);
  }
  if (config.imagePatchSize !== vision.patchSize) {
    problems.push(`patches of ${config.imagePatchSize} px, the vision encoder takes ${vision.patchSize}`);
  }
  const tokens = config.imageTokenLengthH * config.imageTokenLengthW;
  if (tokens !== vision.tokensPerCrop) {
    problems.push(`${tokens} image tokens per crop, the vision encoder gives ${vision.tokensPerCrop}`);
  }
  if (problems.length > 0) {
    throw new BundleError("config_mismatch", `${path} does not fit the exported vision encoder: it asks for ${problems.join("; ")}.`);
  }
}

async function loadTokenizer(dir: string, tokenizerPath: string, overridden: boolean, manifest: MolmoOnnxManifest): Promise<MolmoTokenizer> {
  const bundleConfig = join(dir, TOKENIZER_CONFIG_FILE);
  const configPath = (await stat(bundleConfig).catch(() => undefined))?.isFile() === true ? bundleConfig : undefined;
  try {
    return await MolmoTokenizer.fromFile(tokenizerPath, configPath);
  } catch (error) {
    if (error instanceof TokenizerError && error.code === "not_found" && error.source === tokenizerPath) {
      const hint = overridden
        ? "check the --tokenizer path"
        : manifest.tokenizerPresent
          ? "the export or copy is incomplete"
          : "this bundle was exported without tokenizer.json; pass the checkpoint's tokenizer.json with --tokenizer <path> (or tokenizerPath)";
      throw new BundleError("missing_file", `The tokenizer ${tokenizerPath} does not exist: ${hint}.`, { cause: error });
    }
    if (error instanceof TokenizerError) {
      throw new BundleError("bad_tokenizer", `The bundle's tokenizer cannot be used: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** A tokenizer other than the one the model was exported with would put its ids in the wrong places. */
function checkTokenizer(tokenizer: MolmoTokenizer, manifest: MolmoOnnxManifest, tokenizerPath: string, configPath: string): void {
  const recorded = manifest.specialTokens;
  const differences: string[] = [];
  if (recorded !== undefined) {
    const pairs: [string, number, number][] = [
      ["<im_start>", tokenizer.imageTokens.imStart, recorded.imStart],
      ["<im_end>", tokenizer.imageTokens.imEnd, recorded.imEnd],
      ["<im_patch>", tokenizer.imageTokens.imPatch, recorded.imPatch],
      ["<im_col>", tokenizer.imageTokens.imCol, recorded.imCol],
      ["BOS", tokenizer.bosId, recorded.bos],
      ["EOS", tokenizer.eosId, recorded.eos],
    ];
    for (const [name, actual, expected] of pairs) {
      if (actual !== expected) {
        differences.push(`${name} is ${actual}, the model was exported with ${expected}`);
      }
    }
  }
  if (tokenizer.vocabularySize > manifest.dims.numInputIds) {
    differences.push(`its ids go up to ${tokenizer.vocabularySize - 1}, the model embeds ids below ${manifest.dims.numInputIds} only`);
  }
  if (differences.length > 0) {
    throw new BundleError(
      "config_mismatch",
      `The tokenizer ${tokenizerPath} is not the one this model was exported with (${configPath}): ${differences.join("; ")}. Use the checkpoint's own tokenizer.json.`,
    );
  }
}

/** What identifies the model's weights: recorded digests where there are some, the files' stat otherwise. */
async function bundleId(dir: string, manifest: MolmoOnnxManifest): Promise<string> {
  const hash = createHash("sha256").update(manifest.dtype);
  for (const graph of [manifest.graphs.visionEncoder, manifest.graphs.embedTokens, manifest.graphs.decoder]) {
    for (const relative of graph.externalData === undefined ? [graph.file] : [graph.file, graph.externalData]) {
      const recorded = manifest.files[relative];
      if (recorded?.sha256 !== undefined) {
        hash.update(`${relative}:${recorded.sha256}\n`);
      } else {
        const path = join(dir, relative);
        const info = await stat(path);
        hash.update(`${await realpath(path)}:${info.size}:${info.mtimeMs}\n`);
      }
    }
  }
  return hash.digest("hex").slice(0, 16);
}
