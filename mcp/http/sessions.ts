/**
 * The MCP sessions of the HTTP server. Each session is one client connection: its own McpServer (with that
 * client's roots) and streamable-HTTP transport, keyed by the `Mcp-Session-Id` the transport assigns at
 * `initialize`. A session ends when the client sends DELETE, when the server closes, or after it has been idle
 * (no request, no open stream) for a while ({@link SESSION_IDLE_MS} by default): a client that crashed never
 * says goodbye, and the number of sessions is bounded ({@link MAX_SESSIONS} by default).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Logger } from "../../models/engine/logger";

/** A session unused this long is closed (by default). */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** Most sessions open at once (by default); `initialize` past it is refused with 503 until one ends. */
export const MAX_SESSIONS = 64;

interface Session {
  readonly server: McpServer;
  readonly transport: StreamableHTTPServerTransport;
  /** HTTP requests of this session being answered (an open SSE stream counts until it closes). */
  open: number;
  lastUsed: number;
}

/** The open sessions of one HTTP server. */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  /** Sessions whose `initialize` is being answered (not yet in the table), counted against the bound. */
  private starting = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly createServer: () => McpServer,
    private readonly logger: Logger,
    private readonly idleMs = SESSION_IDLE_MS,
    private readonly maxSessions = MAX_SESSIONS,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(10, Math.min(60_000, idleMs / 2)));
    this.sweeper.unref();
  }

  /** How many sessions are open. */
  get size(): number {
    return this.sessions.size;
  }

  /** Whether a new session may start. */
  hasRoom(): boolean {
    return this.sessions.size + this.starting < this.maxSessions;
  }

  /** Whether `id` names an open session. */
  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /** Starts a session with its `initialize` request (the parsed body). */
  async start(request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    const server = this.createServer();
    let id: string | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        id = sessionId;
        this.sessions.set(sessionId, { server, transport, open: 0, lastUsed: Date.now() });
        this.logger.info(`MCP session ${sessionId} started (${this.sessions.size} open).`);
      },
      onsessionclosed: (sessionId) => {
        this.logger.info(`MCP session ${sessionId} ended by the client.`);
      },
    });
    transport.onclose = () => {
      if (id !== undefined && this.sessions.delete(id)) {
        this.logger.debug(`MCP session ${id} closed (${this.sessions.size} open).`);
      }
    };
    this.starting += 1;
    try {
      await server.connect(transport);
      await transport.handleRequest(request, response, body);
    } finally {
      this.starting -= 1;
      if (id === undefined) {
        // The initialize request was refused (malformed) or failed: nothing to keep.
        await server.close();
      }
    }
  }

  /** Hands a request to its session's transport. */
  async handle(id: string, request: IncomingMessage, response: ServerResponse, body?: unknown): Promise<void> {
    const session = this.sessions.get(id);
    if (session === undefined) {
      throw new Error(`No MCP session ${id}.`);
    }
    session.open += 1;
    session.lastUsed = Date.now();
    response.once("close", () => {
      session.open -= 1;
      session.lastUsed = Date.now();
    });
    await session.transport.handleRequest(request, response, body);
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map((session) => session.server.close()));
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      if (session.open === 0 && now - session.lastUsed > this.idleMs) {
        this.logger.info(`MCP session ${id} closed after ${Math.round(this.idleMs / 1000)} s without use.`);
        this.sessions.delete(id);
        session.server.close().catch((error: unknown) => this.logger.warn(`Closing MCP session ${id} failed: ${String(error)}`));
      }
    }
  }
}
