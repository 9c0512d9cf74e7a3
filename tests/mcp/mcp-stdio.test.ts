/**
 * `molmo-server --mcp` as a separate process, driven by the SDK's Client over StdioClientTransport: the shared
 * scenarios (tests/mcp/scenarios.ts), plus what only stdio has: nothing but JSON-RPC on stdout, a malformed line
 * survived, and a clean exit when the client closes stdin.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { makeTinyBundle } from "../helpers/tiny-bundle";
import { fixtureImage, makeWorkspace } from "./mcp-fixtures";
import { describeMcpScenarios, makeClient, type Connection, type ServerConfig } from "./scenarios";
import { mcpStdioCommand } from "./stdio-server";

const bundle = makeTinyBundle();

function serverFlags(config: ServerConfig): string[] {
  return [
    "--model",
    bundle,
    "--log-level",
    "debug",
    ...(config.maxQueue !== undefined ? ["--max-queue", String(config.maxQueue)] : []),
    ...(config.allowDirs ?? []).flatMap((dir) => ["--allow-dir", dir]),
  ];
}

async function connectStdio(config: ServerConfig, roots: readonly string[] | undefined): Promise<Connection> {
  const { command, args } = mcpStdioCommand(serverFlags(config));
  const transport = new StdioClientTransport({ command, args, stderr: "pipe" });
  // The server's log is read (a full pipe would block it) and printed only when MOLMO_TEST_LOG is set.
  transport.stderr?.on("data", (chunk: Buffer) => {
    if (process.env.MOLMO_TEST_LOG !== undefined) {
      process.stderr.write(chunk);
    }
  });
  const { client, setRoots } = makeClient(roots);
  await client.connect(transport);
  return { client, setRoots, close: () => client.close() };
}

describeMcpScenarios({ name: "stdio" }, connectStdio);

/** A raw line-oriented connection to the server process (for what the SDK client would never send). */
function rawServer(flags: string[]) {
  const { command, args } = mcpStdioCommand(flags);
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    waiters.splice(0).forEach((wake) => wake());
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    send: (message: unknown) => child.stdin.write(`${typeof message === "string" ? message : JSON.stringify(message)}\n`),
    /** Waits for a line that parses to a response with `id`. */
    async response(id: number, timeoutMs = 15000): Promise<Record<string, unknown>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const line of lines) {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.id === id) {
            return parsed;
          }
        }
        const left = deadline - Date.now();
        assert.ok(left > 0, `no response ${id} within ${timeoutMs} ms; stdout: ${lines.join("\n")}\nstderr: ${stderr}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

void describe("MCP over stdio: the process", () => {
  const ws = makeWorkspace();
  after(() => ws.dispose());

  void it("writes only JSON-RPC to stdout, survives a malformed line, and exits 0 when the client closes stdin", async () => {
    const server = rawServer(["--model", bundle, "--allow-dir", ws.root, "--log-level", "debug"]);
    try {
      server.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
      const init = await server.response(1);
      assert.equal((init.result as { serverInfo: { name: string } }).serverInfo.name, "molmo");
      server.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      server.send("{ this is not json");
      server.send({ jsonrpc: "2.0", id: 2, method: "no/such/method" });
      const unknown = await server.response(2);
      assert.equal((unknown.error as { code: number }).code, -32601, "an unknown method is a JSON-RPC error");
      server.send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "ask_image", arguments: { image: fixtureImage(), question: "?", options: { maxNewTokens: 2 } } } });
      const outside = await server.response(3);
      assert.equal((outside.result as { isError: boolean }).isError, true, "the fixture lies outside the allowed folder");
      server.send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } } });
      const answered = await server.response(4);
      assert.equal((answered.result as { isError?: boolean }).isError, undefined, JSON.stringify(answered));
      for (const line of server.lines) {
        assert.equal((JSON.parse(line) as { jsonrpc: string }).jsonrpc, "2.0", `stdout carries JSON-RPC only: ${line}`);
      }
      server.child.stdin.end();
      const code = await Promise.race([server.exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 10000).unref())]);
      assert.equal(code, 0, `exit after stdin closed; stderr: ${server.stderr()}`);
    } finally {
      if (server.child.exitCode === null) {
        server.child.kill();
      }
    }
  });
});
