/**
 * Why the engine host refused or failed a request. LSP answers carry `code` as the JSON-RPC error's
 * `data.code`, MCP tool errors print it with the message; both protocols show `message`, a full sentence that
 * says what to change (the path, the question, the model setting).
 */
import { BundleError } from "../../models/bundle/errors";
import { EngineError } from "../../models/engine/errors";
import { ImageLoadError } from "../../models/image/errors";
import { PromptError } from "../../models/prompt/errors";

/**
 * - `no_model`: no model bundle is configured.
 * - `model_load_failed`: the configured bundle could not be loaded (missing files, bad provider, ...).
 * - `busy`: the queue is full; try again later.
 * - `timeout`: the request took longer than its time limit (queue time included).
 * - `cancelled`: the client cancelled the request.
 * - `bad_request`: malformed parameters (a missing question, an option out of range, an overlong prompt).
 * - `image_not_found`: the image path does not exist (relative paths: nowhere it was looked for).
 * - `outside_workspace`: the image lies outside the allowed folders.
 * - `remote_image_refused`: an http(s) image while remote images are not allowed.
 * - `bad_image`: the file is not a readable image (corrupt, unsupported format, too large).
 * - `out_of_memory`: the execution provider ran out of memory.
 * - `engine_failed`: the model failed while answering (the request fails; the server keeps serving).
 * - `disposed`: the server is shutting down.
 */
export type HostErrorCode =
  | "no_model"
  | "model_load_failed"
  | "busy"
  | "timeout"
  | "cancelled"
  | "bad_request"
  | "image_not_found"
  | "outside_workspace"
  | "remote_image_refused"
  | "bad_image"
  | "out_of_memory"
  | "engine_failed"
  | "disposed";

/** A typed failure of one request; the host keeps serving others. */
export class HostError extends Error {
  constructor(
    readonly code: HostErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = code === "cancelled" ? "AbortError" : "HostError";
  }
}

/**
 * Turns whatever a request threw into a {@link HostError}: the typed errors of models/ keep their message and
 * get the host's code; anything else (a bug, an onnxruntime crash) becomes `engine_failed` with its message
 * kept, so one bad request never takes the server down with an untyped error.
 */
export function toHostError(error: unknown): HostError {
  if (error instanceof HostError) {
    return error;
  }
  if (error instanceof ImageLoadError) {
    const code = error.code === "not_found" ? "image_not_found" : "bad_image";
    return new HostError(code, error.message, { cause: error });
  }
  if (error instanceof PromptError) {
    return new HostError("bad_request", error.message, { cause: error });
  }
  if (error instanceof BundleError) {
    return new HostError("model_load_failed", error.message, { cause: error });
  }
  if (error instanceof EngineError) {
    switch (error.code) {
      case "cancelled":
        return new HostError("cancelled", "The request was cancelled.", { cause: error });
      case "invalid_option":
      case "invalid_input":
        return new HostError("bad_request", error.message, { cause: error });
      case "out_of_memory":
        return new HostError("out_of_memory", error.message, { cause: error });
      case "disposed":
        return new HostError("disposed", "The model was unloaded while answering; ask again.", { cause: error });
      default:
        return new HostError("engine_failed", error.message, { cause: error });
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HostError("engine_failed", `The model failed while answering: ${message}`, { cause: error });
}
