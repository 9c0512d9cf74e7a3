/**
 * The logging seam of models/. Code under models/ never writes to the console (the lint forbids it):
 * callers inject a {@link Logger} — the CLI one that prints to stderr, the server one that forwards to the
 * LSP client's output channel — and tests inject one that records lines.
 */

/** Structured extras of a log line (names, dims, timings); never tensor data. */
export type LogDetails = Readonly<Record<string, unknown>>;

/** Where models/ sends what it has to say. Each method takes one full sentence. */
export interface Logger {
  debug(message: string, details?: LogDetails): void;
  info(message: string, details?: LogDetails): void;
  warn(message: string, details?: LogDetails): void;
  error(message: string, details?: LogDetails): void;
}

/** A logger that drops everything: the default wherever a caller passes none. */
export const silentLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});
