/** Ids of the four tokens that frame and fill an image in Molmo's token sequence. */
export interface ImageSpecialTokens {
  readonly imStart: number;
  readonly imEnd: number;
  readonly imPatch: number;
  readonly imCol: number;
}

/** Molmo-7B-D-0924 / 72B (Qwen2 tokenizer) ids, the defaults when no tokenizer is given. */
export const QWEN2_IMAGE_TOKENS: ImageSpecialTokens = {
  imStart: 152064,
  imEnd: 152065,
  imPatch: 152066,
  imCol: 152067,
};
