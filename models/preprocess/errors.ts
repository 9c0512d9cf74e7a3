/**
 * Why preprocessing refused its input.
 *
 * - `invalid_config`: a preprocessor setting is malformed or inconsistent (e.g. margins that do not divide
 *   by the pooling size, a token length that does not match the crop size).
 * - `unsupported_config`: a well-formed setting this implementation does not provide (e.g. a crop mode
 *   other than `overlap-and-resize-c2`).
 * - `invalid_image`: the pixel buffer does not describe an RGB image (bad size, wrong byte count).
 * - `resize_failed`: the image library failed while resizing.
 */
export type PreprocessErrorCode = "invalid_config" | "unsupported_config" | "invalid_image" | "resize_failed";

/** A typed failure from the Molmo preprocessor. */
export class PreprocessError extends Error {
  override readonly name = "PreprocessError";

  /**
   * @param code machine-readable reason.
   * @param message a full sentence saying what is wrong and, where possible, what would be accepted.
   * @param options the underlying error, when there is one.
   */
  constructor(
    readonly code: PreprocessErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
