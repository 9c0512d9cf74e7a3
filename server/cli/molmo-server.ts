#!/usr/bin/env node
/**
 * `molmo-server` — one Molmo engine host served over LSP (editors) or MCP (agents).
 *
 * This file only wires: it parses the command line, makes the logger (stderr: stdout carries JSON-RPC in the
 * stdio modes) and the ONE engine host, hands them to the LSP server or to the MCP server, and stops cleanly
 * on a signal or when the client goes away. The exit codes are those of `--help` (server-options.ts).
 */
import type { Logger } from "../../models/engine/logger";
import { EngineHost } from "../host/engine-host";
import { EXIT_CODES, SERVER_USAGE, parseServerCommandLine, type ServerOptions } from "./server-options";
import { createStderrLogger } from "./stderr-logger";
import { CliUsageError } from "./usage";
import { version } from "./version";

/** Stops the running server; resolves when it no longer serves. */
type Stop = () => Promise<void>;

async function main(argv: readonly string[]): Promise<void> {
  let command;
  try {
    command = parseServerCommandLine(argv, process.env);
  } catch (error) {
    if (error instanceof CliUsageError) {
      process.stderr.write(`molmo-server: ${error.message}\n\nRun molmo-server --help for the options.\n`);
      process.exit(EXIT_CODES.usage);
    }
    throw error;
  }
  if (command.kind === "help") {
    process.stdout.write(SERVER_USAGE);
    return;
  }
  if (command.kind === "version") {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const options = command.options;
  const logger = createStderrLogger(options.logLevel);
  guardProcess(logger);
  logger.info(`molmo-server ${version()} (${describeMode(options)}) on Node ${process.version}, pid ${process.pid}.`);
  const host = new EngineHost({
    ...(options.modelPath !== undefined ? { modelPath: options.modelPath } : {}),
    ...(options.ep !== undefined ? { ep: options.ep } : {}),
    ...(options.tokenizerPath !== undefined ? { tokenizerPath: options.tokenizerPath } : {}),
    modelFolders: options.modelFolders,
    logger,
    ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
    ...(options.maxCrops !== undefined ? { defaultMaxCrops: options.maxCrops } : {}),
    ...(options.timeoutMs !== undefined ? { defaultTimeoutMs: options.timeoutMs } : {}),
  });
  if (options.eager) {
    // Loading runs beside the protocol's start-up, so the client is answered while the model loads.
    host.load().catch((error: unknown) => logger.error(`Loading the model at start failed: ${error instanceof Error ? error.message : String(error)}`));
  }
  const stop = await serve(options, host, logger);
  const stopAndExit = (reason: string, code: number) => {
    logger.info(`Stopping (${reason}).`);
    void stop()
      .catch((error: unknown) => logger.error(`Stopping failed: ${String(error)}`))
      .finally(() => process.exit(code));
  };
  process.once("SIGINT", () => stopAndExit("SIGINT", EXIT_CODES.ok));
  process.once("SIGTERM", () => stopAndExit("SIGTERM", EXIT_CODES.ok));
}

/** Starts the server of the chosen mode; returns how to stop it. */
async function serve(options: ServerOptions, host: EngineHost, logger: Logger): Promise<Stop> {
  const mode = options.mode;
  switch (mode.kind) {
    case "lsp": {
      // Required here so that the MCP modes never load the LSP libraries, and the reverse below.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const lsp = require("../lsp/language-server") as typeof import("../lsp/language-server");
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { openChannel } = require("../lsp/transport") as typeof import("../lsp/transport");
      const server = lsp.startLanguageServer({
        host,
        logger,
        version: version(),
        channel: openChannel(mode.transport),
        defaults: {
          ...(options.modelPath !== undefined ? { modelPath: options.modelPath } : {}),
          ...(options.ep !== undefined ? { executionProvider: options.ep } : {}),
          allowOutsideWorkspace: options.allowOutsideRoots,
          allowRemote: options.allowRemoteImages,
        },
      });
      // The client went away without `exit`: unload and leave with the code the spec asks for.
      void server.closed.then((code) => host.dispose().finally(() => process.exit(code)));
      return () => host.dispose();
    }
    case "mcp-stdio":
    case "mcp-http":
      return serveMcp(options, host, logger);
  }
}

async function serveMcp(options: ServerOptions, host: EngineHost, logger: Logger): Promise<Stop> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mcp = require("../../mcp/index") as typeof import("../../mcp/index");
  const common = {
    host,
    logger,
    version: version(),
    allowedDirs: options.allowedDirs,
    allowOutsideRoots: options.allowOutsideRoots,
    allowRemote: options.allowRemoteImages,
    annotatedImages: options.annotatedImages,
  };
  if (options.mode.kind === "mcp-http") {
    const server = await mcp.serveMcpHttp({
      ...common,
      hostname: options.mode.hostname,
      port: options.mode.port,
      ...(options.token !== undefined ? { token: options.token } : {}),
      allowedOrigins: options.allowedOrigins,
    });
    logger.debug(`MCP over streamable HTTP at ${server.url}${options.token !== undefined ? " (bearer token required)" : " (no token)"}.`);
    return async () => {
      await server.close();
      await host.dispose();
    };
  }
  const server = await mcp.serveMcpStdio(common);
  // An MCP stdio client ends the session by closing our stdin; the session then closes and so do we.
  void server.closed.then(() => host.dispose()).finally(() => process.exit(EXIT_CODES.ok));
  return async () => {
    await server.close();
    await host.dispose();
  };
}

function describeMode(options: ServerOptions): string {
  const mode = options.mode;
  switch (mode.kind) {
    case "lsp":
      return mode.transport.kind === "socket" ? `LSP over socket port ${mode.transport.port}` : mode.transport.kind === "pipe" ? `LSP over pipe ${mode.transport.name}` : `LSP over ${mode.transport.kind}`;
    case "mcp-stdio":
      return "MCP over stdio";
    case "mcp-http":
      return `MCP over HTTP on ${mode.hostname}:${mode.port}`;
  }
}

/**
 * A server people keep running all day should not die of one stray error: errors that escape every
 * handler are logged, and the server goes on serving. (Each request's own failures are already answered
 * as errors by the engine host and the protocol layers.)
 */
function guardProcess(logger: Logger): void {
  process.on("unhandledRejection", (reason) => logger.error(`Unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));
  process.on("uncaughtException", (error) => logger.error(`Uncaught exception: ${error.stack ?? error.message}`));
  // A client that vanished makes writes to stdout fail with EPIPE; the channel's close handling ends the process.
  process.stdout.on("error", (error: Error) => logger.warn(`stdout: ${error.message}`));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`molmo-server: could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(EXIT_CODES.failure);
});
