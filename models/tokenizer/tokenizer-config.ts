import { TokenizerError } from "./errors";

/**
 * The few facts Molmo needs from a checkpoint's `tokenizer_config.json` (the Hugging Face file that
 * sits beside `tokenizer.json`). `tokenizer.json` itself does not say which token ends a sequence,
 * and only this file says whether decoding cleans up spaces.
 */
export interface TokenizerConfigFacts {
  /** The file (or other source) these facts came from, for error messages. */
  readonly source: string;
  /** Content of the EOS token (`eos_token`), if the file names one. */
  readonly eosToken?: string;
  /** Content of the BOS token (`bos_token`); absent when the file has none (Qwen2, OLMo: `null`). */
  readonly bosToken?: string;
  /** `clean_up_tokenization_spaces`; Hugging Face's Qwen2 and OLMo tokenizers set false. */
  readonly cleanUpTokenizationSpaces?: boolean;
  /** `tokenizer_class`, e.g. "Qwen2Tokenizer". */
  readonly tokenizerClass?: string;
  /** `name_or_path`, when the file records where the tokenizer came from. */
  readonly nameOrPath?: string;
}

/**
 * Extracts {@link TokenizerConfigFacts} from a parsed `tokenizer_config.json`.
 *
 * Token fields may be a plain string or a serialised AddedToken object (`{"content": ...}`); both
 * forms occur in published checkpoints.
 *
 * @param source the file name, for error messages.
 */
export function parseTokenizerConfig(json: unknown, source: string): TokenizerConfigFacts {
  if (!isRecord(json)) {
    throw new TokenizerError("invalid_tokenizer", source, "is not a tokenizer_config.json: expected a JSON object.");
  }
  const clean = json.clean_up_tokenization_spaces;
  if (clean !== undefined && clean !== null && typeof clean !== "boolean") {
    throw new TokenizerError("invalid_tokenizer", source, "clean_up_tokenization_spaces must be true or false.");
  }
  return {
    source,
    eosToken: tokenContent(json.eos_token, "eos_token", source),
    bosToken: tokenContent(json.bos_token, "bos_token", source),
    cleanUpTokenizationSpaces: typeof clean === "boolean" ? clean : undefined,
    tokenizerClass: typeof json.tokenizer_class === "string" ? json.tokenizer_class : undefined,
    nameOrPath: typeof json.name_or_path === "string" ? json.name_or_path : undefined,
  };
}

function tokenContent(value: unknown, field: string, source: string): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value === "string") {
    return value;
  }
  if (isRecord(value) && typeof value.content === "string") {
    return value.content;
  }
  throw new TokenizerError("invalid_tokenizer", source, `${field} must be a token string or an object with a "content" string.`);
}

/** True for a plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
