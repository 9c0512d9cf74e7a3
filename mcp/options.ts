/**
 * How the CLI (server/cli/molmo-server.ts) configures the MCP server: the one engine host of the process and
 * the settings parsed from its flags.
 */
import type { Logger } from "../models/engine/logger";
import type { EngineHost } from "../server/host/engine-host";

/** Options of {@link serveMcpStdio} and {@link serveMcpHttp} (mcp/index.ts). */
export interface McpServeOptions {
  /** The shared engine host. */
  readonly host: EngineHost;
  /** Where logs go: stderr, never stdout (stdout carries JSON-RPC in stdio mode). */
  readonly logger: Logger;
  /** The server's version (server/cli/version.ts). */
  readonly version: string;
  /** `--allow-dir` (repeatable): folders images may come from, besides or without the client's roots. */
  readonly allowedDirs: readonly string[];
  /** `--allow-outside-roots`: read images from anywhere. */
  readonly allowOutsideRoots: boolean;
  /** `--allow-remote-images`: fetch http(s) images. */
  readonly allowRemote: boolean;
  /** Attach annotated images to answers with points (default true; `--no-annotated-images`). */
  readonly annotatedImages: boolean;
}

/** Options of {@link serveMcpHttp}: the common ones plus where to listen and who may connect. */
export interface McpHttpServeOptions extends McpServeOptions {
  /** The address to bind: 127.0.0.1 by default in the CLI; anything else exposes the server beyond this machine. */
  readonly hostname: string;
  /** The port; 0 picks a free one (see the returned url). */
  readonly port: number;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Origins (e.g. `http://localhost:5173`) allowed besides requests without an Origin header (non-browser clients). */
  readonly allowedOrigins?: readonly string[];
  /** A session without requests or open streams for this long is closed (default 30 minutes). */
  readonly sessionIdleMs?: number;
  /** Most sessions open at once (default 64); `initialize` past it gets 503. */
  readonly maxSessions?: number;
}
