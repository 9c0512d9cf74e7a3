/**
 * `npm run bench:server` — what molmo-server's LSP layer costs (issue 4's benchmarks), on the tiny model:
 *
 * 1. Start-up: from spawning `node dist/server/cli/molmo-server.js --stdio --model <bundle>` to the answer
 *    of `initialize` (the model is not loaded: the bench checks that molmo/status then says `unloaded`).
 *    Median, min and max of `--spawns` fresh processes, one at a time.
 * 2. Round trip: the same question about the same image, answered by `molmo/ask` over LSP (stdio, a real
 *    JSON-RPC client) and by `EngineHost.ask` in this process, both warmed up (model loaded, image features
 *    cached), their calls alternating so both meet the same machine conditions. The LSP side runs once
 *    plainly and once with the answer streamed as partial results (one `$/progress` per token).
 *
 *    Two figures per LSP variant: the difference of the medians (LSP minus in-process), and the LSP layer's
 *    own cost per call — the client's round trip minus the time the server's engine host spent on that same
 *    call (`timings.totalMs` of the answer). The first compares two processes whose onnxruntime thread pools
 *    compete for the same cores, so on a small or shared machine it swings by tens of milliseconds either
 *    way from run to run; the second measures exactly what the protocol adds (JSON-RPC framing and parsing,
 *    the pipe, parameter checks, resolving the image path) and is the figure held against the target of
 *    under 5 ms. Also reported: the round trip of `molmo/status`, the transport's floor.
 *
 * A benchmark, not a test: it prints figures and one JSON line, and asserts nothing about time.
 *
 *   npm run bench:server -- [--spawns 7] [--runs 30] [--new-tokens 8]
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { InitializeRequest, InitializedNotification, ProgressType, StreamMessageReader, StreamMessageWriter, createProtocolConnection, type ProtocolConnection } from "vscode-languageserver-protocol/node";
import { EngineHost } from "../../server/host/engine-host";
import type { MolmoAskPartialResult, MolmoAskResult, MolmoStatus } from "../../server/protocol/molmo-protocol";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

interface Server {
  readonly child: ChildProcessWithoutNullStreams;
  readonly connection: ProtocolConnection;
}

function startServer(bundle: string): Server {
  const child = spawn(process.execPath, [join(repoRoot(), "dist", "server", "cli", "molmo-server.js"), "--stdio", "--model", bundle, "--log-level", "warn"], { stdio: ["pipe", "pipe", "pipe"] });
  child.stderr.resume();
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.onError(() => undefined);
  connection.listen();
  return { child, connection };
}

async function initialize(server: Server, workspace: string): Promise<void> {
  await server.connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathToFileURL(workspace).href,
    workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: "fixtures" }],
    capabilities: {},
  });
  await server.connection.sendNotification(InitializedNotification.type, {});
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()));
  try {
    await server.connection.sendRequest("shutdown");
    await server.connection.sendNotification("exit");
  } catch {
    server.child.kill("SIGKILL");
  }
  await exited;
  server.connection.dispose();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function round(value: number, digits = 2): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

async function measureStartup(bundle: string, spawns: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < spawns; i++) {
    const started = performance.now();
    const server = startServer(bundle);
    await initialize(server, tinyMolmoDir());
    times.push(performance.now() - started);
    const status = await server.connection.sendRequest<MolmoStatus>("molmo/status");
    if (status.state !== "unloaded") {
      throw new Error(`The server loaded the model during start-up (state ${status.state}).`);
    }
    await stopServer(server);
  }
  return times;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { spawns: { type: "string", default: "7" }, runs: { type: "string", default: "30" }, "new-tokens": { type: "string", default: "8" } },
  });
  const spawns = Number(values.spawns);
  const runs = Number(values.runs);
  const newTokens = Number(values["new-tokens"]);
  const bundle = makeTinyBundle();
  const image = join(tinyMolmoDir(), "image.png");
  const question = "What is in this picture?";
  process.stdout.write(`molmo-server overhead bench: Node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((value) => value.toFixed(2)).join(" ")}\n`);
  process.stdout.write(`tiny Molmo bundle, ${image} (500x300), ${newTokens} new tokens, ${runs} runs per side, ${spawns} spawns\n\n`);

  const startup = await measureStartup(bundle, spawns);
  process.stdout.write(`start-up to initialize answered (model not loaded): median ${round(median(startup), 1)} ms, min ${round(Math.min(...startup), 1)}, max ${round(Math.max(...startup), 1)}\n`);

  const server = startServer(bundle);
  const host = new EngineHost({ modelPath: bundle });
  try {
    await initialize(server, tinyMolmoDir());
    const params = { image, question, options: { maxNewTokens: newTokens } };
    const viaLsp = () => server.connection.sendRequest<MolmoAskResult>("molmo/ask", params);
    let partials = 0;
    let streamId = 0;
    const viaLspStreamed = () => {
      const token = `bench-${streamId++}`;
      const subscription = server.connection.onProgress(new ProgressType<MolmoAskPartialResult>(), token, () => void partials++);
      return server.connection.sendRequest<MolmoAskResult>("molmo/ask", { ...params, partialResultToken: token }).finally(() => subscription.dispose());
    };
    const inProcess = () => host.ask({ image: { kind: "file", path: image }, question, options: { maxNewTokens: newTokens } });
    // Warm-up: load both models and cache the image's features on both sides.
    for (let i = 0; i < 3; i++) {
      await viaLsp();
      await inProcess();
    }
    const samples = { lsp: [] as number[], lspStreamed: [] as number[], inProcess: [] as number[], status: [] as number[], lspLayer: [] as number[], lspLayerStreamed: [] as number[] };
    let lspText = "";
    let hostText = "";
    for (let i = 0; i < runs; i++) {
      let started = performance.now();
      const answer = await viaLsp();
      samples.lsp.push(performance.now() - started);
      samples.lspLayer.push(performance.now() - started - answer.timings.totalMs);
      lspText = answer.text;
      await pause();
      started = performance.now();
      hostText = (await inProcess()).text;
      samples.inProcess.push(performance.now() - started);
      await pause();
      started = performance.now();
      const streamed = await viaLspStreamed();
      samples.lspStreamed.push(performance.now() - started);
      samples.lspLayerStreamed.push(performance.now() - started - streamed.timings.totalMs);
      await pause();
      started = performance.now();
      await server.connection.sendRequest<MolmoStatus>("molmo/status");
      samples.status.push(performance.now() - started);
    }
    if (lspText !== hostText) {
      throw new Error(`The two sides answered differently: ${JSON.stringify(lspText)} vs ${JSON.stringify(hostText)}`);
    }
    const result = {
      startupMs: { median: round(median(startup), 1), min: round(Math.min(...startup), 1), max: round(Math.max(...startup), 1), spawns },
      askMs: {
        inProcess: round(median(samples.inProcess)),
        lsp: round(median(samples.lsp)),
        lspStreamed: round(median(samples.lspStreamed)),
        differenceOfMedians: round(median(samples.lsp) - median(samples.inProcess)),
        differenceOfMediansStreamed: round(median(samples.lspStreamed) - median(samples.inProcess)),
        lspLayerPerCall: round(median(samples.lspLayer)),
        lspLayerPerCallStreamed: round(median(samples.lspLayerStreamed)),
        // The best call: a busy machine only ever slows a call down, so this is the layer's cost undisturbed.
        lspLayerBest: round(Math.min(...samples.lspLayer)),
        lspLayerBestStreamed: round(Math.min(...samples.lspLayerStreamed)),
        partialResultsPerCall: round(partials / runs, 1),
      },
      statusRoundTripMs: round(median(samples.status)),
      loadAverage: loadavg().map((value) => round(value)),
      newTokens,
      runs,
    };
    const a = result.askMs;
    process.stdout.write(`molmo/ask in-process (EngineHost.ask): median ${a.inProcess} ms\n`);
    process.stdout.write(`molmo/ask over LSP stdio:               median ${a.lsp} ms (difference of medians ${a.differenceOfMedians} ms); LSP layer ${a.lspLayerPerCall} ms per call (best ${a.lspLayerBest})\n`);
    process.stdout.write(`  streamed (${a.partialResultsPerCall} partial results):      median ${a.lspStreamed} ms (difference of medians ${a.differenceOfMediansStreamed} ms); LSP layer ${a.lspLayerPerCallStreamed} ms per call (best ${a.lspLayerBestStreamed})\n`);
    process.stdout.write(`molmo/status round trip:                median ${result.statusRoundTripMs} ms\n`);
    process.stdout.write(`target: LSP layer under 5 ms per call; load average at the end ${loadavg().map((value) => value.toFixed(2)).join(" ")}\n\n${JSON.stringify(result)}\n`);
  } finally {
    await stopServer(server);
    await host.dispose();
  }
}

/** A short gap between calls, so one side's idle onnxruntime threads do not spin into the other side's time. */
function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
