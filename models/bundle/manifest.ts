/**
 * The `molmo_onnx` section of a bundle's config.json, as the exporter (models/python/molmo_onnx/
 * bundle_manifest.py) writes it: which graph files to open, the names, element types and shapes of
 * their inputs and outputs, the model's dimensions, the special-token ids and the recorded file sizes.
 *
 * {@link parseManifest} reads it into typed form and checks every field the engine relies on, so that a
 * damaged or foreign config.json fails here with a sentence naming the field, not later inside a run.
 */
import { BundleError } from "./errors";

/** The manifest versions this engine reads. */
export const SUPPORTED_EXPORT_VERSIONS: readonly number[] = [1];

/** Bundle dtypes: fp32/fp16 graphs, or float32 graphs with int4/int8 decoder weights (MatMulNBits). */
export const BUNDLE_DTYPES = ["fp32", "fp16", "q4", "q8"] as const;
export type BundleDtype = (typeof BUNDLE_DTYPES)[number];

/** Element types that appear on the graphs' inputs and outputs. */
export type TensorDtype = "float32" | "float16" | "int64";
const TENSOR_DTYPES: readonly TensorDtype[] = ["float32", "float16", "int64"];

/** One input or output of a graph: a fixed size per axis, or the symbolic axis name. */
export interface TensorContract {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly (number | string)[];
}

/** One ONNX graph of the bundle. */
export interface GraphManifest {
  /** Path relative to the bundle folder (`onnx/decoder_model_merged.onnx`). */
  readonly file: string;
  /** The weights file beside it, relative to the bundle folder, when the weights are external. */
  readonly externalData: string | undefined;
  readonly inputs: readonly TensorContract[];
  readonly outputs: readonly TensorContract[];
}

/** The decoder's sizes. */
export interface ManifestDims {
  readonly dModel: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Ids the embedding graph accepts: [0, numInputIds). */
  readonly numInputIds: number;
  /** Entries of a logits row (the embedding rows; image tokens are never predicted). */
  readonly numLogits: number;
  /** RoPE table size: prompt plus answer must fit. */
  readonly maxPositionEmbeddings: number;
}

/** What the vision encoder takes and gives. */
export interface ManifestVision {
  /** [height, width] of one crop in pixels. */
  readonly cropSize: readonly [number, number];
  readonly patchSize: number;
  readonly patchesPerCrop: number;
  readonly patchDim: number;
  readonly tokensPerCrop: number;
  readonly imageFeatureDim: number;
  /** How features enter the sequence; the engine implements "add" (the reference's `x[idx] += features`). */
  readonly featureInjection: "add";
}

/** Token ids recorded at export time (from the tokenizer the bundle was made with). */
export interface ManifestSpecialTokens {
  readonly imStart: number;
  readonly imEnd: number;
  readonly imPatch: number;
  readonly imCol: number;
  readonly bos: number;
  readonly eos: number;
}

/** The KV cache: which decoder inputs take the past and which outputs give the present. */
export interface ManifestKvCache {
  /** `past_key_values.{layer}.{key|value}`, in the order of {@link outputs}. */
  readonly inputs: readonly string[];
  /** `present.{layer}.{key|value}`. */
  readonly outputs: readonly string[];
  readonly dtype: TensorDtype;
  /** [batch, kv heads, past length, head dim]: the kv heads and head dim are fixed numbers. */
  readonly inputShape: readonly (number | string)[];
}

/** How the decoder graph is written (`molmo export --decoder-ops`): both kinds take the same feeds. */
export const DECODER_OPS = ["plain", "fused"] as const;
export type DecoderOps = (typeof DECODER_OPS)[number];

/** The `decoder` section: absent in bundles exported before it existed, which are all "plain". */
export interface ManifestDecoder {
  /**
   * "plain": traced by torch.onnx.export, standard ONNX operators. "fused": onnxruntime's contrib operators
   * (GroupQueryAttention with its rotary embedding, SkipSimplifiedLayerNormalization), which its GPU
   * providers are tuned for.
   */
  readonly ops: DecoderOps;
  /**
   * Where the rotary positions come from: `position_ids`, or `attention_mask` (the fused graph places new
   * tokens right after the cached ones; the same thing for the unpadded batch-of-one runs the engine makes).
   */
  readonly positions: "position_ids" | "attention_mask";
}

