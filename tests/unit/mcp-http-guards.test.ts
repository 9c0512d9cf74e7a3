/**
 * The HTTP front door of the MCP server without a server: which Host headers name it, the Origin and bearer
 * token checks, and the bounded JSON body reader.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { allowedHostHeaders, RequestGuards } from "../../mcp/http/guards";
import { BodyError, readJsonBody } from "../../mcp/http/request-body";

/** A request with `headers` and `body`, as much of IncomingMessage as the guards and the reader use. */
function fakeRequest(headers: Record<string, string>, body = ""): IncomingMessage {
  const stream = Readable.from(body === "" ? [] : [Buffer.from(body)]) as unknown as IncomingMessage;
  (stream as { headers: Record<string, string> }).headers = headers;
  return stream;
}

void describe("allowedHostHeaders", () => {
  void it("names a loopback server by its address and the loopback names, with the port", () => {
    assert.deepEqual([...allowedHostHeaders("127.0.0.1", 7345)].sort(), ["127.0.0.1:7345", "[::1]:7345", "localhost:7345"]);
    assert.ok(allowedHostHeaders("::1", 80).has("[::1]"), "the default port may be left out");
    assert.ok(allowedHostHeaders("::1", 80).has("localhost"));
  });

  void it("names a server bound to one non-loopback address by that address only", () => {
    assert.deepEqual([...allowedHostHeaders("192.168.1.20", 9000)], ["192.168.1.20:9000"]);
  });

  void it("names a wildcard-bound server by the loopback names and this machine's addresses", () => {
    const hosts = allowedHostHeaders("0.0.0.0", 9000);
    assert.ok(hosts.has("localhost:9000") && hosts.has("127.0.0.1:9000"));
    assert.ok(!hosts.has("evil.example:9000"));
  });
});

void describe("RequestGuards", () => {
  const guards = new RequestGuards({ boundHost: "127.0.0.1", port: 7345, allowedOrigins: ["http://localhost:5173/"], token: "tok" });
  const ok = { host: "127.0.0.1:7345", authorization: "Bearer tok" };

  void it("lets a request from a program (no Origin) with the token through", () => {
    assert.equal(guards.check(fakeRequest(ok)), undefined);
    assert.equal(guards.check(fakeRequest({ ...ok, host: "LOCALHOST:7345" })), undefined, "host names are case-insensitive");
  });

  void it("refuses a Host that is not the server, another port, or none, with 403", () => {
    for (const host of ["evil.example:7345", "127.0.0.1:7346", "127.0.0.1", ""]) {
      assert.equal(guards.check(fakeRequest({ ...ok, host }))?.status, 403, host);
    }
  });

  void it("allows only the configured origins (trailing slash and case aside)", () => {
    assert.equal(guards.check(fakeRequest({ ...ok, origin: "http://localhost:5173" })), undefined);
    assert.equal(guards.check(fakeRequest({ ...ok, origin: "HTTP://LOCALHOST:5173" })), undefined);
    assert.equal(guards.check(fakeRequest({ ...ok, origin: "http://localhost:5174" }))?.status, 403);
    assert.equal(guards.check(fakeRequest({ ...ok, origin: "null" }))?.status, 403, "an opaque origin (file://, sandboxed frame) is refused");
  });

  void it("refuses no token, another scheme, or a wrong token with 401 and a WWW-Authenticate challenge", () => {
    const none = guards.check(fakeRequest({ host: ok.host }));
    assert.equal(none?.status, 401);
    assert.equal(none?.headers?.["WWW-Authenticate"], 'Bearer realm="molmo-mcp"');
    assert.equal(guards.check(fakeRequest({ ...ok, authorization: "Basic dG9r" }))?.status, 401);
    const wrong = guards.check(fakeRequest({ ...ok, authorization: "Bearer tok2" }));
    assert.equal(wrong?.status, 401);
    assert.match(wrong?.headers?.["WWW-Authenticate"] ?? "", /error="invalid_token"/);
    assert.equal(guards.check(fakeRequest({ ...ok, authorization: "bearer   tok" })), undefined, "the scheme is case-insensitive");
  });

  void it("checks no token when none is configured", () => {
    const open = new RequestGuards({ boundHost: "127.0.0.1", port: 1, allowedOrigins: [] });
    assert.equal(open.check(fakeRequest({ host: "127.0.0.1:1" })), undefined);
  });
});

void describe("readJsonBody", () => {
  const json = { "content-type": "application/json; charset=utf-8" };

  void it("parses a JSON body", async () => {
    assert.deepEqual(await readJsonBody(fakeRequest(json, '{"a":[1,2]}')), { a: [1, 2] });
  });

  void it("refuses a body that is not declared as JSON with 415", async () => {
    await assert.rejects(readJsonBody(fakeRequest({ "content-type": "text/plain" }, "{}")), (error: unknown) => error instanceof BodyError && error.status === 415);
    await assert.rejects(readJsonBody(fakeRequest({}, "{}")), (error: unknown) => error instanceof BodyError && error.status === 415);
  });

  void it("refuses a body over the limit with 413, declared or streamed", async () => {
    await assert.rejects(readJsonBody(fakeRequest({ ...json, "content-length": "100" }, "{}"), 10), (error: unknown) => error instanceof BodyError && error.status === 413);
    await assert.rejects(readJsonBody(fakeRequest(json, JSON.stringify({ data: "x".repeat(100) })), 10), (error: unknown) => error instanceof BodyError && error.status === 413);
  });

  void it("refuses malformed JSON with 400 and the JSON-RPC parse error code", async () => {
    await assert.rejects(readJsonBody(fakeRequest(json, "{ nope")), (error: unknown) => error instanceof BodyError && error.status === 400 && error.jsonRpcCode === -32700);
  });
});
