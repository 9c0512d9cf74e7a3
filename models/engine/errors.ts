/**
 * Why the inference engine refused or failed. Callers (CLI, LSP, MCP) branch on `code` and show `message`,
 * which is a full sentence naming the file, execution provider or input concerned.
 *
 * - `unknown_ep`: an execution-provider name that is not one of `auto|cpu|webgpu|cuda|dml|coreml`.
 * - `ep_unavailable`: a pinned execution provider cannot run here (not installed, no adapter, failed to
 *   start); with `auto`, no provider at all could run the model.
 * - `missing_file`: a model file (or its external-data file) does not exist.
 * - `corrupt_model`: the file exists but is not a loadable ONNX model (truncated, wrong file).
 * - `session_failed`: onnxruntime refused the model for another reason (unsupported operator, opset, ...).
 * - `config_mismatch`: the model's inputs or outputs are not what its bundle configuration promises.
 * - `out_of_memory`: onnxruntime could not allocate memory (host or device) while loading or running.
 * - `missing_inputs`: a run lacked inputs the model requires.
 * - `invalid_input`: a feed is not a tensor, or an argument is out of range.
 * - `run_failed`: onnxruntime failed while running the model (shape or type mismatch, kernel error).
 * - `invalid_logits`: the model returned logits generation cannot use (NaN, all -Infinity, empty).
 * - `invalid_option`: a generation option is malformed (negative top-k, top-p outside (0, 1], ...).
 * - `cancelled`: the caller's AbortSignal fired; the error's `name` is "AbortError" as for `fetch`.
 * - `disposed`: the session was used after `dispose()`.
 */
export type EngineErrorCode =
  | "unknown_ep"
  | "ep_unavailable"
  | "missing_file"
  | "corrupt_model"
  | "session_failed"
  | "config_mismatch"
  | "out_of_memory"
  | "missing_inputs"
  | "invalid_input"
  | "run_failed"
  | "invalid_logits"
  | "invalid_option"
  | "cancelled"
  | "disposed";

/** A typed engine failure. */
export class EngineError extends Error {
  /**
   * @param code machine-readable reason.
   * @param message a full sentence saying what failed and, where possible, what to do.
   * @param options the underlying error (onnxruntime's, or the abort reason), when there is one.
   */
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    // Cancellation is reported like the platform's own aborts (fetch, timers/promises), so code that checks
    // `error.name === "AbortError"` treats it the same way.
    this.name = code === "cancelled" ? "AbortError" : "EngineError";
  }
}

/** The error generation and sessions reject with when `signal` has fired; keeps the signal's reason as cause. */
export function cancelledError(signal: AbortSignal, what = "generation"): EngineError {
  return new EngineError("cancelled", `The ${what} was cancelled.`, { cause: signal.reason });
}

/** Whether `error` is the engine's cancellation (or any AbortError). */
export function isCancellation(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error instanceof EngineError && error.code === "cancelled"));
}
