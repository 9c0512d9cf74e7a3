/**
 * Small pieces of the client: molmo-server's stderr lines to log levels (extension/client/server-log.ts) and
 * which server module the extension runs (extension/client/server-module.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { ServerLogReader } from "../../extension/client/server-log";
import { BUNDLED_SERVER, COMPILED_SERVER, ServerModuleError, findServerModule } from "../../extension/client/server-module";

void test("server log lines keep their level; continuation lines the previous one", () => {
  const reader = new ServerLogReader();
  assert.deepEqual(reader.read("Error: boom"), { level: "error", message: "Error: boom" }, "unprefixed output first: an error");
  assert.deepEqual(reader.read("2026-11-26T08:16:53.442Z info  molmo-server 0.1.0 (LSP over stdio)"), { level: "info", message: "molmo-server 0.1.0 (LSP over stdio)" });
  assert.deepEqual(reader.read("2026-11-26T08:16:53.442Z warn  slow start"), { level: "warn", message: "slow start" });
  assert.deepEqual(reader.read("    at load (engine.js:1:2)"), { level: "warn", message: "    at load (engine.js:1:2)" });
  assert.deepEqual(reader.read("2026-11-26T08:16:53Z DEBUG detail"), { level: "debug", message: "detail" });
});

void test("the bundled server in production, tsc's output first in development", () => {
  const all = (): boolean => true;
  assert.equal(findServerModule("/ext", false, all), join("/ext", BUNDLED_SERVER));
  assert.equal(findServerModule("/ext", true, all), join("/ext", COMPILED_SERVER));
  assert.equal(findServerModule("/ext", true, (path) => path.endsWith("server.js") && !path.includes("cli")), join("/ext", BUNDLED_SERVER));
  assert.throws(() => findServerModule("/ext", false, () => false), (error: unknown) => {
    assert.ok(error instanceof ServerModuleError);
    assert.equal(error.code, "server_missing");
    assert.match(error.message, /npm run build:extension/);
    return true;
  });
});
