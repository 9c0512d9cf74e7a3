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

/** Width and height in pixels. */
export interface PixelSize {
  readonly width: number;
  readonly height: number;
}

/** Where the resized image sits inside a padded canvas (all in pixels). */
export interface ContentPlacement {
  /** Canvas the image was letterboxed into. */
  readonly canvas: PixelSize;
  /** Size of the resized image inside the canvas. */
  readonly content: PixelSize;
  /** Padding above and left of the content (the remainder goes below and right). */
  readonly top: number;
  readonly left: number;
}

/**
 * Everything Molmo's vision encoder and the token merge need for one image, in the reference's layout
 * (allenai/molmo `MultiModalPreprocessor.preprocess`). Arrays are flat, row-major.
 */
export interface PreprocessedImage {
  /** Normalised patches, [nCrops, patchesPerCrop, pixelsPerPatch]; crop 0 is the global view. */
  readonly crops: Float32Array;
  readonly nCrops: number;
  /** 576 for 336 px crops of 14 px patches. */
  readonly patchesPerCrop: number;
  /** 588 = 14 * 14 * 3, ordered (dy, dx, channel), channel fastest. */
  readonly pixelsPerPatch: number;
  /**
   * [nCrops, patchesPerCrop]: fraction of real (non-padding) pixels per patch, laid out EXACTLY as the
   * reference returns it, off-by-one included: row k holds the mask of high-resolution crop k (which is
   * crops[k + 1]) and the last row is all -1. The released checkpoints were trained with this layout.
   */
  readonly imageMasks: Float32Array;
  /** [nCrops, tokensPerCrop]: position in `imageTokens` per pooled slot; -100 where dropped. */
  readonly imageInputIdx: Int32Array;
  /** Pooled slots per crop (144). */
  readonly tokensPerCrop: number;
  /** The image-token sequence alone: no BOS, no text. */
  readonly imageTokens: Int32Array;
  /** Number of `<im_patch>` tokens in `imageTokens` (= valid entries of `imageInputIdx`). */
  readonly numPatchTokens: number;
  /** High-resolution crops along the height (`rows`) and the width (`cols`). */
  readonly tiling: { readonly rows: number; readonly cols: number };
  /** Size of the image given to the preprocessor. */
  readonly originalSize: PixelSize;
  /** The resized image inside the high-resolution canvas. */
  readonly highRes: ContentPlacement;
  /** The resized image inside the global view. */
  readonly global: ContentPlacement;
  /** Size of the image inside the high-resolution canvas (same as `highRes.content`). */
  readonly resizedContentSize: PixelSize;
  /** The special-token ids used in `imageTokens`. */
  readonly specialTokens: ImageSpecialTokens;
}
