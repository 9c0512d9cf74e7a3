/**
 * molmo-server logs to stderr, one line per message: `<ISO time> <level> <message>` (server/cli/
 * stderr-logger.ts). The language client would log every stderr line as an error; this reads the level so
 * the Molmo output channel shows info as info, and drops the server's timestamp (the channel adds its own).
 * Lines without the prefix (a stack trace, a crash report from Node) keep the level of the line before, or
 * `error` when they come first. Pure: no `vscode` import.
 */

/** The levels of a LogOutputChannel this maps onto. */
export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error";

const PREFIX = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\s+(trace|debug|info|warn|warning|error)\s+(.*)$/i;

/** Reads log lines of one server process, remembering the level for continuation lines. */
export class ServerLogReader {
  private level: LogLevelName = "error";

  /** The level and text of one stderr line. */
  read(line: string): { level: LogLevelName; message: string } {
    const match = PREFIX.exec(line);
    if (match === null) {
      return { level: this.level, message: line };
    }
    const word = (match[1] ?? "info").toLowerCase();
    this.level = word === "warning" ? "warn" : (word as LogLevelName);
    return { level: this.level, message: match[2] ?? "" };
  }
}
