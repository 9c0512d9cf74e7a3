import { constants as fsConstants, promises as fs } from "node:fs";
import { ImageLoadError } from "./errors";

/**
 * Where an image comes from: a file path or a `data:` URI (as a string), encoded bytes, or one of the
 * tagged forms. `name` is only used to identify the input in error messages.
 */
export type ImageSource =
  | string
  | Uint8Array
  | { path: string }
  | { bytes: Uint8Array; name?: string }
  | { base64: string; name?: string };

/** Encoded image bytes plus the name used for them in messages. */
export interface EncodedImage {
  readonly bytes: Buffer;
  readonly name: string;
}

/**
 * Reads the encoded bytes of `source`, enforcing `maxInputBytes` before anything large is allocated.
 *
 * @throws ImageLoadError with code not_found, not_a_file, unreadable, empty, invalid_data_uri or
 *   too_many_bytes.
 */
export async function readImageSource(source: ImageSource, maxInputBytes: number): Promise<EncodedImage> {
  if (typeof source === "string") {
    return source.startsWith("data:")
      ? { bytes: decodeDataUri(source, "<data URI>", maxInputBytes), name: "<data URI>" }
      : readImageFile(source, maxInputBytes);
  }
  if (source instanceof Uint8Array) {
    return { bytes: checkedBytes(source, "<bytes>", maxInputBytes), name: "<bytes>" };
  }
  if ("path" in source) {
    return readImageFile(source.path, maxInputBytes);
  }
  if ("bytes" in source) {
    const name = source.name ?? "<bytes>";
    return { bytes: checkedBytes(source.bytes, name, maxInputBytes), name };
  }
  if ("base64" in source) {
    const name = source.name ?? "<base64>";
    // Accept a full data: URI here too: callers often cannot tell which one they were handed.
    const bytes = source.base64.startsWith("data:")
      ? decodeDataUri(source.base64, name, maxInputBytes)
      : decodeBase64(source.base64, name, maxInputBytes);
    return { bytes, name };
  }
  throw new TypeError("loadImage: unsupported ImageSource");
}

function checkedBytes(bytes: Uint8Array, name: string, maxInputBytes: number): Buffer {
  if (bytes.byteLength === 0) {
    throw new ImageLoadError("empty", name, "the image data is empty (0 bytes).");
  }
  if (bytes.byteLength > maxInputBytes) {
    throw tooManyBytes(name, bytes.byteLength, maxInputBytes);
  }
  // A view, not a copy: sharp only reads the buffer.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function tooManyBytes(name: string, size: number, maxInputBytes: number): ImageLoadError {
  return new ImageLoadError(
    "too_many_bytes",
    name,
    `the encoded image is ${size} bytes, more than the limit of ${maxInputBytes} bytes.`,
  );
}

/**
 * Opens without blocking and checks with fstat on the open handle, so a FIFO or device given as the path
 * cannot hang the read, and the size checked is the size of the file actually read.
 */
async function readImageFile(path: string, maxInputBytes: number): Promise<EncodedImage> {
  if (path.length === 0) {
    throw new ImageLoadError("not_found", "<empty path>", "no file path was given.");
  }
  const nonBlocking = fsConstants.O_NONBLOCK ?? 0;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, fsConstants.O_RDONLY | nonBlocking);
  } catch (error) {
    throw fileOpenError(path, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      const kind = stat.isDirectory() ? "a directory" : "not a regular file";
      throw new ImageLoadError("not_a_file", path, `this path is ${kind}, not an image file.`);
    }
    if (stat.size === 0) {
      throw new ImageLoadError("empty", path, "the file is empty (0 bytes).");
    }
    if (stat.size > maxInputBytes) {
      throw tooManyBytes(path, stat.size, maxInputBytes);
    }
    const bytes = await readUpTo(handle, maxInputBytes + 1);
    if (bytes.length > maxInputBytes) {
      throw tooManyBytes(path, bytes.length, maxInputBytes);
    }
    if (bytes.length === 0) {
      throw new ImageLoadError("empty", path, "the file is empty (0 bytes).");
    }
    return { bytes, name: path };
  } catch (error) {
    if (error instanceof ImageLoadError) throw error;
    throw new ImageLoadError("unreadable", path, `the file could not be read (${describe(error)}).`, {
      cause: error,
    });
  } finally {
    await handle.close();
  }
}

