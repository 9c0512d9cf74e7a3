/**
 * MCP over streamable HTTP: serveMcpHttp in this process on an ephemeral port of 127.0.0.1, driven by the SDK's
 * Client over StreamableHTTPClientTransport (the shared scenarios of tests/mcp/scenarios.ts), and by raw HTTP
 * requests for what a well-behaved client never sends: a foreign Origin or Host, no or a wrong bearer token, no
 * or an unknown session, other methods and paths, bodies that are not JSON or too large; and session termination.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { serveMcpHttp, type McpHttpServer, type McpHttpServeOptions } from "../../mcp/index";
import { silentLogger } from "../../models/engine/logger";
import { EngineHost } from "../../server/host/engine-host";
import { makeTinyBundle } from "../helpers/tiny-bundle";
import { makeWorkspace, resultText } from "./mcp-fixtures";
import { describeMcpScenarios, makeClient, type Connection, type ServerConfig } from "./scenarios";

const bundle = makeTinyBundle();

/** Servers started by the tests, stopped at the end. */
const running: Array<{ server: McpHttpServer; host: EngineHost }> = [];

type HttpConfig = ServerConfig & Partial<Pick<McpHttpServeOptions, "token" | "allowedOrigins" | "sessionIdleMs" | "maxSessions" | "port">>;

async function startServer(config: HttpConfig = {}): Promise<McpHttpServer & { host: EngineHost }> {
  const host = new EngineHost({ modelPath: bundle, intraOpNumThreads: 1, ...(config.maxQueue !== undefined ? { maxQueue: config.maxQueue } : {}) });
  const server = await serveMcpHttp({
    host,
    logger: silentLogger,
    version: "0.0.0-test",
    allowedDirs: config.allowDirs ?? [],
    allowOutsideRoots: false,
    allowRemote: false,
    annotatedImages: true,
    hostname: "127.0.0.1",
    port: config.port ?? 0,
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(config.allowedOrigins !== undefined ? { allowedOrigins: config.allowedOrigins } : {}),
    ...(config.sessionIdleMs !== undefined ? { sessionIdleMs: config.sessionIdleMs } : {}),
    ...(config.maxSessions !== undefined ? { maxSessions: config.maxSessions } : {}),
  });
  running.push({ server, host });
  return { url: server.url, close: () => server.close(), host };
}

after(async () => {
  for (const { server, host } of running.splice(0)) {
    await server.close();
    await host.dispose();
  }
});

/** One server per configuration; each connection is a new session on it. */
const servers = new Map<string, Promise<McpHttpServer>>();

async function connectHttp(config: ServerConfig, roots: readonly string[] | undefined, headers: Record<string, string> = {}): Promise<Connection & { transport: StreamableHTTPClientTransport }> {
  const key = JSON.stringify(config);
  let server = servers.get(key);
  if (server === undefined) {
    server = startServer(config);
    servers.set(key, server);
  }
  const { url } = await server;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const { client, setRoots } = makeClient(roots);
  await client.connect(transport);
  return { client, setRoots, transport, close: () => client.close() };
}

describeMcpScenarios({ name: "streamable HTTP" }, (config, roots) => connectHttp(config, roots));

const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
const MCP_HEADERS = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };

