/**
 * The command line of `molmo-server`: which protocol to speak over which channel, and how the shared engine
 * host runs. Parsing is pure (argv and environment in, options out) so it is tested without starting anything.
 */
import { parseArgs } from "node:util";
import { CliUsageError } from "./usage";

/** How the server talks to its client. */
export type ServerMode =
  | { readonly kind: "lsp"; readonly transport: LspTransport }
  | { readonly kind: "mcp-stdio" }
  | { readonly kind: "mcp-http"; readonly hostname: string; readonly port: number };

/** The channel of an LSP connection (the names vscode-languageclient passes). */
export type LspTransport =
  | { readonly kind: "stdio" }
  | { readonly kind: "node-ipc" }
  | { readonly kind: "socket"; readonly port: number }
  | { readonly kind: "pipe"; readonly name: string };

export type LogLevel = "error" | "warn" | "info" | "debug";

/** Everything the command line decides. */
export interface ServerOptions {
  readonly mode: ServerMode;
  readonly modelPath?: string;
  readonly ep?: string;
  readonly tokenizerPath?: string;
  readonly modelFolders: readonly string[];
  readonly logLevel: LogLevel;
  readonly maxQueue?: number;
  /** Crop limit of requests that set none (LSP clients' molmo.maxCrops and MCP calls' options.maxCrops win). */
  readonly maxCrops?: number;
  readonly timeoutMs?: number;
  /** Load the model at start instead of on the first request. */
  readonly eager: boolean;
  readonly allowOutsideRoots: boolean;
  readonly allowRemoteImages: boolean;
  /** MCP: folders images may come from besides (or without) the client's roots. */
  readonly allowedDirs: readonly string[];
  /** MCP over HTTP: the bearer token clients must send (`--token` or MOLMO_MCP_TOKEN). */
  readonly token?: string;
  /** MCP over HTTP: browser origins allowed to call (`--allowed-origin`, repeatable); none by default. */
  readonly allowedOrigins: readonly string[];
  /** MCP: send the annotated image with each result. */
  readonly annotatedImages: boolean;
}

/** What a command line asks for: run a server, or print help or the version. */
export type ParsedCommandLine = { readonly kind: "serve"; readonly options: ServerOptions } | { readonly kind: "help" } | { readonly kind: "version" };

/** Exit codes, as `--help` documents them. */
export const EXIT_CODES = {
  /** A clean stop: LSP `shutdown` then `exit`, a signal, or the input closed after `shutdown`. */
  ok: 0,
  /** A failure: LSP `exit` or a closed input without `shutdown` first, or a failed start. */
  failure: 1,
  /** The command line is wrong. */
  usage: 2,
} as const;

export const DEFAULT_MCP_HTTP_HOST = "127.0.0.1";
export const DEFAULT_MCP_HTTP_PORT = 7345;
const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