/** A recorded file: its size (checked on load) and digest. */
export interface ManifestFile {
  readonly bytes: number;
  readonly sha256: string | undefined;
}

/** The parsed `molmo_onnx` section. */
export interface MolmoOnnxManifest {
  readonly exportVersion: number;
  readonly variant: string;
  readonly dtype: BundleDtype;
  readonly dims: ManifestDims;
  readonly vision: ManifestVision;
  /** Absent when the exporter had no tokenizer to read them from. */
  readonly specialTokens: ManifestSpecialTokens | undefined;
  /** Whether the bundle holds its own tokenizer.json (false: one must be supplied). */
  readonly tokenizerPresent: boolean;
  readonly graphs: {
    readonly visionEncoder: GraphManifest;
    readonly embedTokens: GraphManifest;
    readonly decoder: GraphManifest;
  };
  readonly kvCache: ManifestKvCache;
  readonly decoder: ManifestDecoder;
  readonly files: Readonly<Record<string, ManifestFile>>;
}

/**
 * The decoder's optional int64 input that says which positions get logits (Hugging Face's `logits_to_keep`:
 * 0 = every position, k = the last k), a scalar or of shape [1]. Exports since the input was added declare
 * it (still export version 1: an engine that finds it absent runs the graph as before, logits for every
 * position); the engine feeds 1 unless all prefill logits are asked for.
 */
export const LOGITS_TO_KEEP_INPUT = "num_logits_to_keep";

/** The I/O names the engine feeds and reads; a bundle whose graphs use others is refused. */
export const GRAPH_IO = {
  visionEncoder: { inputs: ["crops", "image_masks"], outputs: ["image_features"] },
  embedTokens: { inputs: ["input_ids"], outputs: ["inputs_embeds"] },
  decoder: { inputs: ["inputs_embeds", "attention_mask", "position_ids"], outputs: ["logits"] },
} as const;

type Json = Record<string, unknown>;

/**
 * Reads and checks the `molmo_onnx` section of a parsed config.json.
 *
 * @param configJson the whole parsed config.json.
 * @param source how messages name the file (its path).
 * @throws {BundleError} `bad_config` for a missing or malformed field (named), `unsupported` for an export
 *   version or dtype this engine does not know, `config_mismatch` when the section contradicts itself.
 */
