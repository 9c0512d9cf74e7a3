/** How the stdio tests and the benchmark start `molmo-server --mcp`: the compiled CLI, run by this Node. */
import { join } from "node:path";
import { repoRoot } from "../helpers/repo-root";

/** The command and arguments that start an MCP stdio server with `flags` (after --mcp). */
export function mcpStdioCommand(flags: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: [join(repoRoot(), "dist", "server", "cli", "molmo-server.js"), "--mcp", ...flags] };
}
