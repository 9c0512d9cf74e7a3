/**
 * Finds out once per process whether WebGPU works here, without risking the process.
 *
 * Opening a WebGPU session makes Dawn enumerate Vulkan (Linux), D3D12 (Windows) or Metal (macOS) adapters.
 * Measured with onnxruntime-node 1.30: on a Linux machine with only Mesa's software Vulkan drivers it
 * throws quickly and cleanly ("Failed to get a WebGPU adapter: No supported adapters", ~50 ms, ~350 ms
 * on a first try that loads the libraries); on an NVIDIA H200 through Vulkan the probe succeeds in ~310 ms.
 * But onnxruntime-node's native code can abort the whole process where no try/catch helps (it does so
 * for `getData()` on a GPU tensor, see backend.ts `readTensorData`), and a broken GPU driver can abort or
 * hang adapter creation the same way. So the first try happens in a throwaway child process with a time
 * limit; it costs one Node start plus onnxruntime's load (~0.15 s wall here, ~0.45 s on the H200 with
 * success) and keeps Dawn's and the Vulkan loader's stderr chatter out of the user's terminal. The answer
 * is kept for the rest of the process.
 */
import { spawn } from "node:child_process";
import { PROBE_RESULT_PREFIX, type WebGpuProbeResult } from "./backend";

export type { WebGpuProbeResult } from "./backend";

/** How the child is started; tests replace the script to simulate crashes and hangs. */
export interface WebGpuProbeOptions {
  /** Give up (and kill the child) after this long. Defaults to 30 s: a first Dawn start compiles shaders. */
  readonly timeoutMs?: number;
  /** JavaScript the child runs. Defaults to calling backend's `runWebGpuProbeAsChild`. */
  readonly script?: string;
}

/** Default limit for the probe child; generous because a cold GPU driver can take seconds to initialise. */
const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

let cachedProbe: Promise<WebGpuProbeResult> | undefined;

/** Whether WebGPU works in this process's environment; probed in a child process the first time only. */
export function probeWebGpu(): Promise<WebGpuProbeResult> {
  cachedProbe ??= probeWebGpuInChildProcess();
  return cachedProbe;
}

/**
 * Runs the WebGPU probe in a fresh child process and reads its answer. Never rejects: a crash, a hang or
 * a child that could not start is itself the answer "WebGPU is not usable here", with the reason.
 */
export function probeWebGpuInChildProcess(options: WebGpuProbeOptions = {}): Promise<WebGpuProbeResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  // The child loads this file's compiled sibling (backend.js), so it runs exactly the engine's code.
  const script = options.script ?? `require(${JSON.stringify(require.resolve("./backend"))}).runWebGpuProbeAsChild();`;
  const started = performance.now();
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let settled = false;
    const finish = (result: WebGpuProbeResult): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(result);
      }
    };
    const failed = (reason: string): void => finish({ ok: false, ms: performance.now() - started, reason });

    // ELECTRON_RUN_AS_NODE makes an Electron host (VS Code's extension host) behave as plain Node here.
    const child = spawn(process.execPath, ["-e", script], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      failed(`the WebGPU probe did not finish within ${timeoutMs / 1000} s (a hanging GPU driver?) and was stopped`);
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on("error", (error) => failed(`the WebGPU probe process could not start (${error.message})`));
    child.on("close", (code, signal) => {
      const answer = parseProbeAnswer(stdout);
      if (answer !== undefined) {
        finish(answer);
      } else if (signal !== null) {
        failed(`the WebGPU probe process was killed by ${signal} (the GPU driver crashed it)${stderrHint(stderr)}`);
      } else {
        failed(`the WebGPU probe process exited with code ${String(code)} without an answer${stderrHint(stderr)}`);
      }
    });
  });
}

/** Forgets the cached probe result (for tests, or after the user installs a driver in a long-lived server). */
export function forgetWebGpuProbe(): void {
  cachedProbe = undefined;
}

function parseProbeAnswer(stdout: string): WebGpuProbeResult | undefined {
  const line = stdout.split("\n").find((candidate) => candidate.startsWith(PROBE_RESULT_PREFIX));
  if (line === undefined) {
    return undefined;
  }
  try {
    const parsed = JSON.parse(line.slice(PROBE_RESULT_PREFIX.length)) as Partial<{ ok: boolean; ms: number; reason: string }>;
    if (parsed.ok === true && typeof parsed.ms === "number") {
      return { ok: true, ms: parsed.ms };
    }
    if (parsed.ok === false && typeof parsed.ms === "number" && typeof parsed.reason === "string") {
      return { ok: false, ms: parsed.ms, reason: parsed.reason };
    }
  } catch {
    // Falls through: a garbled line counts as no answer.
  }
  return undefined;
}

/** The last line the child wrote to stderr, which usually says what went wrong, in parentheses. */
function stderrHint(stderr: string): string {
  const last = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .pop();
  return last === undefined ? "" : ` (last message: ${last.slice(0, 300)})`;
}