export function parseManifest(configJson: unknown, source: string): MolmoOnnxManifest {
  const root = asObject(configJson, source, "the file");
  if (root.molmo_onnx === undefined) {
    throw new BundleError(
      "bad_config",
      `${source} has no "molmo_onnx" section: this is a Hugging Face checkpoint's config, not an exported bundle. ` +
        "Export the checkpoint first with: molmo export <hf-checkpoint-dir> <bundle-dir>.",
    );
  }
  const reader = new FieldReader(source);
  const section = reader.object(root, "molmo_onnx");
  const exportVersion = reader.integer(section, "export_version", "molmo_onnx");
  if (!SUPPORTED_EXPORT_VERSIONS.includes(exportVersion)) {
    throw new BundleError(
      "unsupported",
      `${source}: molmo_onnx.export_version is ${exportVersion}, but this engine reads version ${SUPPORTED_EXPORT_VERSIONS.join(" or ")}; ` +
        "re-export the checkpoint with this version's exporter (molmo export) or update molmo-vscode.",
    );
  }
  const dtype = reader.string(section, "dtype", "molmo_onnx");
  if (!(BUNDLE_DTYPES as readonly string[]).includes(dtype)) {
    throw new BundleError("unsupported", `${source}: molmo_onnx.dtype "${dtype}" is not one this engine runs (${BUNDLE_DTYPES.join(", ")}).`);
  }

  const dimsJson = reader.object(section, "dims", "molmo_onnx");
  const dims: ManifestDims = {
    dModel: reader.positive(dimsJson, "d_model", "molmo_onnx.dims"),
    numLayers: reader.positive(dimsJson, "num_layers", "molmo_onnx.dims"),
    numHeads: reader.positive(dimsJson, "num_heads", "molmo_onnx.dims"),
    numKvHeads: reader.positive(dimsJson, "num_kv_heads", "molmo_onnx.dims"),
    headDim: reader.positive(dimsJson, "head_dim", "molmo_onnx.dims"),
    numInputIds: reader.positive(dimsJson, "num_input_ids", "molmo_onnx.dims"),
    numLogits: reader.positive(dimsJson, "num_logits", "molmo_onnx.dims"),
    maxPositionEmbeddings: reader.positive(dimsJson, "max_position_embeddings", "molmo_onnx.dims"),
  };

  const visionJson = reader.object(section, "vision", "molmo_onnx");
  const cropSize = reader.integerList(visionJson, "crop_size", "molmo_onnx.vision");
  if (cropSize.length !== 2) {
    throw new BundleError("bad_config", `${source}: molmo_onnx.vision.crop_size must be [height, width].`);
  }
  const featureInjection = reader.string(visionJson, "feature_injection", "molmo_onnx.vision");
  if (featureInjection !== "add") {
    throw new BundleError("unsupported", `${source}: molmo_onnx.vision.feature_injection "${featureInjection}" is not supported (only "add").`);
  }
  const vision: ManifestVision = {
    cropSize: [cropSize[0], cropSize[1]],
    patchSize: reader.positive(visionJson, "patch_size", "molmo_onnx.vision"),
    patchesPerCrop: reader.positive(visionJson, "patches_per_crop", "molmo_onnx.vision"),
    patchDim: reader.positive(visionJson, "patch_dim", "molmo_onnx.vision"),
    tokensPerCrop: reader.positive(visionJson, "tokens_per_crop", "molmo_onnx.vision"),
    imageFeatureDim: reader.positive(visionJson, "image_feature_dim", "molmo_onnx.vision"),
    featureInjection,
  };

  const graphsJson = reader.object(section, "graphs", "molmo_onnx");
  const graphs = {
    visionEncoder: readGraph(reader, graphsJson, "vision_encoder"),
    embedTokens: readGraph(reader, graphsJson, "embed_tokens"),
    decoder: readGraph(reader, graphsJson, "decoder_model_merged"),
  };

  const kvJson = reader.object(section, "kv_cache", "molmo_onnx");
  const kvCache: ManifestKvCache = {
    inputs: reader.stringList(kvJson, "inputs", "molmo_onnx.kv_cache"),
    outputs: reader.stringList(kvJson, "outputs", "molmo_onnx.kv_cache"),
    dtype: reader.tensorDtype(kvJson, "dtype", "molmo_onnx.kv_cache"),
    inputShape: reader.shape(kvJson, "input_shape", "molmo_onnx.kv_cache"),
  };

  const manifest: MolmoOnnxManifest = {
    exportVersion,
    variant: reader.string(section, "variant", "molmo_onnx"),
    dtype: dtype as BundleDtype,
    dims,
    vision,
    specialTokens: readSpecialTokens(reader, section),
    tokenizerPresent: readTokenizerPresent(reader, section),
    graphs,
    kvCache,
    decoder: readDecoder(reader, section),
    files: readFiles(reader, section),
  };
  checkConsistency(manifest, source);
  return manifest;
}

function readGraph(reader: FieldReader, graphs: Json, key: string): GraphManifest {
  const where = `molmo_onnx.graphs.${key}`;
  const graph = reader.object(graphs, key, "molmo_onnx.graphs");
  const external = graph.external_data;
  if (external !== null && external !== undefined && typeof external !== "string") {
    reader.fail(`${where}.external_data must be a file path or null`);
  }
  return {
    file: reader.relativePath(graph, "file", where),
    externalData: typeof external === "string" ? reader.relativePath(graph, "external_data", where) : undefined,
    inputs: reader.tensorList(graph, "inputs", where),
    outputs: reader.tensorList(graph, "outputs", where),
  };
}

function readSpecialTokens(reader: FieldReader, section: Json): ManifestSpecialTokens | undefined {
  const value = section.special_tokens;
  if (value === null || value === undefined) {
    return undefined;
  }
  const tokens = reader.object(section, "special_tokens", "molmo_onnx");
  const id = (key: string) => reader.integer(tokens, key, "molmo_onnx.special_tokens");
  return { imStart: id("im_start"), imEnd: id("im_end"), imPatch: id("im_patch"), imCol: id("im_col"), bos: id("bos"), eos: id("eos") };
}

