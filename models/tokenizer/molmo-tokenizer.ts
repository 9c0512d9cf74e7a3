/**
 * Molmo's tokenizer: a checkpoint's `tokenizer.json` (Hugging Face format) run by @huggingface/tokenizers,
 * plus the facts Molmo's prompt and image-token layout need — BOS/EOS ids and the image token ids,
 * all looked up by string in the tokenizer's added tokens.
 */
import { access } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ImageSpecialTokens } from "../preprocess/types";
import { TokenizerError } from "./errors";
import { detectTokenizerFamily, type TokenizerFamily } from "./family";
import { createHfTokenizer, type HfTokenizer } from "./hf-tokenizers";
import { readJsonFile } from "./read-json-file";
import { DEFAULT_EOS_TOKEN, IMAGE_PROMPT_TOKEN, IMAGE_TOKEN_STRINGS } from "./special-tokens";
import { TextStreamer } from "./text-streamer";
import { isRecord, parseTokenizerConfig, type TokenizerConfigFacts } from "./tokenizer-config";

export type { TokenizerFamily } from "./family";

/** Options of {@link MolmoTokenizer.decode}. */
export interface DecodeOptions {
  /**
   * Leave out special tokens (EOS, image tokens, padding tokens). Defaults to false, as in Hugging Face;
   * answers shown to users are decoded with true, as the reference's usage example does.
   */
  readonly skipSpecialTokens?: boolean;
}

/** One added token as `tokenizer.json` lists it. */
interface AddedTokenEntry {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
}

/** The file name Hugging Face gives the tokenizer settings that sit beside `tokenizer.json`. */
const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";

/**
 * A Molmo checkpoint's tokenizer. Build it with {@link MolmoTokenizer.fromFile} or
 * {@link MolmoTokenizer.fromJson}; `encode` never adds special tokens (`buildInputIds` in models/prompt
 * assembles BOS and image tokens).
 */
export class MolmoTokenizer {
  /** The base tokenizer: "qwen2" (7B-D, 72B), "olmo" (7B-O, MolmoE) or "unknown". */
  readonly family: TokenizerFamily;
  /** Id of the end-of-sequence token; generation stops on it. */
  readonly eosId: number;
  /**
   * Id put at the very start of every sequence. Qwen2 and the OLMo tokenizers have no BOS token, so the
   * EOS id is used, exactly as the reference does (GH `olmo/tokenizer.py::build_tokenizer` for names
   * containing "qwen2"/"olmo"; HF `MolmoProcessor.process`: `bos_token_id or eos_token_id`). A tokenizer
   * whose config names a BOS token gets that token.
   */
  readonly bosId: number;
  /** Ids of `<im_start>`, `<im_end>`, `<im_patch>`, `<im_col>` in this tokenizer. */
  readonly imageTokens: ImageSpecialTokens;
  /** Id of the `<|image|>` marker (never placed in prompts here; exposed so callers can reject it). */
  readonly imagePromptId: number;
  /** One more than the largest token id (base vocabulary and added tokens). */
  readonly vocabularySize: number;

  private readonly specialIds: ReadonlySet<number>;
  private readonly addedTokens: ReadonlyMap<string, number>;

  private constructor(
    private readonly hf: HfTokenizer,
    readonly source: string,
    added: readonly AddedTokenEntry[],
    config: TokenizerConfigFacts | undefined,
  ) {
    this.addedTokens = new Map(added.map((token) => [token.content, token.id]));
    this.specialIds = new Set(added.filter((token) => token.special).map((token) => token.id));
    this.family = detectTokenizerFamily(this.addedTokens, config);
    this.imageTokens = this.lookUpImageTokens();
    this.imagePromptId = this.requireAddedToken(IMAGE_PROMPT_TOKEN, "the <|image|> marker");
    this.eosId = this.resolveEos(config);
    this.bosId = config?.bosToken !== undefined ? this.requireToken(config.bosToken, "bos_token", config.source) : this.eosId;
    this.vocabularySize = computeVocabularySize(hf, added);
  }

