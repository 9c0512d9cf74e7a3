/**
 * Fetching an `http(s)` image, when the user allowed remote images: bounded in bytes and time, and
 * cancellable, so a slow or huge response cannot wedge the one generation slot.
 */
import { HostError } from "./host-errors";

/** Limits of one fetch. */
export interface RemoteImageLimits {
  /** Largest body accepted (default 50 MB). */
  readonly maxBytes?: number;
  /** Give up after this long (default 20 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_MAX_BYTES = 50 * 1000 * 1000;
const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * Downloads an image.
 *
 * @throws {HostError} `image_not_found` for a failed request or a non-2xx status, `bad_image` for a body over
 *   the limit, `timeout`, `cancelled`.
 */
export async function fetchRemoteImage(url: string, limits: RemoteImageLimits = {}): Promise<Uint8Array> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeout = AbortSignal.timeout(limits.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = limits.signal !== undefined ? AbortSignal.any([limits.signal, timeout]) : timeout;
  try {
    const response = await fetch(url, { signal, redirect: "follow" });
    if (!response.ok) {
      throw new HostError("image_not_found", `Fetching ${url} failed: HTTP ${response.status} ${response.statusText}.`);
    }
    const declared = Number(response.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(declared) && declared > maxBytes) {
      throw new HostError("bad_image", `The image at ${url} is ${declared} bytes; the limit is ${maxBytes}.`);
    }
    if (response.body === null) {
      throw new HostError("bad_image", `The response from ${url} has no body.`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const piece of response.body) {
      const chunk = piece as Uint8Array;
      total += chunk.byteLength;
      if (total > maxBytes) {
        throw new HostError("bad_image", `The image at ${url} is larger than the limit of ${maxBytes} bytes.`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof HostError) {
      throw error;
    }
    if (limits.signal?.aborted === true) {
      throw new HostError("cancelled", "The request was cancelled.", { cause: error });
    }
    if (timeout.aborted) {
      throw new HostError("timeout", `Fetching ${url} took longer than ${limits.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms.`, { cause: error });
    }
    throw new HostError("image_not_found", `Fetching ${url} failed: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  }
}
