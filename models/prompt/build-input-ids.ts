/**
 * Assembles the token sequence Molmo reads: `[BOS][image tokens][text tokens]`, the layout of the HF
 * processor (`MolmoProcessor.process`: text tokens, image inserted at the very start, then BOS
 * prepended) and of the reference's `MultiModalPreprocessor.__call__` when the text has no `<|image|>`
 * marker.
 */
import type { MolmoTokenizer } from "../tokenizer/molmo-tokenizer";
import { formatConversation, type ChatTurn } from "./chat-format";
import { PromptError } from "./errors";

/**
 * Molmo's usable context: the HF remote code builds its RoPE table for `max_position_embeddings` = 4096
 * positions, so prompt plus answer must fit in 4096 tokens (molmo-reference §2.6).
 */
export const MOLMO_MAX_SEQUENCE_LENGTH = 4096;

/** What `buildInputIds` needs from a tokenizer (a {@link MolmoTokenizer} has all of it). */
export type PromptTokenizer = Pick<MolmoTokenizer, "encode" | "bosId" | "eosId" | "imageTokens" | "isSpecialId" | "idToToken">;

/** Input of {@link buildInputIds}: exactly one of `prompt` and `messages`. */
export interface BuildInputIdsOptions {
  readonly tokenizer: PromptTokenizer;
  /**
   * The image's token sequence from the preprocessor (`<im_start>` … `<im_end>`, low-res view then
   * high-res view), without BOS. Omitted or empty for a text-only prompt.
   */
  readonly imageTokens?: Int32Array | readonly number[];
  /** A single user message, e.g. from `buildPrompt` (the HF processor's `text`). */
  readonly prompt?: string;
  /** A whole conversation ending with a user turn (multi-turn follow-up questions). */
  readonly messages?: readonly ChatTurn[];
  /** Context size to check against; defaults to {@link MOLMO_MAX_SEQUENCE_LENGTH}. */
  readonly maxSequenceLength?: number;
  /** Tokens to keep free for the answer (e.g. max_new_tokens); defaults to 0. */
  readonly reserveTokens?: number;
}

/** The model's token input. */
export interface ModelInput {
  /** `[BOS][image tokens][text tokens]`. */
  readonly inputIds: Int32Array;
  /**
   * Position of the first image token in `inputIds` — always 1, right after BOS. Adding it to the
   * non-negative entries of the preprocessor's `image_input_idx` (positions within the image tokens)
   * gives sequence positions, which is the +1 the HF processor applies.
   */
  readonly imageTokenOffset: number;
  /** Position of the first text token (= 1 + number of image tokens). */
  readonly textTokenOffset: number;
}

/**
 * Tokenizes a prompt or conversation and assembles the model input.
 *
 * Each message is tokenized separately and an EOS id follows every assistant turn, as in the reference;
 * for a single prompt this is exactly the HF processor's sequence.
 *
 * @throws {PromptError} for empty/overlong text, a malformed conversation, text containing special-token
 *   strings (`reserved_token`: `<|endoftext|>` typed into a question would end the turn, `<im_patch>`
 *   would claim an image slot), image tokens not made with this tokenizer's ids, or a sequence longer than
 *   the context allows.
 */
export function buildInputIds(options: BuildInputIdsOptions): ModelInput {
  const { tokenizer } = options;
  const messages = resolveMessages(options);
  const imageTokens = options.imageTokens ?? [];
  checkImageTokens(imageTokens, tokenizer);

  const textIds: number[] = [];
  messages.forEach((message, index) => {
    const ids = tokenizer.encode(message);
    const reserved = ids.find((id) => tokenizer.isSpecialId(id));
    if (reserved !== undefined) {
      throw new PromptError(
        "reserved_token",
        `The text contains ${JSON.stringify(tokenizer.idToToken(reserved) ?? String(reserved))}, a special token of the model; remove it from the ${messages.length > 1 ? `turn ${index + 1}` : "question"}.`,
      );
    }
    textIds.push(...ids);
    if (index % 2 === 1) {
      textIds.push(tokenizer.eosId);
    }
  });

  const total = 1 + imageTokens.length + textIds.length;
  checkLength(total, options);

  const inputIds = new Int32Array(total);
  inputIds[0] = tokenizer.bosId;
  inputIds.set(imageTokens, 1);
  inputIds.set(textIds, 1 + imageTokens.length);
  return { inputIds, imageTokenOffset: 1, textTokenOffset: 1 + imageTokens.length };
}

function resolveMessages(options: BuildInputIdsOptions): string[] {
  const { prompt, messages } = options;
  if (prompt !== undefined && messages === undefined) {
    return formatConversation([{ role: "user", text: prompt }]);
  }
  if (messages !== undefined && prompt === undefined) {
    return formatConversation(messages);
  }
  throw new PromptError("invalid_task", "Give buildInputIds either a prompt or messages, not both and not neither.");
}

function checkImageTokens(imageTokens: Int32Array | readonly number[], tokenizer: PromptTokenizer): void {
  if (imageTokens.length === 0) {
    return;
  }
  const { imStart, imEnd, imPatch, imCol } = tokenizer.imageTokens;
  const allowed = new Set([imStart, imEnd, imPatch, imCol]);
  for (let i = 0; i < imageTokens.length; i++) {
    if (!allowed.has(imageTokens[i])) {
      throw new PromptError(
        "invalid_image_tokens",
        `Image token ${imageTokens[i]} at position ${i} is not one of this tokenizer's image tokens ` +
          `(<im_start> ${imStart}, <im_end> ${imEnd}, <im_patch> ${imPatch}, <im_col> ${imCol}); was the image preprocessed with another tokenizer's ids?`,
      );
    }
  }
  if (imageTokens[0] !== imStart || imageTokens[imageTokens.length - 1] !== imEnd) {
    throw new PromptError("invalid_image_tokens", "Image tokens must start with <im_start> and end with <im_end>.");
  }
}

function checkLength(total: number, options: BuildInputIdsOptions): void {
  const max = options.maxSequenceLength ?? MOLMO_MAX_SEQUENCE_LENGTH;
  const reserve = options.reserveTokens ?? 0;
  if (!Number.isInteger(max) || max < 1 || !Number.isInteger(reserve) || reserve < 0) {
    throw new PromptError("invalid_task", "maxSequenceLength must be a positive integer and reserveTokens a non-negative integer.");
  }
  if (total + reserve > max) {
    const image = (options.imageTokens ?? []).length;
    throw new PromptError(
      "sequence_too_long",
      `The prompt needs ${total} tokens (1 BOS, ${image} image, ${total - 1 - image} text)${reserve > 0 ? ` plus ${reserve} for the answer` : ""}, ` +
        `more than the model's ${max}; shorten the question or the conversation, or use fewer crops.`,
    );
  }
}