/** Reads at most `limit` bytes; the file may have grown or shrunk since fstat. */
async function readUpTo(handle: fs.FileHandle, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const chunk = Buffer.allocUnsafe(Math.min(limit - total, 1 << 20));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
    total += bytesRead;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

function fileOpenError(path: string, error: unknown): ImageLoadError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new ImageLoadError("not_found", path, "no such file.", { cause: error });
  }
  if (code === "EISDIR") {
    return new ImageLoadError("not_a_file", path, "this path is a directory, not an image file.", { cause: error });
  }
  return new ImageLoadError("unreadable", path, `the file could not be opened (${describe(error)}).`, {
    cause: error,
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL_BODY = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict base64 (standard or URL-safe alphabet, whitespace ignored): Buffer.from(..., "base64") silently
 * skips invalid characters, which would turn a typo into a confusing "corrupt image" error.
 */
function decodeBase64(text: string, name: string, maxInputBytes: number): Buffer {
  // Estimate before stripping whitespace so a huge string is rejected without copying it.
  if (Math.floor((text.length * 3) / 4) > maxInputBytes + 3) {
    const compact = text.replace(/\s+/g, "");
    if (Math.floor((compact.length * 3) / 4) - 2 > maxInputBytes) {
      throw tooManyBytes(name, Math.floor((compact.length * 3) / 4), maxInputBytes);
    }
  }
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0) {
    throw new ImageLoadError("empty", name, "the base64 image data is empty.");
  }
  if (!BASE64_BODY.test(compact) && !BASE64URL_BODY.test(compact)) {
    throw new ImageLoadError("invalid_data_uri", name, "the image data is not valid base64.");
  }
  if (compact.replace(/=+$/, "").length % 4 === 1) {
    throw new ImageLoadError("invalid_data_uri", name, "the base64 image data has an impossible length (truncated?).");
  }
  const bytes = Buffer.from(compact, BASE64_BODY.test(compact) ? "base64" : "base64url");
  return checkedBytes(bytes, name, maxInputBytes);
}

/** Parses `data:[<media type>][;base64],<data>` (RFC 2397); non-base64 payloads are percent-decoded. */
function decodeDataUri(uri: string, name: string, maxInputBytes: number): Buffer {
  const comma = uri.indexOf(",");
  if (comma < 0) {
    throw new ImageLoadError("invalid_data_uri", name, "the data: URI has no ',' separating header and data.");
  }
  const header = uri.slice("data:".length, comma);
  const body = uri.slice(comma + 1);
  const parameters = header.split(";").map((part) => part.trim().toLowerCase());
  const mediaType = parameters[0];
  if (mediaType !== "" && !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(mediaType)) {
    throw new ImageLoadError("invalid_data_uri", name, `the data: URI has an invalid media type '${mediaType}'.`);
  }
  if (mediaType !== "" && !mediaType.startsWith("image/") && mediaType !== "application/octet-stream") {
    throw new ImageLoadError("invalid_data_uri", name, `the data: URI holds '${mediaType}', not an image.`);
  }
  if (parameters.slice(1).includes("base64")) {
    return decodeBase64(body, name, maxInputBytes);
  }
  if (body.length > maxInputBytes * 3) {
    throw tooManyBytes(name, body.length, maxInputBytes);
  }
  return checkedBytes(percentDecode(body, name), name, maxInputBytes);
}

/** Percent-decodes to raw bytes (decodeURIComponent would insist the bytes are UTF-8 text). */
function percentDecode(text: string, name: string): Buffer {
  const raw = Buffer.from(text, "utf8");
  const out = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25 /* % */) {
      out[length++] = raw[i];
      continue;
    }
    const hex = raw.toString("latin1", i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
      throw new ImageLoadError("invalid_data_uri", name, "the data: URI has invalid percent-encoding.");
    }
    out[length++] = parseInt(hex, 16);
    i += 2;
  }
  return out.subarray(0, length);
}
