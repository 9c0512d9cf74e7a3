import { PromptError } from "./errors";

/**
 * The longest question or conversation turn accepted, in UTF-16 code units. Molmo's context is 4096
 * tokens and an image takes up to ~1500 of them, so no useful turn comes near this; the limit stops a
 * pasted file from being tokenized at all. The exact budget is checked in tokens by `buildInputIds`.
 */
export const MAX_TURN_CHARS = 16_000;

/** The longest label for pointing or counting: labels are short noun phrases ("red car"). */
export const MAX_LABEL_CHARS = 300;

/**
 * Trims a question or conversation turn and checks it is non-empty and not absurdly long. Trimming
 * matches the training data, whose questions and answers carry no surrounding whitespace (the format
 * adds its own single spaces).
 *
 * @param what names the text in error messages ("question", "turn 3").
 */
export function cleanTurnText(text: unknown, what: string): string {
  if (typeof text !== "string") {
    throw new PromptError("invalid_task", `The ${what} must be a string, got ${text === null ? "null" : typeof text}.`);
  }
  const trimmed = text.trim();
  if (trimmed.length === 0) {
    throw new PromptError("empty_text", `The ${what} is empty.`);
  }
  if (trimmed.length > MAX_TURN_CHARS) {
    throw new PromptError("text_too_long", `The ${what} is ${trimmed.length} characters long; at most ${MAX_TURN_CHARS} are accepted.`);
  }
  return trimmed;
}

/**
 * Normalises a pointing/counting label the way the training data had it: lower-cased
 * (`label.lower()` in the reference's DataFormatter), on one line, without surrounding spaces.
 */
export function cleanLabel(label: unknown): string {
  if (typeof label !== "string") {
    throw new PromptError("invalid_task", `The label must be a string, got ${label === null ? "null" : typeof label}.`);
  }
  const cleaned = label.trim().replace(/\s+/g, " ").toLowerCase();
  if (cleaned.length === 0) {
    throw new PromptError("empty_text", "The label is empty: say what to point at or count.");
  }
  if (cleaned.length > MAX_LABEL_CHARS) {
    throw new PromptError("text_too_long", `The label is ${cleaned.length} characters long; at most ${MAX_LABEL_CHARS} are accepted.`);
  }
  return cleaned;
}
