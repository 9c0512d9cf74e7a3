/**
 * The parts of a tool result: the error result an agent can fix its call from, and the annotated image.
 *
 * Errors are tool results with `isError` (not protocol errors), so the agent reads them and can retry with a
 * better argument; the text starts with the error code and `_meta["molmo/errorCode"]` carries it for programs.
 */
import type { CallToolResult, ImageContent } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../models/engine/logger";
import type { ImageSource } from "../models/image/source";
import { toHostError } from "../server/host/host-errors";
import type { MolmoPoint } from "../server/protocol/molmo-protocol";

/** `_meta` key of an error result's code. */
export const ERROR_CODE_META_KEY = "molmo/errorCode";

/**
 * The annotated image is scaled down to at most this many pixels on its long side: agents' models downscale
 * larger images anyway, and a 4K screenshot as PNG would cost megabytes of context. Point coordinates in the
 * structured result stay in the original image's pixels.
 */
export const ANNOTATED_IMAGE_MAX_SIDE = 1568;

/**
 * A failure of the tool itself rather than of the engine host (e.g. `element_not_found`): the model answered,
 * but not with what the tool promises.
 */
export class ToolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ToolError";
  }
}

/** A tool error result for whatever a call threw. */
export function errorResult(error: unknown): CallToolResult {
  const failure = error instanceof ToolError ? error : toHostError(error);
  let message = failure.message;
  if (failure.code === "busy") {
    message += " (The user can start the server with a larger --max-queue.)";
  }
  return {
    content: [{ type: "text", text: `${failure.code}: ${message}` }],
    isError: true,
    _meta: { [ERROR_CODE_META_KEY]: failure.code },
  };
}

/**
 * The image with `points` drawn on it, as PNG image content; undefined (with a warning in the log) when it
 * cannot be drawn, since the answer itself is still good.
 */
export async function annotatedImageContent(source: ImageSource, points: readonly MolmoPoint[], logger: Logger): Promise<ImageContent | undefined> {
  try {
    // Required on first use: a server that never draws never loads sharp for it.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { loadImage } = require("../models/image/load") as typeof import("../models/image/load");
    const { annotatePng } = require("../models/points/annotate") as typeof import("../models/points/annotate");
    const sharp = require("sharp") as typeof import("sharp");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const image = await loadImage(source);
    let png = await annotatePng(image, points);
    if (Math.max(image.width, image.height) > ANNOTATED_IMAGE_MAX_SIDE) {
      png = await sharp(png)
        .resize({ width: ANNOTATED_IMAGE_MAX_SIDE, height: ANNOTATED_IMAGE_MAX_SIDE, fit: "inside" })
        .png()
        .toBuffer();
    }
    return { type: "image", data: png.toString("base64"), mimeType: "image/png" };
  } catch (error) {
    logger.warn(`The annotated image could not be drawn: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}
