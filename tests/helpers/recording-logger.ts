/**
 * A Logger (models/engine/logger.ts) that remembers every line, so tests can assert what the engine
 * reported and at which level.
 */
import type { LogDetails, Logger } from "../../models/engine/logger";

/** One recorded line. */
export interface LogLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
  readonly details?: LogDetails;
}

/** A logger plus the lines it received. */
export interface RecordingLogger extends Logger {
  readonly lines: LogLine[];
  /** Messages of one level, in order. */
  at(level: LogLine["level"]): string[];
}

export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const record = (level: LogLine["level"]) => (message: string, details?: LogDetails) => {
    lines.push(details === undefined ? { level, message } : { level, message, details });
  };
  return {
    lines,
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
    at: (level) => lines.filter((line) => line.level === level).map((line) => line.message),
  };
}
