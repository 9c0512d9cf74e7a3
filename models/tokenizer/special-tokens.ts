import type { ImageSpecialTokens } from "../preprocess/types";

/**
 * The strings of Molmo's image tokens. Every Molmo v1 tokenizer adds them (reference `olmo/tokenizer.py`
 * `EXTRA_TOKENS`, HF `preprocessing_molmo.py`), but their ids differ per base tokenizer (152064-152067
 * for Molmo-7B-D's Qwen2, `vocab_size + k` for the OLMo ones), so ids are always looked up by string.
 */
export const IMAGE_TOKEN_STRINGS: { readonly [K in keyof ImageSpecialTokens]: string } = {
  imStart: "<im_start>",
  imEnd: "<im_end>",
  imPatch: "<im_patch>",
  imCol: "<im_col>",
};

/**
 * The text marker for where an image goes. Only the reference's training code honours it; the released
 * HF processor always puts the image first, and so does this project, so it must not appear in prompts.
 */
export const IMAGE_PROMPT_TOKEN = "<|image|>";

/**
 * The end-of-text token of every Molmo v1 base tokenizer (Qwen2, dolma2, OLMoE); the EOS when no
 * `tokenizer_config.json` says otherwise.
 */
export const DEFAULT_EOS_TOKEN = "<|endoftext|>";
