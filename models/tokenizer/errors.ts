/**
 * Why a tokenizer could not be loaded or used. Callers map these codes to messages a user can act on.
 *
 * - `not_found`: the tokenizer file does not exist.
 * - `unreadable`: the file exists but could not be read (a directory, permissions, I/O error).
 * - `corrupt_json`: the file is not valid JSON (truncated download, wrong file).
 * - `invalid_tokenizer`: valid JSON, but not a tokenizer the Hugging Face tokenizers format describes.
 * - `missing_token`: a token Molmo needs (`<im_patch>`, `<|image|>`, the EOS token, ...) is not among
 *   the tokenizer's added tokens.
 * - `invalid_token_id`: `decode` was given something that is not the id of a token in this vocabulary.
 * - `invalid_input`: `encode` was given something that is not a string.
 */
export type TokenizerErrorCode =
  | "not_found"
  | "unreadable"
  | "corrupt_json"
  | "invalid_tokenizer"
  | "missing_token"
  | "invalid_token_id"
  | "invalid_input";

/** A typed tokenizer failure; `message` names the file (or other source) it is about. */
export class TokenizerError extends Error {
  override readonly name = "TokenizerError";

  /**
   * @param code machine-readable reason.
   * @param source the file path, or a placeholder such as `<tokenizer.json object>`, named in the message.
   * @param message a full sentence; the source is prefixed automatically.
   * @param options the underlying error, when there is one.
   */
  constructor(
    readonly code: TokenizerErrorCode,
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}