  /**
   * Loads a checkpoint's `tokenizer.json`.
   *
   * @param tokenizerJsonPath path of `tokenizer.json`.
   * @param tokenizerConfigPath path of `tokenizer_config.json`. When omitted, a `tokenizer_config.json`
   *   next to `tokenizer.json` is used if there is one (as Hugging Face's `from_pretrained` reads the whole
   *   folder); without any, EOS is `<|endoftext|>` and decoding does not clean up spaces, which is right
   *   for every Molmo v1 tokenizer.
   * @throws {TokenizerError} naming the file: not found, unreadable, corrupt JSON, not a tokenizer, or
   *   missing one of Molmo's tokens.
   */
  static async fromFile(tokenizerJsonPath: string, tokenizerConfigPath?: string): Promise<MolmoTokenizer> {
    const tokenizerJson = await readJsonFile(tokenizerJsonPath);
    let configPath = tokenizerConfigPath;
    if (configPath === undefined) {
      const sibling = join(dirname(tokenizerJsonPath), TOKENIZER_CONFIG_FILE);
      configPath = (await exists(sibling)) ? sibling : undefined;
    }
    const config = configPath === undefined ? undefined : parseTokenizerConfig(await readJsonFile(configPath), configPath);
    return MolmoTokenizer.build(tokenizerJson, config, tokenizerJsonPath);
  }

  /**
   * Builds a tokenizer from an already parsed `tokenizer.json` (and optionally `tokenizer_config.json`).
   *
   * @param source names the input in error messages.
   * @throws {TokenizerError} if the object is not a usable tokenizer or lacks Molmo's tokens.
   */
  static fromJson(tokenizerJson: unknown, tokenizerConfig?: unknown, source = "<tokenizer.json object>"): MolmoTokenizer {
    const config = tokenizerConfig === undefined ? undefined : parseTokenizerConfig(tokenizerConfig, `${source} (tokenizer_config)`);
    return MolmoTokenizer.build(tokenizerJson, config, source);
  }