export const SERVER_USAGE = `Usage: molmo-server <mode> [options]

Serves the Molmo vision-language model to editors (LSP) and agents (MCP). Logs go to stderr.

Modes (one):
  --stdio                 LSP over stdin/stdout
  --node-ipc              LSP over the Node IPC channel (a client that forked this process)
  --socket=PORT           LSP over a TCP connection to the client's port on 127.0.0.1
  --pipe=NAME             LSP over a named pipe / Unix socket the client listens on
  --mcp                   MCP over stdin/stdout
  --mcp-http              MCP over streamable HTTP [--host ${DEFAULT_MCP_HTTP_HOST}] [--port ${DEFAULT_MCP_HTTP_PORT}]

Engine:
  --model <bundle>        the exported model bundle (LSP clients may set molmo.model.path instead)
  --ep <name>             execution provider: auto (default), cpu, webgpu, cuda, dml, coreml
  --tokenizer <path>      a tokenizer.json for bundles exported without one
  --models-dir <dir>      a folder of bundles offered by molmo/models and list_models (repeatable)
  --max-queue N           requests that may wait behind the running one (default 16)
  --max-crops N           high-resolution crops per image, 1-64, when a request sets none (default: the bundle's)
  --timeout-ms N          time limit of a request, queue time included (default 300000)
  --eager                 load the model at start instead of on the first request

Images:
  --allow-outside-roots   read images outside the workspace folders / MCP roots
  --allow-remote-images   fetch http(s) images
  --allow-dir <dir>       MCP: a folder images may come from (repeatable)

MCP:
  --token <t>             HTTP: require "Authorization: Bearer <t>" (or set MOLMO_MCP_TOKEN)
  --allowed-origin <o>    HTTP: a browser Origin allowed to call, e.g. http://localhost:5173 (repeatable;
                          by default requests that carry an Origin header are refused)
  --no-annotated-images   do not return the annotated image with tool results

Other:
  --log-level <level>     error, warn, info (default) or debug
  --clientProcessId=PID   LSP: exit when that process is gone (vscode-languageclient passes it)
  -h, --help              show this help
  -v, --version           print the version

Exit codes:
  0  a clean stop: LSP shutdown then exit, SIGINT/SIGTERM, or the input closed after shutdown
  1  LSP exit (or the input closed) without shutdown first, or the server could not start
  2  a wrong command line
`;

/**
 * Parses `molmo-server`'s arguments.
 *
 * @throws {CliUsageError} for unknown options, a missing or repeated mode, or a malformed number.
 */
export function parseServerCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        stdio: { type: "boolean" },
        "node-ipc": { type: "boolean" },
        socket: { type: "string" },
        pipe: { type: "string" },
        mcp: { type: "boolean" },
        "mcp-http": { type: "boolean" },
        host: { type: "string" },
        port: { type: "string" },
        model: { type: "string" },
        ep: { type: "string" },
        tokenizer: { type: "string" },
        "models-dir": { type: "string", multiple: true },
        "log-level": { type: "string" },
        "max-queue": { type: "string" },
        "max-crops": { type: "string" },
        "timeout-ms": { type: "string" },
        eager: { type: "boolean" },
        "allow-outside-roots": { type: "boolean" },
        "allow-remote-images": { type: "boolean" },
        "allow-dir": { type: "string", multiple: true },
        token: { type: "string" },
        "allowed-origin": { type: "string", multiple: true },
        "no-annotated-images": { type: "boolean" },
        clientProcessId: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (error) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values;
  if (values.help === true) {
    return { kind: "help" };
  }
  if (values.version === true) {
    return { kind: "version" };
  }
  const mode = parseMode(values);
  if (mode.kind !== "mcp-http" && (values.host !== undefined || values.port !== undefined)) {
    throw new CliUsageError("--host and --port go with --mcp-http");
  }
  if (values.clientProcessId !== undefined) {
    parseInteger(values.clientProcessId, "--clientProcessId", 1, Number.MAX_SAFE_INTEGER);
  }
  const logLevel = values["log-level"] ?? "info";
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new CliUsageError(`--log-level expects one of ${LOG_LEVELS.join(", ")}, got '${logLevel}'`);
  }
  const token = values.token !== undefined ? parseToken(values.token, "--token") : env.MOLMO_MCP_TOKEN !== undefined && env.MOLMO_MCP_TOKEN !== "" ? parseToken(env.MOLMO_MCP_TOKEN, "MOLMO_MCP_TOKEN") : undefined;
  return {
    kind: "serve",
    options: {
      mode,
      ...(values.model !== undefined ? { modelPath: nonEmptyOption(values.model, "--model") } : {}),
      ...(values.ep !== undefined ? { ep: nonEmptyOption(values.ep, "--ep") } : {}),
      ...(values.tokenizer !== undefined ? { tokenizerPath: nonEmptyOption(values.tokenizer, "--tokenizer") } : {}),
      modelFolders: values["models-dir"] ?? [],
      logLevel: logLevel as LogLevel,
      ...(values["max-queue"] !== undefined ? { maxQueue: parseInteger(values["max-queue"], "--max-queue", 0, 10_000) } : {}),
      ...(values["max-crops"] !== undefined ? { maxCrops: parseInteger(values["max-crops"], "--max-crops", 1, 64) } : {}),
      ...(values["timeout-ms"] !== undefined ? { timeoutMs: parseInteger(values["timeout-ms"], "--timeout-ms", 1, 60 * 60 * 1000) } : {}),
      eager: values.eager === true,
      allowOutsideRoots: values["allow-outside-roots"] === true,
      allowRemoteImages: values["allow-remote-images"] === true,
      allowedDirs: values["allow-dir"] ?? [],
      ...(token !== undefined ? { token } : {}),
      allowedOrigins: (values["allowed-origin"] ?? []).map(parseOrigin),
      annotatedImages: values["no-annotated-images"] !== true,
    },
  };
}

