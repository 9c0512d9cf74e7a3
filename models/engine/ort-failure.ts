/**
 * Reads onnxruntime's error messages. onnxruntime-node throws plain `Error`s whose only signal is the text,
 * so the engine recognises the failures it must report differently (missing file, corrupt model, out of
 * memory) by the phrases onnxruntime uses for them, in a table rather than scattered string tests.
 */
import type { EngineErrorCode } from "./errors";

/** What a failure of onnxruntime amounts to, as far as the engine's callers care. */
export type OrtFailureKind = Extract<EngineErrorCode, "missing_file" | "corrupt_model" | "out_of_memory" | "config_mismatch">;

interface FailurePattern {
  readonly kind: OrtFailureKind;
  readonly pattern: RegExp;
  /** Where the message names a file (or an output), the pattern's first group captures it. */
  readonly capturesSubject?: boolean;
}

/** Phrases seen in onnxruntime 1.30 messages (CPU EP measured here; GPU ones from the providers' sources). */
const FAILURE_PATTERNS: readonly FailurePattern[] = [
  // Host allocation failures: the arena ("Failed to allocate memory for requested buffer of size N"), a
  // capped arena ("Available memory of X is smaller than requested bytes of Y") and C++'s bad_alloc.
  { kind: "out_of_memory", pattern: /Failed to allocate memory/i },
  { kind: "out_of_memory", pattern: /Available memory of \d+ is smaller than requested bytes/i },
  { kind: "out_of_memory", pattern: /bad_alloc|bad allocation/i },
  // CUDA ("CUDA failure 2: out of memory", cudaErrorMemoryAllocation), DirectML (E_OUTOFMEMORY, HRESULT
  // 0x8007000E) and WebGPU/Dawn ("Out of memory", OutOfMemory errors).
  { kind: "out_of_memory", pattern: /out of memory|OutOfMemory|cudaErrorMemoryAllocation|E_OUTOFMEMORY|8007000E/i },
  { kind: "missing_file", pattern: /External data path does not exist: "?([^"\n]+)"?/, capturesSubject: true },
  { kind: "missing_file", pattern: /File doesn't exist|No such file or directory/i },
  { kind: "corrupt_model", pattern: /Protobuf parsing failed|INVALID_PROTOBUF|ModelProto does not have a graph/i },
  // `preferredOutputLocation` naming an output the model lacks (deviceOutputs out of step with the model).
  { kind: "config_mismatch", pattern: /"([^"]+)" is not a valid output name/, capturesSubject: true },
  // A truncated `.onnx_data` file: the initializer's offset/length run past the end of the file.
  { kind: "corrupt_model", pattern: /are out of bounds or can not be read in full/i },
];

/**
 * The kind of a failure, and the file (or output name) it is about if the message says; undefined when it
 * is none of the known kinds.
 */
export function classifyOrtFailure(message: string): { kind: OrtFailureKind; subject?: string } | undefined {
  for (const { kind, pattern, capturesSubject } of FAILURE_PATTERNS) {
    const match = pattern.exec(message);
    if (match !== null) {
      return capturesSubject === true && match[1] !== undefined ? { kind, subject: match[1] } : { kind };
    }
  }
  return undefined;
}

/**
 * onnxruntime's message without its C++ source location prefixes (`/onnxruntime_src/...cc:563 void f(...)`),
 * which mean nothing to users; the remaining sentence is what they can act on. Trailing whitespace goes too.
 */
export function cleanOrtMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  return raw
    .replace(/\/onnxruntime_src\/\S+:\d+ [^\n]*?\) /g, "")
    .replace(/\s+$/, "");
}