  private static build(tokenizerJson: unknown, config: TokenizerConfigFacts | undefined, source: string): MolmoTokenizer {
    const added = validateTokenizerJson(tokenizerJson, source);
    let hf: HfTokenizer;
    try {
      hf = createHfTokenizer(tokenizerJson as object, {
        // Qwen2 and OLMo configs say false; the library's own default (true) would turn " ." into ".".
        clean_up_tokenization_spaces: config?.cleanUpTokenizationSpaces ?? false,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TokenizerError("invalid_tokenizer", source, `is not a usable tokenizer.json (${reason}).`, { cause: error });
    }
    return new MolmoTokenizer(hf, source, added, config);
  }

  /**
   * Token ids of `text`, without any special token added (Molmo adds BOS and image tokens itself).
   * Added-token strings inside `text` (e.g. `<|endoftext|>`) become their ids, as in Hugging Face.
   */
  encode(text: string): number[] {
    if (typeof text !== "string") {
      throw new TokenizerError("invalid_input", this.source, `encode expects a string, got ${typeof text}.`);
    }
    if (text.length === 0) {
      return [];
    }
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Text of a list of token ids. Invalid UTF-8 (a sequence that stops inside a character) decodes to
   * U+FFFD, as Hugging Face's `errors="replace"`.
   *
   * @throws {TokenizerError} `invalid_token_id` for anything that is not the id of a token here.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (const id of list) {
      this.assertTokenId(id);
    }
    if (list.length === 0) {
      return "";
    }
    return this.hf.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * A streaming detokenizer: push generated ids one by one, get text deltas that never end inside a
   * multi-byte character. Special tokens are skipped unless `skipSpecialTokens` is false.
   */
  createTextStreamer(options: DecodeOptions = {}): TextStreamer {
    const skipSpecialTokens = options.skipSpecialTokens ?? true;
    return new TextStreamer((ids) => this.decode(ids, { skipSpecialTokens }));
  }

  /** Whether `id` is a special added token (EOS, image tokens, padding tokens, ...). */
  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Id of an added token, by its exact string; undefined if the tokenizer has no such added token. */
  addedTokenId(content: string): number | undefined {
    return this.addedTokens.get(content);
  }

  /** The token string (byte-level form) of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.hf.id_to_token(id) : undefined;
  }

  /** Id of a token string of the vocabulary (base or added), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  private assertTokenId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || this.hf.id_to_token(id) === undefined) {
      throw new TokenizerError("invalid_token_id", this.source, `${String(id)} is not a token id of this tokenizer (vocabulary size ${this.vocabularySize}).`);
    }
  }

  private lookUpImageTokens(): ImageSpecialTokens {
    const missing = Object.values(IMAGE_TOKEN_STRINGS).filter((content) => !this.addedTokens.has(content));
    if (missing.length > 0) {
      throw new TokenizerError(
        "missing_token",
        this.source,
        `lacks Molmo's image token${missing.length > 1 ? "s" : ""} ${missing.join(", ")} among its added tokens; ` +
          "use the tokenizer.json of a Molmo checkpoint, not the one of its base language model.",
      );
    }
    const ids: ImageSpecialTokens = {
      imStart: this.addedTokens.get(IMAGE_TOKEN_STRINGS.imStart)!,
      imEnd: this.addedTokens.get(IMAGE_TOKEN_STRINGS.imEnd)!,
      imPatch: this.addedTokens.get(IMAGE_TOKEN_STRINGS.imPatch)!,
      imCol: this.addedTokens.get(IMAGE_TOKEN_STRINGS.imCol)!,
    };
    if (new Set(Object.values(ids)).size !== 4) {
      throw new TokenizerError("invalid_tokenizer", this.source, `gives two image tokens the same id (${JSON.stringify(ids)}).`);
    }
    return ids;
  }

  private resolveEos(config: TokenizerConfigFacts | undefined): number {
    if (config?.eosToken !== undefined) {
      return this.requireToken(config.eosToken, "eos_token", config.source);
    }
    const id = this.addedTokens.get(DEFAULT_EOS_TOKEN);
    if (id === undefined) {
      throw new TokenizerError(
        "missing_token",
        this.source,
        `has no ${DEFAULT_EOS_TOKEN} token and no tokenizer_config.json says which token ends a sequence; pass the checkpoint's tokenizer_config.json.`,
      );
    }
    return id;
  }

  private requireAddedToken(content: string, what: string): number {
    const id = this.addedTokens.get(content);
    if (id === undefined) {
      throw new TokenizerError("missing_token", this.source, `lacks ${what} (${content}) among its added tokens.`);
    }
    return id;
  }

  private requireToken(content: string, field: string, configSource: string): number {
    const id = this.addedTokens.get(content) ?? this.hf.token_to_id(content);
    if (id === undefined) {
      throw new TokenizerError("missing_token", this.source, `has no token "${content}", which ${configSource} names as its ${field}.`);
    }
    return id;
  }
}

/**
 * Checks the parts of `tokenizer.json` that this class relies on, so that a wrong file fails with a
 * sentence rather than a TypeError from inside the library, and returns the added tokens.
 */
function validateTokenizerJson(json: unknown, source: string): AddedTokenEntry[] {
  const fail = (why: string): never => {
    throw new TokenizerError("invalid_tokenizer", source, `is not a tokenizer.json: ${why}`);
  };
  if (!isRecord(json)) {
    return fail("expected a JSON object.");
  }
  if (!isRecord(json.model) || typeof json.model.type !== "string") {
    return fail('it has no "model" object with a "type".');
  }
  if (!Array.isArray(json.added_tokens)) {
    return fail('it has no "added_tokens" list.');
  }
  const seen = new Map<number, string>();
  return json.added_tokens.map((entry: unknown, index): AddedTokenEntry => {
    if (!isRecord(entry) || !Number.isInteger(entry.id) || (entry.id as number) < 0 || typeof entry.content !== "string" || entry.content === "") {
      return fail(`added_tokens[${index}] needs a non-negative integer "id" and a non-empty "content".`);
    }
    const id = entry.id as number;
    const previous = seen.get(id);
    if (previous !== undefined) {
      return fail(`added tokens ${JSON.stringify(previous)} and ${JSON.stringify(entry.content)} share the id ${id}.`);
    }
    seen.set(id, entry.content);
    return { id, content: entry.content, special: entry.special === true };
  });
}

function computeVocabularySize(hf: HfTokenizer, added: readonly AddedTokenEntry[]): number {
  let max = -1;
  for (const id of hf.get_vocab(true).values()) {
    max = Math.max(max, id);
  }
  for (const token of added) {
    max = Math.max(max, token.id);
  }
  return max + 1;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
