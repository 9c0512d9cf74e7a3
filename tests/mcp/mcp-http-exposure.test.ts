/**
 * serveMcpHttp bound beyond loopback without a bearer token: anyone on the network can then call the tools and,
 * with roots of their own choosing, read images from this machine. The server still starts (the user asked for
 * the address), but it must say so in the log; on loopback, or with a token, it must not cry wolf.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { serveMcpHttp, type McpHttpServer } from "../../mcp/index";
import { EngineHost } from "../../server/host/engine-host";
import { recordingLogger, type RecordingLogger } from "../helpers/recording-logger";

const started: McpHttpServer[] = [];
const host = new EngineHost({});

after(async () => {
  for (const server of started.splice(0)) {
    await server.close();
  }
  await host.dispose();
});

async function start(hostname: string, token?: string): Promise<RecordingLogger> {
  const logger = recordingLogger();
  const server = await serveMcpHttp({
    host,
    logger,
    version: "0.0.0-test",
    allowedDirs: [],
    allowOutsideRoots: false,
    allowRemote: false,
    annotatedImages: false,
    hostname,
    port: 0,
    ...(token !== undefined ? { token } : {}),
  });
  started.push(server);
  return logger;
}

function exposureWarnings(logger: RecordingLogger): string[] {
  return logger.at("warn").filter((message) => /without a bearer token/.test(message));
}

void describe("MCP over streamable HTTP: exposure beyond loopback", () => {
  void it("warns when bound to a non-loopback address without a token", async () => {
    const warnings = exposureWarnings(await start("0.0.0.0"));
    assert.equal(warnings.length, 1, "one warning about the open, unauthenticated server");
    assert.match(warnings[0], /--token/);
  });

  void it("does not warn on loopback, nor with a token", async () => {
    assert.deepEqual(exposureWarnings(await start("127.0.0.1")), []);
    assert.deepEqual(exposureWarnings(await start("0.0.0.0", "s3cret")), []);
  });

  void it("treats an empty token as none: it warns, and does not claim a token is required", async () => {
    const logger = await start("0.0.0.0", "");
    assert.equal(exposureWarnings(logger).length, 1);
    assert.ok(!logger.at("info").some((message) => /bearer token required/.test(message)), logger.at("info").join(" | "));
  });
});
