/**
 * Why an image could not be loaded. Callers (CLI, server, extension) map these codes to user-facing
 * messages, so each one names a different thing the user can act on.
 *
 * - `not_found`: the path does not exist.
 * - `not_a_file`: the path exists but is a directory, FIFO, device, socket...
 * - `unreadable`: the file exists but the operating system refused to read it (permissions, I/O error).
 * - `empty`: zero bytes.
 * - `unsupported_format`: the bytes are an image format this build cannot decode (BMP, HEIC, ...) or
 *   are not recognisable as an image at all.
 * - `corrupt`: the format was recognised but the data is damaged or truncated.
 * - `too_large`: the declared pixel count exceeds the configured limit (decompression-bomb guard).
 * - `invalid_data_uri`: a `data:` URI or base64 string that cannot be parsed.
 * - `too_many_bytes`: the encoded input itself is larger than the configured byte limit.
 */
export type ImageLoadErrorCode =
  | "not_found"
  | "not_a_file"
  | "unreadable"
  | "empty"
  | "unsupported_format"
  | "corrupt"
  | "too_large"
  | "invalid_data_uri"
  | "too_many_bytes";

/** A typed failure from {@link loadImage}; `message` always names the input (`source`). */
export class ImageLoadError extends Error {
  override readonly name = "ImageLoadError";

  /**
   * @param code machine-readable reason.
   * @param source the path, or a placeholder such as `<bytes>`, identifying the input in messages.
   * @param message a full sentence; the source name is prefixed automatically.
   * @param options the underlying error, when there is one.
   */
  constructor(
    readonly code: ImageLoadErrorCode,
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}