/** A raw POST of `body` (an object is sent as JSON). */
function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { ...MCP_HEADERS, ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function jsonError(response: Response): Promise<{ code: number; message: string }> {
  const body = (await response.json()) as { error: { code: number; message: string } };
  return body.error;
}

void describe("MCP over streamable HTTP: the endpoint", () => {
  let url: string;
  before(async () => {
    url = (await startServer({ allowedOrigins: ["http://localhost:5173"] })).url;
  });

  void it("listens on 127.0.0.1 at /mcp, and says which flag to change when the port is taken", async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const port = Number(new URL(url).port);
    await assert.rejects(startServer({ port }), /port \d+ on 127\.0\.0\.1 is already in use; pick another with --port/);
  });

  void it("refuses a foreign Origin with 403 and lets an allowed one in with CORS headers", async () => {
    const evil = await post(url, INITIALIZE, { Origin: "http://evil.example" });
    assert.equal(evil.status, 403);
    assert.match((await jsonError(evil)).message, /origin 'http:\/\/evil\.example' are not allowed/);
    const evilGet = await fetch(url, { headers: { Origin: "http://localhost:8080", Accept: "text/event-stream" } });
    assert.equal(evilGet.status, 403, "another port of localhost is another origin");
    const preflight = await fetch(url, { method: "OPTIONS", headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "POST" } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://localhost:5173");
    const allowed = await post(url, INITIALIZE, { Origin: "http://localhost:5173" });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("access-control-allow-origin"), "http://localhost:5173");
    assert.match(allowed.headers.get("access-control-expose-headers") ?? "", /Mcp-Session-Id/);
    assert.ok(allowed.headers.get("mcp-session-id"));
    await allowed.body?.cancel();
  });

  void it("refuses a Host header that does not name the server with 403 (DNS rebinding)", async () => {
    const { port } = new URL(url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: Number(port), path: "/mcp", method: "POST", headers: { ...MCP_HEADERS, Host: `rebound.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(JSON.stringify(INITIALIZE));
    });
    assert.equal(status, 403);
    const viaLocalhost = await post(url.replace("127.0.0.1", "localhost"), INITIALIZE);
    assert.equal(viaLocalhost.status, 200, "localhost names a loopback server too");
    await viaLocalhost.body?.cancel();
  });

  void it("answers malformed requests with clear 4xx errors", async () => {
    const noSession = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" });
    assert.equal(noSession.status, 400);
    assert.match((await jsonError(noSession)).message, /Mcp-Session-Id/);
    const unknownSession = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "Mcp-Session-Id": "no-such-session" });
    assert.equal(unknownSession.status, 404);
    const getWithout = await fetch(url, { headers: { Accept: "text/event-stream" } });
    assert.equal(getWithout.status, 400);
    await getWithout.body?.cancel();
    const put = await fetch(url, { method: "PUT", headers: MCP_HEADERS, body: "{}" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST, DELETE");
    const elsewhere = await post(url.replace(/\/mcp$/, "/other"), INITIALIZE);
    assert.equal(elsewhere.status, 404);
    assert.match((await jsonError(elsewhere)).message, /\/mcp/);
    const text = await fetch(url, { method: "POST", headers: { "Content-Type": "text/plain", Accept: MCP_HEADERS.Accept }, body: "hello" });
    assert.equal(text.status, 415);
    const broken = await post(url, "{ not json");
    assert.equal(broken.status, 400);
    assert.equal((await jsonError(broken)).code, -32700);
  });

  void it("refuses a body over the limit with 413 before reading it", async () => {
    const { port } = new URL(url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: Number(port), path: "/mcp", method: "POST", headers: { ...MCP_HEADERS, "Content-Length": String(1024 * 1024 * 1024) } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on("error", () => undefined);
      req.write("{");
      setTimeout(() => reject(new Error("no answer to an oversized body")), 5000).unref();
    });
    assert.equal(status, 413);
  });

  void it("ends a session on DELETE; the session's id then gets 404", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(url));
    const { client } = makeClient(undefined);
    await client.connect(transport);
    const sessionId = transport.sessionId;
    assert.ok(sessionId !== undefined && sessionId.length >= 16, "the server assigned a session id");
    await client.listTools();
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
    const gone = await post(url, { jsonrpc: "2.0", id: 3, method: "tools/list" }, { "Mcp-Session-Id": sessionId, "Mcp-Protocol-Version": "2025-06-18" });
    assert.equal(gone.status, 404);
    assert.match((await jsonError(gone)).message, /initialize/);
    const deleteAgain = await fetch(url, { method: "DELETE", headers: { "Mcp-Session-Id": sessionId } });
    assert.equal(deleteAgain.status, 404);
    await deleteAgain.body?.cancel();
    await client.close();
  });
});

/** The session id an initialize POST got (its SSE answer is read to the end). */
async function initializeRaw(url: string): Promise<string> {
  const response = await post(url, INITIALIZE);
  assert.equal(response.status, 200);
  await response.text();
  const id = response.headers.get("mcp-session-id");
  assert.ok(id !== null);
  return id;
}

void describe("MCP over streamable HTTP: session lifecycle", () => {
  const ws = makeWorkspace();
  after(() => ws.dispose());

  void it("closes a session left idle, bounds the number of sessions, and cancels a session's calls when it ends", async () => {
    const idle = await startServer({ sessionIdleMs: 200, maxSessions: 1 });
    const first = await initializeRaw(idle.url);
    const refused = await post(idle.url, INITIALIZE);
    assert.equal(refused.status, 503, "past the bound of sessions");
    assert.equal(refused.headers.get("retry-after"), "10");
    await refused.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const expired = await post(idle.url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "Mcp-Session-Id": first });
    assert.equal(expired.status, 404, "the idle session was closed");
    await expired.body?.cancel();
    await initializeRaw(idle.url);

    const server = await startServer({ allowDirs: [ws.root] });
    const transport = new StreamableHTTPClientTransport(new URL(server.url));
    const { client } = makeClient(undefined);
    await client.connect(transport);
    let generating!: () => void;
    const started = new Promise<void>((resolve) => (generating = resolve));
    const long = client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "Everything?", options: { maxNewTokens: 2048 } } }, undefined, {
      onprogress: (progress) => {
        if (progress.message !== undefined && !/^(Molmo is|Loading|Waiting)/.test(progress.message)) {
          generating();
        }
      },
    });
    long.catch(() => undefined);
    await started;
    assert.equal(server.host.status().queue.running, 1);
    await transport.terminateSession();
    const deadline = Date.now() + 2000;
    while (server.host.status().queue.running !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(server.host.status().queue.running, 0, "ending the session cancelled its generation");
    await client.close();
  });
});

/** Reads the SSE `data:` messages of a response body, in order. */
class EventReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";
  private readonly pending: Record<string, unknown>[] = [];

  constructor(response: Response) {
    assert.ok(response.body !== null);
    this.reader = response.body.getReader();
  }

  /** The next message `accept` takes (messages before it are skipped). */
  async next(accept: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const message = this.pending.shift();
      if (message !== undefined) {
        if (accept(message)) {
          return message;
        }
        continue;
      }
      const { value, done } = await this.reader.read();
      assert.ok(!done, "the stream ended before the expected message");
      this.buffer += this.decoder.decode(value, { stream: true });
      let end: number;
      while ((end = this.buffer.indexOf("\n\n")) >= 0) {
        const event = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const data = event.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\n");
        if (data !== "") {
          this.pending.push(JSON.parse(data) as Record<string, unknown>);
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel();
  }
}

void describe("MCP over streamable HTTP: a client without a GET stream", () => {
  const ws = makeWorkspace();
  after(() => ws.dispose());

  void it("gets the roots/list request on the tool call's own response stream", { timeout: 20_000 }, async () => {
    const { url } = await startServer();
    const init = await post(url, { ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { roots: {} } } });
    await init.text();
    const session = { "Mcp-Session-Id": init.headers.get("mcp-session-id")!, "Mcp-Protocol-Version": "2025-06-18" };
    const initialized = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, session);
    assert.equal(initialized.status, 202);
    const call = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } } }, session);
    assert.equal(call.status, 200);
    const events = new EventReader(call);
    const rootsRequest = await events.next((message) => message.method === "roots/list");
    const answer = await post(url, { jsonrpc: "2.0", id: rootsRequest.id, result: { roots: [{ uri: `file://${ws.root}` }] } }, session);
    assert.equal(answer.status, 202);
    const result = (await events.next((message) => message.id === 2)).result as { isError?: boolean; structuredContent?: { image: { path: string } } };
    await events.close();
    assert.notEqual(result.isError, true, JSON.stringify(result));
    assert.equal(result.structuredContent?.image.path, ws.image, "the image inside the client's root was read");
  });
});

void describe("MCP over streamable HTTP: bearer token", () => {
  const ws = makeWorkspace();
  let url: string;
  before(async () => {
    url = (await startServer({ token: "s3cret-token", allowDirs: [ws.root] })).url;
  });
  after(() => ws.dispose());

  void it("refuses a request without the token or with a wrong one (401, WWW-Authenticate) and serves one with it", async () => {
    const missing = await post(url, INITIALIZE);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer /);
    assert.match((await jsonError(missing)).message, /Authorization: Bearer/);
    const wrong = await post(url, INITIALIZE, { Authorization: "Bearer s3cret-tokeN" });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get("www-authenticate") ?? "", /invalid_token/);
    await wrong.body?.cancel();
    const basic = await post(url, INITIALIZE, { Authorization: "Basic czNjcmV0LXRva2Vu" });
    assert.equal(basic.status, 401);
    await basic.body?.cancel();

    const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: "Bearer s3cret-token" } } });
    const { client } = makeClient(undefined);
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(result.isError, true, resultText(result));
      const sessionId = transport.sessionId!;
      const hijack = await post(url, { jsonrpc: "2.0", id: 9, method: "tools/list" }, { "Mcp-Session-Id": sessionId });
      assert.equal(hijack.status, 401, "a session id alone is not a credential");
      await hijack.body?.cancel();
    } finally {
      await client.close();
    }
  });
});
