/**
 * MCP over stdio (`molmo-server --mcp`): one client, JSON-RPC on stdin/stdout. Nothing else may write to
 * stdout, so all logging goes to the logger (stderr). When the client closes stdin (how MCP clients end a
 * stdio session) the server closes and `closed` resolves, so the CLI can exit.
 */
import type { Readable, Writable } from "node:stream";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { McpServeOptions } from "./options";
import { createMolmoMcpServer } from "./server";

/** A running stdio server. */
export interface McpStdioServer {
  /** Closes the connection; calls in flight are cancelled. */
  close(): Promise<void>;
  /** Resolves when the connection has closed: the client closed stdin, or {@link close} was called. */
  readonly closed: Promise<void>;
}

/**
 * Serves MCP on the given streams (the process's stdin/stdout by default).
 */
export async function serveMcpStdio(options: McpServeOptions, streams: { input?: Readable; output?: Writable } = {}): Promise<McpStdioServer> {
  const input = streams.input ?? process.stdin;
  const output = streams.output ?? process.stdout;
  const server = createMolmoMcpServer(options);
  const transport = new StdioServerTransport(input, output);
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= server.close().finally(() => {
      input.off("end", onEnd);
      markClosed();
    });
    return closing;
  };
  const onEnd = () => {
    options.logger.info("The MCP client closed stdin; closing the session.");
    void close();
  };
  input.once("end", onEnd);
  server.server.onclose = () => {
    markClosed();
  };
  await server.connect(transport);
  options.logger.info(`Molmo MCP server ${options.version} serving on stdio.`);
  return { close, closed };
}
