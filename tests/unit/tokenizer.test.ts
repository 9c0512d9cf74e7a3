/**
 * MolmoTokenizer on a Molmo-7B-D tokenizer.json built from Qwen's published vocabulary and Molmo's added
 * tokens (tests/helpers/molmo-tokenizer-fixture.ts), checked against hashes and encodings made from the
 * checkpoint's own files (tests/fixtures/tokenizer/).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { QWEN2_IMAGE_TOKENS } from "../../models/preprocess/types";
import { TokenizerError } from "../../models/tokenizer/errors";
import { MolmoTokenizer } from "../../models/tokenizer/molmo-tokenizer";
import {
  buildMolmoTokenizerJson,
  loadMolmoFixtureTokenizer,
  molmoAddedTokens,
  molmoTokenizerConfigPath,
  molmoTokenizerJsonPath,
  qwen2PipelineMismatches,
  qwen3TokenizerJsonPath,
  tokenizerFixturesDir,
  type JsonObject,
} from "../helpers/molmo-tokenizer-fixture";

interface HashFixture {
  vocab: { count: number; sha256: string };
  merges: { count: number; sha256: string };
}
interface GoldenFixture {
  cases: { text: string; ids: number[] }[];
}

function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(tokenizerFixturesDir(), name), "utf8")) as T;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/** Asserts that `promise` rejects (or `fn` throws) a TokenizerError with `code` whose message contains every `parts`. */
async function assertTokenizerError(run: () => unknown, code: string, ...parts: string[]): Promise<void> {
  await assert.rejects(
    async () => {
      await run();
    },
    (error: unknown) => {
      assert.ok(error instanceof TokenizerError, `expected a TokenizerError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      for (const part of parts) {
        assert.ok(error.message.includes(part), `message ${JSON.stringify(error.message)} should mention ${JSON.stringify(part)}`);
      }
      return true;
    },
  );
}

let tokenizer: MolmoTokenizer;
let scratch: string;

before(async () => {
  tokenizer = await loadMolmoFixtureTokenizer();
  scratch = mkdtempSync(join(tmpdir(), "molmo-tokenizer-test-"));
});

after(() => rmSync(scratch, { recursive: true, force: true }));

void describe("the fixture is Molmo-7B-D's real tokenizer", () => {
  void test("Qwen3's package file has Qwen2's normaliser, pre-tokenizer, decoder and BPE settings", () => {
    const qwen3 = JSON.parse(readFileSync(qwen3TokenizerJsonPath(), "utf8")) as JsonObject;
    assert.deepEqual(qwen2PipelineMismatches(qwen3), []);
  });

  void test("vocabulary and merges hash to Molmo-7B-D's vocab.json and merges.txt", () => {
    const expected = readFixture<HashFixture>("molmo-7b-d-bpe-sha256.json");
    const json = buildMolmoTokenizerJson();
    const model = json.model as { vocab: Record<string, number>; merges: (string | [string, string])[] };

    // The vocabulary as the loaded tokenizer sees it, id by id.
    let vocabText = "";
    for (let id = 0; id < expected.vocab.count; id++) {
      const token = tokenizer.idToToken(id);
      assert.ok(token !== undefined, `id ${id} has no token`);
      vocabText += `${id}\t${token}\n`;
    }
    assert.equal(Object.keys(model.vocab).length, expected.vocab.count);
    assert.equal(sha256(vocabText), expected.vocab.sha256);

    const mergesText = model.merges.map((merge) => (Array.isArray(merge) ? merge.join(" ") : merge) + "\n").join("");
    assert.equal(model.merges.length, expected.merges.count);
    assert.equal(sha256(mergesText), expected.merges.sha256);
  });

  void test("added tokens are exactly Molmo's, with their ids", () => {
    const added = molmoAddedTokens();
    assert.equal(added.length, 426);
    for (const { id, content } of added) {
      assert.equal(tokenizer.addedTokenId(content), id, content);
      assert.equal(tokenizer.isSpecialId(id), true, content);
    }
    assert.equal(tokenizer.addedTokenId("<think>"), undefined, "Qwen3's own added tokens must be gone");
    assert.equal(tokenizer.vocabularySize, 152069);
  });

  void test("encodes like an independent implementation of Qwen2's BPE over Molmo's files", () => {
    for (const { text, ids } of readFixture<GoldenFixture>("qwen2-golden-encodings.json").cases) {
      assert.deepEqual(tokenizer.encode(text), ids, JSON.stringify(text));
    }
  });
});

void describe("MolmoTokenizer on Molmo-7B-D", () => {
  void test("the released prompt encodes to the ids of molmo-reference §1.11", () => {
    assert.deepEqual(tokenizer.encode(" User: Describe this image. Assistant:"), [2657, 25, 60785, 419, 2168, 13, 21388, 25]);
  });

  void test("special tokens are resolved by string: image tokens, <|image|>, EOS, and EOS as BOS", () => {
    assert.deepEqual(tokenizer.imageTokens, { imStart: 152064, imEnd: 152065, imPatch: 152066, imCol: 152067 });
    assert.deepEqual(tokenizer.imageTokens, QWEN2_IMAGE_TOKENS, "the preprocessor's defaults agree with the tokenizer");
    assert.equal(tokenizer.imagePromptId, 152068);
    assert.equal(tokenizer.eosId, 151643);
    assert.equal(tokenizer.bosId, 151643);
    assert.equal(tokenizer.family, "qwen2");
    assert.deepEqual(tokenizer.encode("<im_start><im_end><im_patch><im_col><|image|>"), [152064, 152065, 152066, 152067, 152068]);
  });

  void test("encode adds no special token and gives [] for empty text", () => {
    assert.deepEqual(tokenizer.encode(""), []);
    assert.deepEqual(tokenizer.encode("a"), [64]);
  });

  void test("decode round-trips text, emoji, CJK and other scripts", () => {
    const texts = [
      " The image shows a cat sitting on a red sofa.",
      "Hello 世界! 😀 👩🏽‍💻 🦜🪿 naïve café",
      "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱 ꙮ — Привет, مرحبا, नमस्ते",
      '<points x1="12.5" y1="40.1" x2="55.0" y2="38.2" alt="boats">boats</points>',
      "  tabs\tand\nnew lines\r\n  ",
    ];
    for (const text of texts) {
      assert.equal(tokenizer.decode(tokenizer.encode(text)), text, JSON.stringify(text));
    }
    // Text is NFC-normalised on the way in, as Qwen2's normaliser does.
    assert.equal(tokenizer.decode(tokenizer.encode("e\u0301")), "\u00e9");
  });

  void test("decode keeps or skips special tokens on request, and never cleans up spaces", () => {
    const ids = [151643, ...tokenizer.encode(" It is 3 .")];
    ids.push(152066, 151643);
    assert.equal(tokenizer.decode(ids), "<|endoftext|> It is 3 .<im_patch><|endoftext|>");
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), " It is 3 .");
    assert.equal(tokenizer.decode([]), "");
    assert.equal(tokenizer.decode(new Int32Array([9707])), "Hello");
  });

  void test("decode rejects ids that are not tokens", async () => {
    for (const bad of [-1, 1.5, Number.NaN, 152069, 10_000_000]) {
      await assertTokenizerError(() => tokenizer.decode([9707, bad]), "invalid_token_id", String(bad));
    }
  });

  void test("encode rejects non-strings with a typed error", async () => {
    await assertTokenizerError(() => tokenizer.encode(42 as unknown as string), "invalid_input", "string");
  });
});

void describe("streaming detokenizer", () => {
  const text = "Birds: 🦜🪿, math 𝔘𝔫𝔦, rare CJK 𠜎𠜱 ꙮ, done.";

  void test("the sample really splits characters across tokens", () => {
    const ids = tokenizer.encode(text);
    const partial = ids.filter((id) => tokenizer.decode([id]).includes("\uFFFD"));
    assert.ok(partial.length >= 2, "expected some tokens that hold only part of a character");
  });

  void test("deltas never contain U+FFFD or a lone surrogate, and add up to the full decode", () => {
    const ids = tokenizer.encode(text);
    const streamer = tokenizer.createTextStreamer();
    const deltas: string[] = [];
    let held = 0;
    for (const id of ids) {
      const delta = streamer.push(id);
      if (delta === "") held++;
      assert.ok(!delta.includes("\uFFFD"), `delta ${JSON.stringify(delta)} has U+FFFD`);
      assert.ok(!LONE_SURROGATE.test(delta), `delta ${JSON.stringify(delta)} splits a surrogate pair`);
      deltas.push(delta);
    }
    deltas.push(streamer.flush());
    assert.ok(held > 0, "some pushes must have held text back");
    assert.equal(deltas.join(""), text);
    assert.equal(streamer.text, text);
  });

  void test("skips special tokens by default, keeps them on request", () => {
    const ids = [...tokenizer.encode(" Yes"), 151643];
    const skipping = tokenizer.createTextStreamer();
    assert.equal(ids.map((id) => skipping.push(id)).join("") + skipping.flush(), " Yes");
    const keeping = tokenizer.createTextStreamer({ skipSpecialTokens: false });
    assert.equal(ids.map((id) => keeping.push(id)).join("") + keeping.flush(), " Yes<|endoftext|>");
  });

  void test("a stream cut inside a character flushes U+FFFD, like a one-shot decode", () => {
    const parrot = tokenizer.encode("🦜");
    assert.ok(parrot.length > 1);
    const streamer = tokenizer.createTextStreamer();
    assert.equal(streamer.push(parrot[0]), "");
    assert.equal(streamer.flush(), tokenizer.decode([parrot[0]]));
    assert.ok(streamer.text.includes("\uFFFD"));
  });

  void test("an invalid id throws and leaves the stream usable", async () => {
    const streamer = tokenizer.createTextStreamer();
    assert.equal(streamer.push(9707), "Hello");
    await assertTokenizerError(() => streamer.push(-5), "invalid_token_id");
    assert.equal(streamer.push(1879), " world");
    assert.equal(streamer.text, "Hello world");
  });
});

void describe("loading errors", () => {
  void test("a tokenizer.json without <im_patch> is refused, naming the token", async () => {
    const json = buildMolmoTokenizerJson();
    json.added_tokens = (json.added_tokens as { content: string }[]).filter((token) => token.content !== "<im_patch>");
    await assertTokenizerError(() => MolmoTokenizer.fromJson(json, undefined, "no-patch.json"), "missing_token", "<im_patch>", "no-patch.json");
    const path = join(scratch, "no-patch-tokenizer.json");
    writeFileSync(path, JSON.stringify(json));
    await assertTokenizerError(() => MolmoTokenizer.fromFile(path), "missing_token", "<im_patch>", path);
  });

  void test("a base-model tokenizer (Qwen3's, no image tokens) is refused, naming all missing tokens", async () => {
    await assertTokenizerError(
      () => MolmoTokenizer.fromFile(qwen3TokenizerJsonPath()),
      "missing_token",
      "<im_start>",
      "<im_end>",
      "<im_patch>",
      "<im_col>",
      qwen3TokenizerJsonPath(),
    );
  });

  void test("a truncated tokenizer.json is a corrupt_json error naming the file", async () => {
    const path = join(scratch, "truncated-tokenizer.json");
    writeFileSync(path, readFileSync(molmoTokenizerJsonPath()).subarray(0, 5000));
    await assertTokenizerError(() => MolmoTokenizer.fromFile(path), "corrupt_json", path);
  });

  void test("missing file, directory, empty file, and JSON that is not a tokenizer", async () => {
    const missing = join(scratch, "nope", "tokenizer.json");
    await assertTokenizerError(() => MolmoTokenizer.fromFile(missing), "not_found", missing);
    const dir = join(scratch, "a-directory");
    mkdirSync(dir);
    await assertTokenizerError(() => MolmoTokenizer.fromFile(dir), "unreadable", dir);
    const empty = join(scratch, "empty.json");
    writeFileSync(empty, "");
    await assertTokenizerError(() => MolmoTokenizer.fromFile(empty), "corrupt_json", empty);
    const config = join(scratch, "config.json");
    writeFileSync(config, JSON.stringify({ model_type: "molmo", hidden_size: 3584 }));
    await assertTokenizerError(() => MolmoTokenizer.fromFile(config), "invalid_tokenizer", config, "model");
    await assertTokenizerError(() => MolmoTokenizer.fromJson([1, 2, 3]), "invalid_tokenizer", "<tokenizer.json object>");
  });

  void test("a tokenizer.json the library cannot build is an invalid_tokenizer error", async () => {
    const json = buildMolmoTokenizerJson();
    json.decoder = { type: "NoSuchDecoder" };
    await assertTokenizerError(() => MolmoTokenizer.fromJson(json, undefined, "odd.json"), "invalid_tokenizer", "odd.json", "NoSuchDecoder");
    const clash = buildMolmoTokenizerJson();
    (clash.added_tokens as { id: number; content: string }[]).push({ id: 152066, content: "<im_twin>" });
    await assertTokenizerError(() => MolmoTokenizer.fromJson(clash), "invalid_tokenizer", "152066");
  });
});

void describe("tokenizer_config.json", () => {
  void test("Molmo-7B-D's config gives EOS <|endoftext|> and no BOS, so BOS = EOS", async () => {
    const withConfig = await MolmoTokenizer.fromFile(molmoTokenizerJsonPath(), molmoTokenizerConfigPath());
    assert.equal(withConfig.eosId, 151643);
    assert.equal(withConfig.bosId, 151643);
    assert.equal(withConfig.family, "qwen2");
  });

  void test("a config beside tokenizer.json is read; its eos_token and bos_token are honoured", async () => {
    const dir = join(scratch, "bundle-with-config");
    mkdirSync(dir);
    symlinkSync(molmoTokenizerJsonPath(), join(dir, "tokenizer.json"));
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({ eos_token: { content: "<|im_end|>", special: true }, bos_token: "<|im_start|>", clean_up_tokenization_spaces: true }),
    );
    const custom = await MolmoTokenizer.fromFile(join(dir, "tokenizer.json"));
    assert.equal(custom.eosId, 151645);
    assert.equal(custom.bosId, 151644);
    // clean_up_tokenization_spaces: true is passed on to decoding.
    assert.equal(custom.decode(custom.encode("It is 3 .")), "It is 3.");
  });

  void test("a config naming a token the tokenizer lacks, or a broken config, is refused", async () => {
    const badEos = join(scratch, "bad-eos-config.json");
    writeFileSync(badEos, JSON.stringify({ eos_token: "<no-such-eos>" }));
    await assertTokenizerError(() => MolmoTokenizer.fromFile(molmoTokenizerJsonPath(), badEos), "missing_token", "<no-such-eos>", badEos);
    const broken = join(scratch, "broken-config.json");
    writeFileSync(broken, "{ not json");
    await assertTokenizerError(() => MolmoTokenizer.fromFile(molmoTokenizerJsonPath(), broken), "corrupt_json", broken);
    await assertTokenizerError(() => MolmoTokenizer.fromFile(molmoTokenizerJsonPath(), join(scratch, "absent.json")), "not_found", "absent.json");
  });
});

void describe("other tokenizer families: ids are looked up by string", () => {
  /** A tiny byte-level BPE tokenizer whose Molmo tokens sit at vocab_size + k, as the OLMo checkpoints' are derived to. */
  function tinyTokenizerJson(extraAdded: { id: number; content: string }[]): JsonObject {
    const vocab: Record<string, number> = {};
    const printable = [...Array(94).keys()].map((i) => String.fromCharCode(33 + i));
    printable.forEach((char, id) => (vocab[char] = id));
    vocab["Ġ"] = printable.length; // byte-level space
    vocab["hi"] = printable.length + 1;
    const size = Object.keys(vocab).length;
    const molmo = ["<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>"].map((content, k) => ({ id: size + extraAdded.length + k, content }));
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [...extraAdded, ...molmo].map((token) => ({ ...token, special: true, normalized: false, lstrip: false, rstrip: false, single_word: false })),
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges: ["h i"] },
    };
  }

  void test("an OLMo-style tokenizer: image tokens at vocab_size + k, EOS <|endoftext|> doubles as BOS", () => {
    const olmo = MolmoTokenizer.fromJson(tinyTokenizerJson([{ id: 96, content: "|||IP_ADDRESS|||" }, { id: 97, content: "<|endoftext|>" }]));
    assert.equal(olmo.family, "olmo");
    assert.deepEqual(olmo.imageTokens, { imStart: 98, imEnd: 99, imPatch: 100, imCol: 101 });
    assert.equal(olmo.imagePromptId, 102);
    assert.equal(olmo.eosId, 97);
    assert.equal(olmo.bosId, 97);
    assert.deepEqual(olmo.encode("hi<im_patch>"), [95, 100]);
    assert.equal(olmo.decode(olmo.encode("hi there!")), "hi there!");
  });

  void test("an unknown family without an EOS token or config is refused with a hint", async () => {
    const json = tinyTokenizerJson([]);
    const unknown = (): MolmoTokenizer => MolmoTokenizer.fromJson(json, undefined, "tiny.json");
    await assertTokenizerError(unknown, "missing_token", "<|endoftext|>", "tokenizer_config.json", "tiny.json");
    const withConfig = MolmoTokenizer.fromJson(json, { eos_token: "<|image|>" }, "tiny.json");
    assert.equal(withConfig.family, "unknown");
    assert.equal(withConfig.eosId, withConfig.imagePromptId);
  });
});
