/**
 * molmo-server --stdio as a process: initialize without loading the model, shutdown/exit with the exit codes
 * the LSP spec asks for, a closed stdin, malformed messages that must not take it down, and stdout carrying
 * nothing but JSON-RPC.
 */
import assert from "node:assert/strict";
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import {
  IPCMessageReader,
  IPCMessageWriter,
  InitializeRequest,
  createClientPipeTransport,
  createClientSocketTransport,
  createProtocolConnection,
  generateRandomPipeName,
  type MessageReader,
  type MessageWriter,
  type ProtocolConnection,
} from "vscode-languageserver-protocol/node";
import type { MolmoStatus } from "../../server/protocol/molmo-protocol";
import { assertNoInternalErrors, frame, serverScript, startSession } from "./lsp-harness";

/** Initializes, asks molmo/status, shuts down and exits over an already open channel; returns the exit code. */
async function roundTrip(child: ChildProcess, reader: MessageReader, writer: MessageWriter): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const connection: ProtocolConnection = createProtocolConnection(reader, writer);
  connection.onError(() => undefined);
  connection.listen();
  try {
    const result = await connection.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {} });
    assert.equal(result.serverInfo?.name, "molmo-server");
    assert.equal((await connection.sendRequest<MolmoStatus>("molmo/status")).state, "unloaded");
    await connection.sendRequest("shutdown");
    await connection.sendNotification("exit");
    return await exited;
  } finally {
    connection.dispose();
    child.kill("SIGKILL");
  }
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === "object");
  return address.port;
}

void describe("molmo-server --stdio lifecycle", { timeout: 60_000 }, () => {
  void it("answers initialize with its capabilities and server info, without loading the model", async () => {
    const session = startSession();
    try {
      const result = await session.initialize();
      assert.equal(result.serverInfo?.name, "molmo-server");
      assert.match(result.serverInfo?.version ?? "", /^\d+\.\d+\.\d+/);
      assert.equal(result.capabilities.hoverProvider, true);
      assert.deepEqual(result.capabilities.codeActionProvider, { codeActionKinds: ["quickfix"], resolveProvider: true });
      assert.deepEqual(result.capabilities.workspace?.workspaceFolders, { supported: true, changeNotifications: true });
      const status = await session.connection.sendRequest<MolmoStatus>("molmo/status");
      assert.equal(status.state, "unloaded", "initialize must not load the model");
      assert.equal(status.model?.variant, "unknown");
      assert.equal(await session.stop(), 0, "exit after shutdown exits with 0");
      assert.match(session.stderr(), /molmo-server \S+ \(LSP over stdio\)/);
      assert.match(session.stderr(), /Exit after shutdown/);
      assertNoInternalErrors(session);
    } finally {
      session.kill();
    }
  });

  void it("exits with 1 on exit without shutdown, and when stdin closes without shutdown", async () => {
    const first = startSession();
    try {
      await first.initialize();
      await first.connection.sendNotification("exit");
      assert.equal(await first.exited, 1);
    } finally {
      first.kill();
    }
    const second = startSession();
    try {
      await second.initialize();
      second.child.stdin.end();
      assert.equal(await second.exited, 1);
      assert.match(second.stderr(), /closed the connection without shutdown/);
    } finally {
      second.kill();
    }
  });

  void it("exits with 0 when stdin closes after shutdown", async () => {
    const session = startSession();
    try {
      await session.initialize();
      await session.connection.sendRequest("shutdown");
      session.child.stdin.end();
      assert.equal(await session.exited, 0);
    } finally {
      session.kill();
    }
  });

  void it("survives malformed messages (bad JSON, a missing Content-Length, a non-message) and keeps answering", async () => {
    const session = startSession();
    try {
      await session.initialize();
      // Raw bytes on stdin, bypassing the client library: each is logged and skipped.
      session.child.stdin.write(frame('{"jsonrpc": "2.0", "id": 99, "method": "molmo/status", '));
      session.child.stdin.write("X-Nonsense: 1\r\n\r\n");
      session.child.stdin.write(frame('{"hello": "world"}'));
      session.child.stdin.write(frame('{"jsonrpc":"2.0","id":100,"method":"no/such/method"}'));
      const status = await session.connection.sendRequest<MolmoStatus>("molmo/status");
      assert.equal(status.state, "unloaded");
      assert.match(session.stderr(), /Ignored a malformed message from the client: Header must provide a Content-Length/);
      assert.match(session.stderr(), /Ignored a malformed message from the client: Expected double-quoted property name|Ignored a malformed message from the client: .*JSON/);
      assert.match(session.stderr(), /neither a request, a notification nor a response: \{"hello":"world"\}/);
      assert.equal(session.child.exitCode, null, "still running");
      assert.equal(await session.stop(), 0);
    } finally {
      session.kill();
    }
  });

  void it("speaks LSP over a socket, a pipe and the Node IPC channel too", async () => {
    const port = await freePort();
    const socket = await createClientSocketTransport(port);
    const overSocket = spawn(process.execPath, [serverScript(), `--socket=${port}`], { stdio: ["ignore", "ignore", "pipe"] });
    const [socketReader, socketWriter] = await socket.onConnected();
    assert.equal(await roundTrip(overSocket, socketReader, socketWriter), 0);

    const pipeName = generateRandomPipeName();
    const pipe = await createClientPipeTransport(pipeName);
    const overPipe = spawn(process.execPath, [serverScript(), `--pipe=${pipeName}`], { stdio: ["ignore", "ignore", "pipe"] });
    const [pipeReader, pipeWriter] = await pipe.onConnected();
    assert.equal(await roundTrip(overPipe, pipeReader, pipeWriter), 0);

    const overIpc = fork(serverScript(), ["--node-ipc"], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
    assert.equal(await roundTrip(overIpc, new IPCMessageReader(overIpc), new IPCMessageWriter(overIpc)), 0);
  });

  void it("stops cleanly with exit code 0 on SIGTERM and SIGINT", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const session = startSession();
      try {
        await session.initialize();
        session.child.kill(signal);
        assert.equal(await session.exited, 0, signal);
        assert.match(session.stderr(), new RegExp(`Stopping \\(${signal}\\)`));
      } finally {
        session.kill();
      }
    }
  });

  void it("prints help and version on stdout, and refuses a bad command line with code 2", () => {
    const help = spawnSync(process.execPath, [serverScript(), "--help"], { encoding: "utf8" });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--stdio/);
    assert.match(help.stdout, /Exit codes:/);
    const version = spawnSync(process.execPath, [serverScript(), "--version"], { encoding: "utf8" });
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    for (const args of [[], ["--stdio", "--mcp"], ["--stdio", "--bogus"], ["--socket=notaport"], ["--stdio", "--log-level", "loud"]]) {
      const run = spawnSync(process.execPath, [serverScript(), ...args], { encoding: "utf8", input: "" });
      assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.equal(run.stdout, "", "usage errors go to stderr");
      assert.match(run.stderr, /molmo-server: /);
    }
  });
});
