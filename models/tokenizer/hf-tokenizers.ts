/**
 * The one place that loads @huggingface/tokenizers (a pure-JavaScript port of Hugging Face's
 * tokenizers library that reads `tokenizer.json` files).
 *
 * The package is an ES module with a CommonJS build beside it. This project compiles to CommonJS, so
 * the CommonJS build is loaded with `require` (synchronously, which keeps `MolmoTokenizer.fromJson`
 * synchronous). The package's own type declarations cannot be used: they import their siblings without
 * file extensions, which Node16 module resolution rejects for ES-module declarations, so every type in
 * them silently becomes `any`. The small interface below declares the part of the API this project calls
 * (as documented in the package's `types/core/Tokenizer.d.ts`, version 0.2).
 */
import { createRequire } from "node:module";

/** The subset of the library's `Tokenizer` class that MolmoTokenizer uses. */
export interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  /** The token string of an id (base vocabulary or added token), or undefined. */
  id_to_token(id: number): string | undefined;
  /** The id of a token string, or undefined. */
  token_to_id(token: string): number | undefined;
  /** Token string → id for the whole vocabulary. */
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}

interface HfTokenizersModule {
  Tokenizer: new (tokenizerJson: object, tokenizerConfig: object) => HfTokenizer;
}

const hfTokenizers = createRequire(__filename)("@huggingface/tokenizers") as HfTokenizersModule;

/** Settings from `tokenizer_config.json` that the library reads at construction. */
export interface HfTokenizerSettings {
  /**
   * Whether `decode` rewrites " ." to "." and the like. The library defaults to true, Qwen2 and the
   * OLMo tokenizers ship false, so it is always passed explicitly.
   */
  readonly clean_up_tokenization_spaces: boolean;
}

/**
 * Builds a library tokenizer from a parsed `tokenizer.json`. The library validates little and may
 * throw plain `Error`s or `TypeError`s on malformed input; the caller turns those into typed errors.
 */
export function createHfTokenizer(tokenizerJson: object, settings: HfTokenizerSettings): HfTokenizer {
  return new hfTokenizers.Tokenizer(tokenizerJson, { ...settings });
}
