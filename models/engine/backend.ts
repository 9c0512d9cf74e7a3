/**
 * The one module that imports onnxruntime-node. Everything else in the repository reaches onnxruntime
 * through the functions and types exported here, so that a change of runtime version, binding or
 * execution-provider spelling touches a single file.
 *
 * Concurrency policy for `run`: onnxruntime-node 1.30 executes `InferenceSession.run` synchronously on the
 * JavaScript thread (its binding calls the native run inside a `setImmediate`), so two runs never overlap
 * and an AbortSignal cannot interrupt a run that has started. {@link EngineSession} (session.ts) still
 * queues the runs of each session one after another, so that `dispose` waits for the run in flight and the
 * order of runs stays the order of calls should a later binding run them on a worker thread.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { EngineError } from "./errors";
import type { ConcreteEp } from "./execution-provider";

/** A tensor as onnxruntime-node takes and returns it. */
export type OrtTensor = ort.Tensor;
/** The element type names of onnxruntime tensors ("float32", "float16", "int64", ...). */
export type OrtTensorType = ort.Tensor.Type;
/** Name, element type and shape of one model input or output. */
export type OrtValueMetadata = ort.InferenceSession.ValueMetadata;
/** An open onnxruntime session. */
export type OrtSession = ort.InferenceSession;
/** Where a tensor's data lives: "cpu", or a device location such as "gpu-buffer" (WebGPU). */
export type OrtDataLocation = ort.Tensor.DataLocation;
/** The typed array of a tensor's data. */
export type OrtTensorData = ort.Tensor.DataType;

/** The onnxruntime-node version in use, e.g. "1.30.0". */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

/** An execution provider this onnxruntime-node build knows, and whether its library ships in the npm package. */
export interface RuntimeProvider {
  readonly name: string;
  readonly bundled: boolean;
}

/** The execution providers compiled into this build of onnxruntime-node, as the binding reports them. */
export function listRuntimeProviders(): readonly RuntimeProvider[] {
  return ort.listSupportedBackends().map(({ name, bundled }) => ({ name, bundled }));
}

/** The folder holding onnxruntime-node's native libraries for this platform (provider libraries go there too). */
export function nativeLibraryDir(): string {
  return join(dirname(require.resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);
}

/** Whether every one of `fileNames` exists in {@link nativeLibraryDir}. */
export function nativeLibrariesPresent(fileNames: readonly string[]): boolean {
  const dir = nativeLibraryDir();
  return fileNames.every((name) => existsSync(join(dir, name)));
}

/** Severity of onnxruntime's own log output: 0 verbose … 3 error, 4 fatal. */
export type OrtLogSeverity = 0 | 1 | 2 | 3 | 4;

/** How to open one session on one execution provider. */
export interface OpenOrtSessionOptions {
  readonly ep: ConcreteEp;
  /**
   * Outputs to leave in device memory ("gpu-buffer") instead of copying them to the host after each run,
   * when `keepOnDevice` is true (providers where `keepsOutputsOnDevice` in execution-provider.ts holds).
   * Otherwise they are named with the location "cpu", the default, which still makes onnxruntime check
   * that they are outputs of the model: a wrong name fails on every provider alike.
   */
  readonly deviceOutputs?: readonly string[];
  readonly keepOnDevice?: boolean;
  /**
   * onnxruntime's own logging (to stderr). Defaults to 4 (fatal only): every failure reaches the caller as an
   * exception that the session layer logs through the injected logger, so onnxruntime's copies are noise.
   */
  readonly logSeverityLevel?: OrtLogSeverity;
  readonly intraOpNumThreads?: number;
  readonly graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
}

/** The provider entry onnxruntime-node expects for each of the engine's execution providers. */
const ORT_PROVIDER_CONFIG: Readonly<Record<ConcreteEp, ort.InferenceSession.ExecutionProviderConfig>> = {
  cpu: "cpu",
  webgpu: { name: "webgpu" },
  cuda: { name: "cuda", deviceId: 0 },
  dml: { name: "dml", deviceId: 0 },
  coreml: { name: "coreml" },
};

/**
 * Opens an onnxruntime session on exactly one execution provider (onnxruntime places the nodes that provider
 * cannot run on the CPU by itself). Throws onnxruntime's own error; session.ts turns it into an EngineError.
 */
export async function openOrtSession(modelPath: string | Uint8Array, options: OpenOrtSessionOptions): Promise<OrtSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [ORT_PROVIDER_CONFIG[options.ep]],
    logSeverityLevel: options.logSeverityLevel ?? 4,
    ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    ...(options.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: options.graphOptimizationLevel } : {}),
  };
  if (options.deviceOutputs !== undefined && options.deviceOutputs.length > 0) {
    const location: OrtDataLocation = options.keepOnDevice === true ? "gpu-buffer" : "cpu";
    sessionOptions.preferredOutputLocation = Object.fromEntries(options.deviceOutputs.map((name) => [name, location]));
  }
  return typeof modelPath === "string"
    ? ort.InferenceSession.create(modelPath, sessionOptions)
    : ort.InferenceSession.create(modelPath, sessionOptions);
}

