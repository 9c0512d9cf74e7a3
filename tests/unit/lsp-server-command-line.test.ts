/**
 * molmo-server's command line: modes, the common flags, defaults, and usage errors; and its stderr logger.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MCP_HTTP_HOST, DEFAULT_MCP_HTTP_PORT, EXIT_CODES, SERVER_USAGE, parseServerCommandLine, type ServerOptions } from "../../server/cli/server-options";
import { createStderrLogger } from "../../server/cli/stderr-logger";
import { CliUsageError } from "../../server/cli/usage";

function serve(argv: string[], env: NodeJS.ProcessEnv = {}): ServerOptions {
  const parsed = parseServerCommandLine(argv, env);
  assert.equal(parsed.kind, "serve");
  return parsed.options;
}

function usageError(argv: string[], message: RegExp): void {
  assert.throws(() => parseServerCommandLine(argv), (error: unknown) => error instanceof CliUsageError && message.test(error.message));
}

void describe("parseServerCommandLine", () => {
  void it("reads each mode, with the names vscode-languageclient passes", () => {
    assert.deepEqual(serve(["--stdio"]).mode, { kind: "lsp", transport: { kind: "stdio" } });
    assert.deepEqual(serve(["--node-ipc"]).mode, { kind: "lsp", transport: { kind: "node-ipc" } });
    assert.deepEqual(serve(["--socket=5007"]).mode, { kind: "lsp", transport: { kind: "socket", port: 5007 } });
    assert.deepEqual(serve(["--socket", "5007"]).mode, { kind: "lsp", transport: { kind: "socket", port: 5007 } });
    assert.deepEqual(serve(["--pipe=/tmp/x.sock"]).mode, { kind: "lsp", transport: { kind: "pipe", name: "/tmp/x.sock" } });
    assert.deepEqual(serve(["--mcp"]).mode, { kind: "mcp-stdio" });
    assert.deepEqual(serve(["--mcp-http"]).mode, { kind: "mcp-http", hostname: DEFAULT_MCP_HTTP_HOST, port: DEFAULT_MCP_HTTP_PORT });
    assert.deepEqual(serve(["--mcp-http", "--host", "0.0.0.0", "--port", "0"]).mode, { kind: "mcp-http", hostname: "0.0.0.0", port: 0 });
    assert.equal(DEFAULT_MCP_HTTP_HOST, "127.0.0.1");
    assert.deepEqual(serve(["--stdio", "--clientProcessId=1234"]).mode.kind, "lsp");
  });

  void it("reads the common flags, repeatable ones included, with documented defaults", () => {
    const defaults = serve(["--stdio"]);
    assert.deepEqual(defaults, {
      mode: { kind: "lsp", transport: { kind: "stdio" } },
      modelFolders: [],
      logLevel: "info",
      eager: false,
      allowOutsideRoots: false,
      allowRemoteImages: false,
      allowedDirs: [],
      allowedOrigins: [],
      annotatedImages: true,
    });
    const full = serve([
      "--mcp",
      "--model", "/m/bundle",
      "--ep", "cpu",
      "--tokenizer", "/m/tokenizer.json",
      "--models-dir", "/a",
      "--models-dir", "/b",
      "--log-level", "debug",
      "--max-queue", "4",
      "--max-crops", "6",
      "--timeout-ms", "60000",
      "--eager",
      "--allow-outside-roots",
      "--allow-remote-images",
      "--allow-dir", "/x",
      "--allow-dir", "/y",
      "--token", "secret",
      "--no-annotated-images",
    ]);
    assert.deepEqual(full, {
      mode: { kind: "mcp-stdio" },
      modelPath: "/m/bundle",
      ep: "cpu",
      tokenizerPath: "/m/tokenizer.json",
      modelFolders: ["/a", "/b"],
      logLevel: "debug",
      maxQueue: 4,
      maxCrops: 6,
      timeoutMs: 60000,
      eager: true,
      allowOutsideRoots: true,
      allowRemoteImages: true,
      allowedDirs: ["/x", "/y"],
      token: "secret",
      allowedOrigins: [],
      annotatedImages: false,
    });
  });

  void it("takes allowed browser origins for HTTP, refusing anything but scheme://host[:port]", () => {
    const options = serve(["--mcp-http", "--allowed-origin", "http://localhost:5173", "--allowed-origin", "https://app.example.com/"]);
    assert.deepEqual(options.allowedOrigins, ["http://localhost:5173", "https://app.example.com"]);
    usageError(["--mcp-http", "--allowed-origin", "localhost:5173"], /--allowed-origin expects/);
    usageError(["--mcp-http", "--allowed-origin", "http://localhost:5173/path"], /just scheme:\/\/host\[:port\]/);
    usageError(["--mcp-http", "--allowed-origin", "file:///tmp"], /just scheme/);
  });

  void it("takes the HTTP token from MOLMO_MCP_TOKEN unless --token is given", () => {
    assert.equal(serve(["--mcp-http"], { MOLMO_MCP_TOKEN: "from-env" }).token, "from-env");
    assert.equal(serve(["--mcp-http", "--token", "flag"], { MOLMO_MCP_TOKEN: "from-env" }).token, "flag");
    assert.equal(serve(["--mcp-http"], { MOLMO_MCP_TOKEN: "" }).token, undefined);
  });

  void it("answers help and version before anything else", () => {
    assert.deepEqual(parseServerCommandLine(["--help"]), { kind: "help" });
    assert.deepEqual(parseServerCommandLine(["-h", "--stdio"]), { kind: "help" });
    assert.deepEqual(parseServerCommandLine(["-v"]), { kind: "version" });
    for (const flag of ["--stdio", "--node-ipc", "--socket=PORT", "--mcp-http", "--model", "--ep", "--log-level", "--max-queue", "--max-crops", "--timeout-ms", "--eager", "--allow-outside-roots", "--allow-remote-images", "--allow-dir", "--token", "--allowed-origin", "--no-annotated-images", "--version"]) {
      assert.ok(SERVER_USAGE.includes(flag), `--help documents ${flag}`);
    }
    assert.deepEqual(EXIT_CODES, { ok: 0, failure: 1, usage: 2 });
  });

  void it("refuses missing, double and unknown modes, bad numbers and stray flags, naming them", () => {
    usageError([], /choose a mode/);
    usageError(["--stdio", "--mcp"], /only one mode/);
    usageError(["--stdio", "--frobnicate"], /frobnicate/);
    usageError(["--socket=0"], /--socket expects a whole number from 1 to 65535/);
    usageError(["--mcp-http", "--port", "70000"], /--port/);
    usageError(["--stdio", "--max-queue", "-1"], /--max-queue/);
    usageError(["--stdio", "--timeout-ms", "soon"], /--timeout-ms/);
    usageError(["--stdio", "--log-level", "loud"], /--log-level expects one of error, warn, info, debug/);
    usageError(["--stdio", "--port", "80"], /--host and --port go with --mcp-http/);
    usageError(["--stdio", "--model", " "], /--model needs a value/);
    usageError(["--stdio", "positional"], /positional/);
  });
});

void describe("createStderrLogger", () => {
  void it("writes one line per message at the level and above, with details as JSON", () => {
    const lines: string[] = [];
    const logger = createStderrLogger("info", { write: (text: string) => lines.push(text) });
    logger.debug("hidden");
    logger.info("shown", { ms: 3 });
    logger.warn("careful");
    logger.error("broken");
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^\d{4}-\d\d-\d\dT\S+Z info {2}shown \{"ms":3\}\n$/);
    assert.match(lines[1], / warn {2}careful\n$/);
    assert.match(lines[2], / error broken\n$/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const quiet = createStderrLogger("error", { write: (text: string) => lines.push(text) });
    quiet.warn("dropped");
    quiet.error("cycle", cyclic);
    assert.match(lines.at(-1) ?? "", /cycle \(details not serialisable\)/);
  });
});
