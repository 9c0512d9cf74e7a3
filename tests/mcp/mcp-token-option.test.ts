/**
 * The bearer token of `molmo-server --mcp-http` as the command line reads it. An empty or blank token must be
 * refused, not accepted: the HTTP guards treat an empty token as "no token", so `--token ""` would otherwise
 * start a server that logs "bearer token required" while it lets every request through. A token with white
 * space around it could never match (the Authorization header is read trimmed) and would lock every client out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseServerCommandLine, type ServerOptions } from "../../server/cli/server-options";
import { CliUsageError } from "../../server/cli/usage";

function serve(argv: string[], env: NodeJS.ProcessEnv = {}): ServerOptions {
  const parsed = parseServerCommandLine(argv, env);
  assert.equal(parsed.kind, "serve");
  return parsed.options;
}

void describe("molmo-server --token", () => {
  void it("refuses an empty or blank --token instead of silently serving without one", () => {
    for (const token of ["", "   "]) {
      assert.throws(() => parseServerCommandLine(["--mcp-http", "--token", token]), (error: unknown) => error instanceof CliUsageError && /--token/.test(error.message));
    }
  });

  void it("refuses a token with white space around it, which no client could send", () => {
    assert.throws(() => parseServerCommandLine(["--mcp-http", "--token", " secret"]), CliUsageError);
    assert.throws(() => parseServerCommandLine(["--mcp-http"], { MOLMO_MCP_TOKEN: "secret\n" }), (error: unknown) => error instanceof CliUsageError && /MOLMO_MCP_TOKEN/.test(error.message));
  });

  void it("keeps a well-formed token from the flag or the environment", () => {
    assert.equal(serve(["--mcp-http", "--token", "s3cret"]).token, "s3cret");
    assert.equal(serve(["--mcp-http"], { MOLMO_MCP_TOKEN: "from-env" }).token, "from-env");
    assert.equal(serve(["--mcp-http"], { MOLMO_MCP_TOKEN: "" }).token, undefined);
  });
});
