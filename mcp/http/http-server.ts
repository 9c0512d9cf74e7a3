/**
 * MCP over streamable HTTP (`molmo-server --mcp-http`), on node:http with the SDK's
 * StreamableHTTPServerTransport (no web framework: routing one path and four methods needs none).
 *
 * One endpoint, `/mcp`: POST carries client messages (an `initialize` without `Mcp-Session-Id` starts a session),
 * GET opens the session's stream of server messages, DELETE ends the session. Before any of that, every request
 * passes the Host/Origin checks against DNS rebinding and the optional bearer token (./guards.ts); bodies are
 * JSON within a size limit (./request-body.ts). Refusals are JSON-RPC error objects with the HTTP status the
 * transport specification names: 400 malformed, 401 no or wrong token, 403 bad Host/Origin, 404 unknown session
 * or path, 405 other methods, 413 too large, 415 not JSON, 503 too many sessions.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { McpHttpServeOptions } from "../options";
import { createMolmoMcpServer } from "../server";
import { isLoopbackHost, RequestGuards } from "./guards";
import { BodyError, readJsonBody } from "./request-body";
import { SessionTable } from "./sessions";

/** The path of the MCP endpoint. */
export const MCP_PATH = "/mcp";

/** A running HTTP server. */
export interface McpHttpServer {
  /** The endpoint's URL, e.g. http://127.0.0.1:8765/mcp (the real port when 0 was asked for). */
  readonly url: string;
  /** Ends every session and stops listening. */
  close(): Promise<void>;
}

/** Headers a browser client needs to read and send. */
const CORS_ALLOW_HEADERS = "Content-Type, Authorization, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";
const CORS_EXPOSE_HEADERS = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate";

/**
 * Serves MCP over streamable HTTP until {@link McpHttpServer.close}.
 *
 * @throws {Error} when the address cannot be bound (in use, not local, no permission), saying which flag to change.
 */
export async function serveMcpHttp(options: McpHttpServeOptions): Promise<McpHttpServer> {
  const { logger } = options;
  // An empty token would be no token at all (the guards skip the check), so it is treated as none everywhere.
  const token = options.token !== undefined && options.token !== "" ? options.token : undefined;
  const sessions = new SessionTable(() => createMolmoMcpServer(options), logger, options.sessionIdleMs, options.maxSessions);
  const server = createServer();
  // A client that opens connections and trickles its request must not hold them forever. Both limits are on
  // receiving the request only: response streams (SSE) stay open as long as the session needs them.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  await listen(server, options.port, options.hostname);
  const port = (server.address() as AddressInfo).port;
  const guards = new RequestGuards({
    boundHost: options.hostname,
    port,
    allowedOrigins: options.allowedOrigins ?? [],
    ...(token !== undefined ? { token } : {}),
  });
  // Attached right after listening, in the same turn of the event loop, so no request arrives before it.
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    route(request, response, guards, sessions).catch((error: unknown) => {
      logger.error(`An MCP HTTP request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!response.headersSent) {
        sendError(response, 500, -32603, "Internal error.");
      } else {
        response.end();
      }
    });
  });
  const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
  const url = `http://${host}:${port}${MCP_PATH}`;
  logger.info(`Molmo MCP server ${options.version} listening on ${url}${token !== undefined ? " (bearer token required)" : ""}.`);
  if (!isLoopbackHost(options.hostname) && token === undefined) {
    // Other machines can reach this server, and a client's roots decide which folders it may read images from:
    // without a token anyone on the network may look at this machine's images.
    logger.warn(`The MCP server listens on ${options.hostname}, beyond this machine, without a bearer token: anyone who can reach it may call the tools. Start it with --token (or MOLMO_MCP_TOKEN), or bind 127.0.0.1.`);
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= (async () => {
        await sessions.closeAll();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        logger.info("The MCP HTTP server stopped.");
      })();
      return closing;
    },
  };
}

async function route(request: IncomingMessage, response: ServerResponse, guards: RequestGuards, sessions: SessionTable): Promise<void> {
  const refusal = guards.check(request);
  if (refusal !== undefined) {
    sendError(response, refusal.status, -32000, refusal.message, refusal.headers);
    return;
  }
  setCorsHeaders(request, response, guards);
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (path !== MCP_PATH) {
    sendError(response, 404, -32000, `Not Found: the MCP endpoint is ${MCP_PATH}.`);
    return;
  }
  const sessionId = headerValue(request, "mcp-session-id");
  switch (request.method) {
    case "OPTIONS":
      response.writeHead(204, { "Access-Control-Allow-Methods": "GET, POST, DELETE", "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS }).end();
      return;
    case "POST": {
      let body: unknown;
      try {
        body = await readJsonBody(request);
      } catch (error) {
        if (error instanceof BodyError) {
          sendError(response, error.status, error.jsonRpcCode, error.message, { Connection: "close" });
          return;
        }
        throw error;
      }
      if (sessionId === undefined) {
        if (!isInitializeRequest(body)) {
          sendError(response, 400, -32000, "Bad Request: no Mcp-Session-Id header. Start a session with an initialize request first.");
          return;
        }
        if (!sessions.hasRoom()) {
          sendError(response, 503, -32000, "Service Unavailable: too many open MCP sessions; end one (DELETE) or retry later.", { "Retry-After": "10" });
          return;
        }
        await sessions.start(request, response, body);
        return;
      }
      if (!sessions.has(sessionId)) {
        sendUnknownSession(response, sessionId);
        return;
      }
      await sessions.handle(sessionId, request, response, body);
      return;
    }
    case "GET":
    case "DELETE":
      if (sessionId === undefined) {
        sendError(response, 400, -32000, `Bad Request: ${request.method} needs the Mcp-Session-Id header of a session.`);
        return;
      }
      if (!sessions.has(sessionId)) {
        sendUnknownSession(response, sessionId);
        return;
      }
      await sessions.handle(sessionId, request, response);
      return;
    default:
      sendError(response, 405, -32000, `Method Not Allowed: use POST, GET or DELETE on ${MCP_PATH}.`, { Allow: "GET, POST, DELETE" });
  }
}

function sendUnknownSession(response: ServerResponse, sessionId: string): void {
  // 404 tells the client to start a new session (the transport specification's rule).
  sendError(response, 404, -32001, `Session not found: ${sessionId.slice(0, 64)} has ended or never existed; send a new initialize request.`);
}

function setCorsHeaders(request: IncomingMessage, response: ServerResponse, guards: RequestGuards): void {
  const origin = request.headers.origin;
  if (origin !== undefined && guards.isAllowedOrigin(origin)) {
    response.setHeader("Access-Control-Allow-Origin", origin);
    response.setHeader("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    response.setHeader("Vary", "Origin");
  }
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendError(response: ServerResponse, status: number, code: number, message: string, headers: Readonly<Record<string, string>> = {}): void {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
  response.writeHead(status, { ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }).end(body);
}

function listen(server: Server, port: number, hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why =
        error.code === "EADDRINUSE"
          ? `port ${port} on ${hostname} is already in use; pick another with --port (0 picks a free one)`
          : error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND"
            ? `${hostname} is not an address of this machine; use --host 127.0.0.1`
            : error.code === "EACCES"
              ? `binding port ${port} needs privileges; use a port above 1023`
              : error.message;
      reject(new Error(`The MCP HTTP server cannot listen: ${why}.`, { cause: error }));
    };
    server.once("error", onError);
    server.listen(port, hostname, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
