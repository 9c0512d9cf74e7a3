/**
 * What the LSP channel's reader writes to the log. A malformed message is the client's mistake and is logged
 * as such; a failed connection (the client's socket or pipe refused or reset) is not a message at all, and a
 * user reading "Ignored a malformed message from the client: connect ECONNREFUSED" would look in the wrong place.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { StreamMessageReader } from "vscode-languageserver/node";
import { loggingReader } from "../../server/lsp/transport";
import { recordingLogger } from "../helpers/recording-logger";

function readerOver(stream: PassThrough) {
  const logger = recordingLogger();
  const reader = loggingReader(new StreamMessageReader(stream), logger);
  reader.listen(() => undefined);
  return { logger, reader };
}

void describe("LSP channel log", () => {
  void it("logs a failed connection as a connection failure, not as a malformed message", async () => {
    const stream = new PassThrough();
    const { logger, reader } = readerOver(stream);
    stream.emit("error", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }));
    await new Promise((resolve) => setImmediate(resolve));
    reader.dispose();
    const warnings = logger.at("warn").concat(logger.at("error"));
    assert.ok(warnings.some((message) => /connection to the client failed.*ECONNREFUSED/.test(message)), warnings.join(" | "));
    assert.ok(!warnings.some((message) => /malformed/.test(message)), warnings.join(" | "));
  });

  void it("still logs a bad header as a malformed message", async () => {
    const stream = new PassThrough();
    const { logger, reader } = readerOver(stream);
    stream.write("Content-Type: x\r\n\r\n{}");
    await new Promise((resolve) => setImmediate(resolve));
    reader.dispose();
    assert.ok(logger.at("warn").some((message) => /Ignored a malformed message from the client: Header must provide a Content-Length/.test(message)), logger.at("warn").join(" | "));
  });
});