/** A tensor over host data. `data` is used as is, not copied. */
export function createTensor(type: OrtTensorType, data: OrtTensorData, dims: readonly number[]): OrtTensor {
  return new ort.Tensor(type, data, dims);
}

/** Whether `value` is an onnxruntime tensor (host or device). */
export function isOrtTensor(value: unknown): value is OrtTensor {
  return value instanceof ort.Tensor;
}

/**
 * A host tensor's data.
 *
 * Device tensors ("gpu-buffer") cannot be read back: onnxruntime-node 1.30 implements their `download` as a
 * native `throw "not implemented"` that aborts the whole process (seen on an H200: SIGABRT, "terminate
 * called after throwing an instance of 'char const*'"). So only outputs that stay on the device and are fed
 * to the next run (the KV cache) may be kept there; everything the host reads must be a host output.
 *
 * @throws {EngineError} `invalid_input` for a device tensor, instead of letting `getData()` abort.
 */
export function readTensorData(tensor: OrtTensor): OrtTensorData {
  if (tensor.location !== "cpu" && tensor.location !== "cpu-pinned") {
    throw new EngineError(
      "invalid_input",
      `A ${tensor.type} [${tensor.dims.join(", ")}] tensor in ${tensor.location} memory cannot be read on the host: onnxruntime-node ` +
        `${ORT_VERSION} cannot copy device tensors back (it would abort the process). Keep host-read outputs out of deviceOutputs.`,
    );
  }
  return tensor.data;
}

/** Frees a tensor's device memory; host tensors are left to the garbage collector. */
export function releaseTensor(tensor: OrtTensor): void {
  if (tensor.location !== "cpu" && tensor.location !== "none") {
    tensor.dispose();
  }
}

/** What trying WebGPU on this machine gave. */
export type WebGpuProbeResult =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly ms: number; readonly reason: string };

/**
 * The smallest model that makes WebGPU find an adapter, create a device, compile a shader and run it:
 * `y = a + b` over float32 vectors of symbolic length `n` (ONNX IR 8, opset 17; the same bytes as
 * tests/helpers/onnx-builders.ts `buildOnnxModel(addModel())`, which a unit test checks).
 */
const PROBE_MODEL_BASE64 =
  "CAgSEm1vbG1vLXZzY29kZSB0ZXN0czpZChUKAWEKAWISAXkaBUFkZF8wIgNBZGQSCnRlc3RfZ3JhcGhaEAoBYRILCgkIARIFCgMSAW5aEAoBYhILCgkIARIFCgMSAW5iEAoBeRILCgkIARIFCgMSAW5CBAoAEBE=";

/** The probe model's bytes (exported for the test that checks what they are). */
export function webGpuProbeModel(): Uint8Array {
  return new Uint8Array(Buffer.from(PROBE_MODEL_BASE64, "base64"));
}

/**
 * Tries WebGPU in this process: opens the probe model on it and checks one run's result. Dawn can abort or
 * hang the whole process on a broken driver, so the engine calls this only inside a throwaway child process
 * (webgpu-probe.ts); it is exported for that child and for diagnostics.
 */
export async function probeWebGpuInProcess(): Promise<WebGpuProbeResult> {
  const started = performance.now();
  try {
    const session = await openOrtSession(webGpuProbeModel(), { ep: "webgpu" });
    try {
      const result = await session.run({
        a: createTensor("float32", Float32Array.from([1, 2]), [2]),
        b: createTensor("float32", Float32Array.from([3, 4]), [2]),
      });
      const y = readTensorData(result.y);
      if (y[0] !== 4 || y[1] !== 6) {
        return { ok: false, ms: performance.now() - started, reason: `the WebGPU test run computed [${String(y[0])}, ${String(y[1])}] instead of [4, 6]` };
      }
    } finally {
      await session.release();
    }
    return { ok: true, ms: performance.now() - started };
  } catch (error) {
    return { ok: false, ms: performance.now() - started, reason: webGpuFailureReason(error) };
  }
}

/** The sentence that matters in a WebGPU EP failure ("Failed to get a WebGPU adapter: No supported adapters"). */
function webGpuFailureReason(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).trim();
  // Dawn's failures end with "<check> was false. <what happened>"; the check itself is noise to users.
  const afterCheck = /was false\.\s*(.+)$/s.exec(message);
  return (afterCheck?.[1] ?? message).trim();
}

/** The line prefix with which the probe child reports its result on stdout. */
export const PROBE_RESULT_PREFIX = "molmo-webgpu-probe:";

/**
 * Entry point of the WebGPU probe child process: runs {@link probeWebGpuInProcess} and prints the result as
 * one JSON line after {@link PROBE_RESULT_PREFIX}. Dawn's own chatter goes to stderr, which the parent keeps
 * out of the user's terminal.
 */
export function runWebGpuProbeAsChild(): void {
  void probeWebGpuInProcess().then((result) => {
    process.stdout.write(`${PROBE_RESULT_PREFIX}${JSON.stringify(result)}\n`);
  });
}