function parseMode(values: { stdio?: boolean; "node-ipc"?: boolean; socket?: string; pipe?: string; mcp?: boolean; "mcp-http"?: boolean; host?: string; port?: string }): ServerMode {
  const modes: ServerMode[] = [];
  if (values.stdio === true) {
    modes.push({ kind: "lsp", transport: { kind: "stdio" } });
  }
  if (values["node-ipc"] === true) {
    modes.push({ kind: "lsp", transport: { kind: "node-ipc" } });
  }
  if (values.socket !== undefined) {
    modes.push({ kind: "lsp", transport: { kind: "socket", port: parseInteger(values.socket, "--socket", 1, 65535) } });
  }
  if (values.pipe !== undefined) {
    modes.push({ kind: "lsp", transport: { kind: "pipe", name: nonEmptyOption(values.pipe, "--pipe") } });
  }
  if (values.mcp === true) {
    modes.push({ kind: "mcp-stdio" });
  }
  if (values["mcp-http"] === true) {
    modes.push({
      kind: "mcp-http",
      hostname: values.host !== undefined ? nonEmptyOption(values.host, "--host") : DEFAULT_MCP_HTTP_HOST,
      port: values.port !== undefined ? parseInteger(values.port, "--port", 0, 65535) : DEFAULT_MCP_HTTP_PORT,
    });
  }
  if (modes.length !== 1) {
    throw new CliUsageError(
      modes.length === 0
        ? "choose a mode: --stdio, --node-ipc, --socket=PORT or --pipe=NAME (LSP), --mcp or --mcp-http (MCP)"
        : "choose only one mode of --stdio, --node-ipc, --socket, --pipe, --mcp, --mcp-http",
    );
  }
  return modes[0];
}

function parseInteger(value: string, option: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new CliUsageError(`${option} expects a whole number from ${min} to ${max}, got '${value}'`);
  }
  return Number(value);
}

function nonEmptyOption(value: string, option: string): string {
  if (value.trim() === "") {
    throw new CliUsageError(`${option} needs a value`);
  }
  return value;
}

/**
 * A bearer token as given. An empty one is refused because the HTTP guards would read it as "no token" and
 * serve everyone; one with white space around it is refused because the trimmed Authorization header could
 * never match it.
 */
function parseToken(value: string, source: string): string {
  if (value.trim() === "") {
    throw new CliUsageError(`${source} needs a non-empty token (leave it out to serve without one)`);
  }
  if (value !== value.trim()) {
    throw new CliUsageError(`${source} has white space at its start or end, which a client's Authorization header cannot carry; remove it`);
  }
  return value;
}

/** An Origin as browsers send it: scheme://host[:port], nothing after. */
function parseOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliUsageError(`--allowed-origin expects an origin such as http://localhost:5173, got '${value}'`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== value.replace(/\/+$/, "")) {
    throw new CliUsageError(`--allowed-origin expects just scheme://host[:port] (http or https), got '${value}'`);
  }
  return url.origin;
}
