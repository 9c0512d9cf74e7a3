/**
 * `npm run bench:mcp` — what an MCP tool call adds to answering the same question in process (issue 4's
 * benchmark, MCP half).
 *
 * The same question about the tiny model's fixture image (greedy, `--max-new-tokens` tokens, image features
 * cached after the warm-up) is answered, round robin in one run:
 *   - in process: `EngineHost.ask` (the baseline);
 *   - MCP in memory: the SDK Client and the molmo McpServer linked in process (the SDK's own cost: JSON-RPC,
 *     zod validation of arguments and results, our result building), same host;
 *   - MCP streamable HTTP: serveMcpHttp on 127.0.0.1 in this process, same host;
 *   - MCP stdio: `molmo-server --mcp` as a child process (its own host on the same bundle).
 * For each MCP path the overhead of a call is its round trip minus the host's own `timings.totalMs` for that
 * call (reported in the result), so engine noise cancels out call by call; the medians of the round trips
 * against the in-process baseline are printed too. `ping` round trips show the bare protocol latency of each transport.
 * It is a benchmark, not a test: it asserts nothing about time. Target: under 5 ms added per call.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpus, loadavg } from "node:os";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { createMolmoMcpServer, serveMcpHttp, type McpServeOptions } from "../../mcp/index";
import { silentLogger } from "../../models/engine/logger";
import { EngineHost } from "../../server/host/engine-host";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";
import { mcpStdioCommand } from "../mcp/stdio-server";

interface Sample {
  /** Client-side round trip, ms. */
  readonly roundTrip: number;
  /** The host's own time for the call (timings.totalMs), ms; 0 for list_models. */
  readonly hostTotal: number;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

function fmt(value: number): string {
  return value.toFixed(2).padStart(8);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "30" },
      "max-new-tokens": { type: "string", default: "8" },
    },
  });
  const runs = Number(values.runs);
  const maxNewTokens = Number(values["max-new-tokens"]);
  const bundle = makeTinyBundle();
  const imageDir = tinyMolmoDir();
  const image = join(imageDir, "image.png");
  const question = "What is in the image?";
  const options = { maxNewTokens };

  const host = new EngineHost({ modelPath: bundle, intraOpNumThreads: 1 });
  const serveOptions: McpServeOptions = {
    host,
    logger: silentLogger,
    version: "bench",
    allowedDirs: [imageDir],
    allowOutsideRoots: false,
    allowRemote: false,
    annotatedImages: true,
  };

  // MCP in memory.
  const memoryServer = createMolmoMcpServer(serveOptions);
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await memoryServer.connect(serverSide);
  const memoryClient = new Client({ name: "bench", version: "1" });
  await memoryClient.connect(clientSide);

  // MCP over HTTP, same host.
  const http = await serveMcpHttp({ ...serveOptions, hostname: "127.0.0.1", port: 0 });
  const httpClient = new Client({ name: "bench", version: "1" });
  await httpClient.connect(new StreamableHTTPClientTransport(new URL(http.url)));

  // MCP over stdio, a child process on the same bundle (one onnxruntime thread, like the in-process host).
  const { command, args } = mcpStdioCommand(["--model", bundle, "--allow-dir", imageDir, "--log-level", "error"]);
  const stdioClient = new Client({ name: "bench", version: "1" });
  const stdioTransport = new StdioClientTransport({ command, args, stderr: "ignore", env: { ...process.env, OMP_NUM_THREADS: "1" } });
  await stdioClient.connect(stdioTransport);

  const call = { name: "ask_image", arguments: { image, question, options } };
  const viaMcp = async (client: Client): Promise<Sample> => {
    const started = performance.now();
    const result = await client.callTool(call);
    const roundTrip = performance.now() - started;
    if (result.isError === true) {
      throw new Error(`ask_image failed: ${JSON.stringify(result.content)}`);
    }
    return { roundTrip, hostTotal: (result.structuredContent as { timings: { totalMs: number } }).timings.totalMs };
  };
  const inProcess = async (): Promise<Sample> => {
    const started = performance.now();
    const answer = await host.ask({ image: { kind: "file", path: image }, question, options });
    return { roundTrip: performance.now() - started, hostTotal: answer.timings.totalMs };
  };
  const ping = async (client: Client): Promise<Sample> => {
    const started = performance.now();
    await client.ping();
    return { roundTrip: performance.now() - started, hostTotal: 0 };
  };

  const paths: Array<[string, () => Promise<Sample>]> = [
    ["in process: EngineHost.ask", inProcess],
    ["MCP in memory: ask_image", () => viaMcp(memoryClient)],
    ["MCP streamable HTTP: ask_image", () => viaMcp(httpClient)],
    ["MCP stdio (child process): ask_image", () => viaMcp(stdioClient)],
    ["MCP in memory: ping", () => ping(memoryClient)],
    ["MCP streamable HTTP: ping", () => ping(httpClient)],
    ["MCP stdio: ping", () => ping(stdioClient)],
  ];
  // Warm-up: loads both engines, fills the feature caches, compiles the hot paths.
  for (let i = 0; i < 3; i++) {
    for (const [, run] of paths) {
      await run();
    }
  }
  const samples = new Map<string, Sample[]>(paths.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of paths) {
      samples.get(name)!.push(await run());
    }
  }

  const load = loadavg()[0].toFixed(2);
  const baseline = quantile(samples.get(paths[0][0])!.map((s) => s.roundTrip), 0.5);
  process.stdout.write(
    `MCP round-trip overhead — tiny model, ${maxNewTokens} new tokens, ${runs} runs each (round robin), ${cpus().length} CPUs (load average ${load}), Node ${process.version}\n` +
      `image ${image} (500x300), question ${JSON.stringify(question)}\n\n` +
      `${"path".padEnd(40)} ${"median".padStart(8)} ${"p90".padStart(8)} ${"vs base".padStart(8)} ${"added".padStart(8)} ${"added90".padStart(8)}   (ms; added = round trip - host totalMs, per call)\n`,
  );
  for (const [name] of paths) {
    const list = samples.get(name)!;
    const trips = list.map((s) => s.roundTrip);
    const added = list.map((s) => s.roundTrip - s.hostTotal);
    const median = quantile(trips, 0.5);
    const isAsk = name.includes("ask") || name.startsWith("in process");
    process.stdout.write(
      `${name.padEnd(40)} ${fmt(median)} ${fmt(quantile(trips, 0.9))} ${isAsk ? fmt(median - baseline) : "       -"} ${fmt(quantile(added, 0.5))} ${fmt(quantile(added, 0.9))}\n`,
    );
  }
  process.stdout.write("\n'vs base' compares medians with the in-process baseline (the stdio server runs its own engine in another process, so engine noise enters it);\n'added' is exact per call: what the MCP path costs beyond the host's own time. Target: added < 5 ms.\n");

  await stdioClient.close();
  await httpClient.close();
  await http.close();
  await memoryClient.close();
  await host.dispose();
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:mcp failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