function readDecoder(reader: FieldReader, section: Json): ManifestDecoder {
  if (section.decoder === undefined || section.decoder === null) {
    return { ops: "plain", positions: "position_ids" };
  }
  const decoder = reader.object(section, "decoder", "molmo_onnx");
  const ops = reader.string(decoder, "ops", "molmo_onnx.decoder");
  if (!(DECODER_OPS as readonly string[]).includes(ops)) {
    throw new BundleError(
      "unsupported",
      `${reader.source}: molmo_onnx.decoder.ops "${ops}" is not a decoder this engine runs (${DECODER_OPS.join(", ")}); update molmo-vscode or re-export with --decoder-ops plain.`,
    );
  }
  const positions = decoder.positions === undefined ? (ops === "fused" ? "attention_mask" : "position_ids") : reader.string(decoder, "positions", "molmo_onnx.decoder");
  if (positions !== "position_ids" && positions !== "attention_mask") {
    reader.fail(`molmo_onnx.decoder.positions must be "position_ids" or "attention_mask", got "${positions}"`);
  }
  return { ops: ops as DecoderOps, positions };
}

function readTokenizerPresent(reader: FieldReader, section: Json): boolean {
  if (section.tokenizer === undefined || section.tokenizer === null) {
    return true;
  }
  const tokenizer = reader.object(section, "tokenizer", "molmo_onnx");
  return tokenizer.present === undefined ? true : reader.boolean(tokenizer, "present", "molmo_onnx.tokenizer");
}

function readFiles(reader: FieldReader, section: Json): Record<string, ManifestFile> {
  if (section.files === undefined) {
    return {};
  }
  const files = reader.object(section, "files", "molmo_onnx");
  const result: Record<string, ManifestFile> = {};
  for (const [path, entry] of Object.entries(files)) {
    const where = `molmo_onnx.files["${path}"]`;
    const fields = asObject(entry, reader.source, where);
    result[path] = {
      bytes: reader.integer(fields, "bytes", where),
      sha256: typeof fields.sha256 === "string" ? fields.sha256 : undefined,
    };
  }
  return result;
}

/** The section must agree with itself and name the I/O the engine drives. */
function checkConsistency(manifest: MolmoOnnxManifest, source: string): void {
  const mismatch = (what: string): never => {
    throw new BundleError("config_mismatch", `${source}: ${what}`);
  };
  for (const [key, io] of Object.entries(GRAPH_IO) as [keyof typeof GRAPH_IO, (typeof GRAPH_IO)[keyof typeof GRAPH_IO]][]) {
    const graph = manifest.graphs[key];
    const inputs = graph.inputs.map((t) => t.name);
    const outputs = graph.outputs.map((t) => t.name);
    const missing = [...io.inputs.filter((name) => !inputs.includes(name)), ...io.outputs.filter((name) => !outputs.includes(name))];
    if (missing.length > 0) {
      mismatch(`the ${graph.file} graph lacks ${missing.join(", ")} among its inputs/outputs (it has ${[...inputs, ...outputs].join(", ")}).`);
    }
  }
  const { kvCache, dims } = manifest;
  if (kvCache.inputs.length !== 2 * dims.numLayers || kvCache.outputs.length !== kvCache.inputs.length) {
    mismatch(`molmo_onnx.kv_cache lists ${kvCache.inputs.length} inputs and ${kvCache.outputs.length} outputs, but ${dims.numLayers} layers need ${2 * dims.numLayers} of each.`);
  }
  const decoderInputs = manifest.graphs.decoder.inputs.map((t) => t.name);
  const decoderOutputs = manifest.graphs.decoder.outputs.map((t) => t.name);
  const absent = [...kvCache.inputs.filter((n) => !decoderInputs.includes(n)), ...kvCache.outputs.filter((n) => !decoderOutputs.includes(n))];
  if (absent.length > 0) {
    mismatch(`the decoder graph has no ${absent.join(", ")}, which molmo_onnx.kv_cache names.`);
  }
  const [, kvHeads, , headDim] = kvCache.inputShape;
  if (kvCache.inputShape.length !== 4 || kvHeads !== dims.numKvHeads || headDim !== dims.headDim) {
    mismatch(`molmo_onnx.kv_cache.input_shape [${kvCache.inputShape.join(", ")}] is not [batch, ${dims.numKvHeads}, past, ${dims.headDim}].`);
  }
  const keep = manifest.graphs.decoder.inputs.find((t) => t.name === LOGITS_TO_KEEP_INPUT);
  if (keep !== undefined && (keep.dtype !== "int64" || !(keep.shape.length === 0 || (keep.shape.length === 1 && keep.shape[0] === 1)))) {
    mismatch(`the decoder's ${LOGITS_TO_KEEP_INPUT} input is ${keep.dtype} [${keep.shape.join(", ")}]; the engine feeds an int64 scalar (shape [] or [1]).`);
  }
  if (manifest.vision.imageFeatureDim !== dims.dModel) {
    mismatch(`image features have ${manifest.vision.imageFeatureDim} values but the decoder's embeddings ${dims.dModel}.`);
  }
  if (manifest.vision.cropSize[0] !== manifest.vision.cropSize[1]) {
    mismatch(`molmo_onnx.vision.crop_size must be square, got [${manifest.vision.cropSize.join(", ")}].`);
  }
}

