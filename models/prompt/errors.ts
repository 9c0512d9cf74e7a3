/**
 * Why a prompt could not be built. Callers map these codes to messages a user can act on.
 *
 * - `empty_text`: a question, label or conversation turn is empty (or only whitespace).
 * - `text_too_long`: a question, label or turn is longer than any sensible prompt (a pasted file, say).
 * - `invalid_task`: the task object itself is malformed (unknown kind or style, bad option value).
 * - `invalid_conversation`: turns that do not alternate user/assistant, or do not end with the user.
 * - `reserved_token`: the text contains a string that the tokenizer turns into a special token
 *   (`<|endoftext|>`, `<im_patch>`, ...), which would corrupt the sequence.
 * - `invalid_image_tokens`: the image tokens were not made with this tokenizer's image token ids.
 * - `sequence_too_long`: image tokens plus text (plus the room kept for the answer) exceed the model's context.
 */
export type PromptErrorCode =
  | "empty_text"
  | "text_too_long"
  | "invalid_task"
  | "invalid_conversation"
  | "reserved_token"
  | "invalid_image_tokens"
  | "sequence_too_long";

/** A typed failure from the prompt builders. */
export class PromptError extends Error {
  override readonly name = "PromptError";

  constructor(
    readonly code: PromptErrorCode,
    message: string,
  ) {
    super(message);
  }
}
