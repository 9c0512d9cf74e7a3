/**
 * The server's logger: one line per message on stderr, filtered by level. stderr because stdout carries
 * JSON-RPC in the stdio modes (LSP and MCP); editors show a server's stderr in their log views.
 */
import type { LogDetails, Logger } from "../../models/engine/logger";
import type { LogLevel } from "./server-options";

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Something lines are written to (process.stderr; tests pass a collector). */
export interface LineSink {
  write(text: string): unknown;
}

/**
 * A logger writing `<ISO time> <level> <message> <details as JSON>` lines at `level` and above.
 * Details that cannot be serialised (cycles, BigInt) are written as a note rather than throwing.
 */
export function createStderrLogger(level: LogLevel, sink: LineSink = process.stderr): Logger {
  const write = (lineLevel: LogLevel) => (message: string, details?: LogDetails) => {
    if (RANK[lineLevel] > RANK[level]) {
      return;
    }
    const extra = details === undefined ? "" : ` ${serialise(details)}`;
    try {
      sink.write(`${new Date().toISOString()} ${lineLevel.padEnd(5)} ${message}${extra}\n`);
    } catch {
      // stderr is gone (the client closed it): there is nowhere left to report to.
    }
  };
  return { error: write("error"), warn: write("warn"), info: write("info"), debug: write("debug") };
}

function serialise(details: LogDetails): string {
  try {
    return JSON.stringify(details);
  } catch {
    return "(details not serialisable)";
  }
}