function asObject(value: unknown, source: string, where: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BundleError("bad_config", `${source}: ${where} must be a JSON object.`);
  }
  return value as Json;
}

/** Typed field access with messages that name the field. */
class FieldReader {
  constructor(readonly source: string) {}

  fail(what: string): never {
    throw new BundleError("bad_config", `${this.source}: ${what}.`);
  }

  object(parent: Json, key: string, where?: string): Json {
    const value = parent[key];
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(`${this.name(key, where)} must be a JSON object`);
    }
    return value as Json;
  }

  string(parent: Json, key: string, where: string): string {
    const value = parent[key];
    if (typeof value !== "string" || value === "") {
      this.fail(`${this.name(key, where)} must be a non-empty string`);
    }
    return value;
  }

  boolean(parent: Json, key: string, where: string): boolean {
    const value = parent[key];
    if (typeof value !== "boolean") {
      this.fail(`${this.name(key, where)} must be true or false`);
    }
    return value;
  }

  integer(parent: Json, key: string, where: string): number {
    const value = parent[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      this.fail(`${this.name(key, where)} must be a non-negative whole number, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  positive(parent: Json, key: string, where: string): number {
    const value = this.integer(parent, key, where);
    if (value === 0) {
      this.fail(`${this.name(key, where)} must be at least 1`);
    }
    return value;
  }

  integerList(parent: Json, key: string, where: string): number[] {
    const value = parent[key];
    if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isSafeInteger(v) && v > 0)) {
      this.fail(`${this.name(key, where)} must be a list of positive whole numbers`);
    }
    return value as number[];
  }

  stringList(parent: Json, key: string, where: string): string[] {
    const value = parent[key];
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v !== "")) {
      this.fail(`${this.name(key, where)} must be a list of names`);
    }
    return value as string[];
  }

  shape(parent: Json, key: string, where: string): (number | string)[] {
    const value = parent[key];
    const isAxis = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) || (typeof v === "string" && v !== "");
    if (!Array.isArray(value) || !value.every(isAxis)) {
      this.fail(`${this.name(key, where)} must be a shape (sizes or axis names)`);
    }
    return value as (number | string)[];
  }

  tensorDtype(parent: Json, key: string, where: string): TensorDtype {
    const value = this.string(parent, key, where);
    if (!(TENSOR_DTYPES as readonly string[]).includes(value)) {
      throw new BundleError("unsupported", `${this.source}: ${this.name(key, where)} "${value}" is not a tensor type this engine handles (${TENSOR_DTYPES.join(", ")}).`);
    }
    return value as TensorDtype;
  }

  tensorList(parent: Json, key: string, where: string): TensorContract[] {
    const value = parent[key];
    if (!Array.isArray(value)) {
      this.fail(`${this.name(key, where)} must be a list of tensors`);
    }
    return value.map((entry: unknown, index) => {
      const at = `${where}.${key}[${index}]`;
      const fields = asObject(entry, this.source, at);
      return { name: this.string(fields, "name", at), dtype: this.tensorDtype(fields, "dtype", at), shape: this.shape(fields, "shape", at) };
    });
  }

  /** A bundle-relative path that stays inside the bundle (no absolute paths, no `..`). */
  relativePath(parent: Json, key: string, where: string): string {
    const value = this.string(parent, key, where);
    if (value.startsWith("/") || value.startsWith("\\") || /^[A-Za-z]:/.test(value) || value.split(/[\\/]/).includes("..")) {
      this.fail(`${this.name(key, where)} must be a path inside the bundle, got "${value}"`);
    }
    return value;
  }

  private name(key: string, where: string | undefined): string {
    return where === undefined ? key : `${where}.${key}`;
  }
}
