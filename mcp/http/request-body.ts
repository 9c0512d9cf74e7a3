/**
 * Reads a request body as JSON within a byte limit, so a client cannot make the server buffer without bound.
 * The limit admits a large screenshot inlined as a data: URI.
 */
import type { IncomingMessage } from "node:http";

/** Largest request body accepted (a data: URI of a big screenshot fits with room to spare). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Why a body could not be read. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly jsonRpcCode: number,
    message: string,
  ) {
    super(message);
    this.name = "BodyError";
  }
}

/**
 * The parsed JSON body of `request`.
 *
 * @throws {BodyError} 415 when it is not JSON, 413 past `maxBytes`, 400 for malformed JSON.
 */
export async function readJsonBody(request: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = request.headers["content-type"] ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new BodyError(415, -32000, `Unsupported Media Type: send the JSON-RPC message with Content-Type: application/json (got '${type}').`);
  }
  const declared = Number(request.headers["content-length"] ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyError(413, -32000, `Payload Too Large: ${declared} bytes; the limit is ${maxBytes}. Pass large images as a file path instead of a data: URI.`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const piece of request) {
    const chunk = piece as Buffer;
    total += chunk.length;
    if (total > maxBytes) {
      throw new BodyError(413, -32000, `Payload Too Large: more than ${maxBytes} bytes. Pass large images as a file path instead of a data: URI.`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks, total).toString("utf8")) as unknown;
  } catch (error) {
    throw new BodyError(400, -32700, `Parse error: the body is not valid JSON (${(error as Error).message}).`);
  }
}
