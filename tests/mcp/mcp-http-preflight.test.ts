/**
 * A browser client from an allowed origin on a server that needs a bearer token. Browsers send a CORS preflight
 * (OPTIONS) before a POST with an Authorization header, and a preflight never carries that header (the Fetch
 * standard leaves credentials out of it): refusing it with 401 would lock every browser client out for good.
 * The preflight only asks for permission; the POST that follows is still checked for the token.
 */
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { after, before, describe, it } from "node:test";
import { serveMcpHttp, type McpHttpServer } from "../../mcp/index";
import { silentLogger } from "../../models/engine/logger";
import { EngineHost } from "../../server/host/engine-host";

const ORIGIN = "http://localhost:5173";

function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers }, (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

void describe("MCP over streamable HTTP: CORS preflight with a bearer token", () => {
  const host = new EngineHost({});
  let server: McpHttpServer;
  before(async () => {
    server = await serveMcpHttp({
      host,
      logger: silentLogger,
      version: "0.0.0-test",
      allowedDirs: [],
      allowOutsideRoots: false,
      allowRemote: false,
      annotatedImages: false,
      hostname: "127.0.0.1",
      port: 0,
      token: "s3cret",
      allowedOrigins: [ORIGIN],
    });
  });
  after(async () => {
    await server.close();
    await host.dispose();
  });

  void it("answers an allowed origin's preflight without the token, with the CORS headers", async () => {
    const answer = await send(server.url, "OPTIONS", { Origin: ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" });
    assert.equal(answer.status, 204);
    assert.equal(answer.headers["access-control-allow-origin"], ORIGIN);
    assert.match(String(answer.headers["access-control-allow-headers"]), /Authorization/);
  });

  void it("still refuses a foreign origin's preflight, and a POST without the token", async () => {
    assert.equal((await send(server.url, "OPTIONS", { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" })).status, 403);
    const post = await send(server.url, "POST", { Origin: ORIGIN, "Content-Type": "application/json", Accept: "application/json, text/event-stream" }, "{}");
    assert.equal(post.status, 401);
  });
});
