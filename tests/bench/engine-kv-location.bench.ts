/**
 * `node dist/tests/bench/engine-kv-location.bench.js` — what keeping the KV cache on the GPU saves, and
 * checks of the WebGPU paths that can abort a process, each in its own child process so one native abort
 * does not hide the others. For the GPU machine (see shared/device/README.md); on a machine without a
 * GPU the WebGPU steps report `ep_unavailable`. Prints one JSON line per step. A benchmark, not a test.
 *
 * Steps:
 * - `kv`: `auto` on a toy decoder step with `present.0.key` in deviceOutputs: which provider runs, where
 *   the present tensor lives, whether it feeds back correctly, and that readTensorData refuses it.
 * - `download`: calls onnxruntime's own `getData()` on a GPU tensor, which onnxruntime-node 1.30 answers
 *   with a native abort (the reason readTensorData refuses).
 * - `keep` / `host` / `cpu`: 8 layers x (key, value) of [1, 4, S, 128] float32 grown from S = 1200, median
 *   step time with the cache kept on the GPU, copied to and from the host each step, and on the CPU EP.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTensor, readTensorData, releaseTensor, type OrtTensor } from "../../models/engine/backend";
import { EngineError } from "../../models/engine/errors";
import { createSession } from "../../models/engine/session";
import { kvStackModel, toyKvModel, writeOnnxModel } from "../helpers/onnx-builders";
import { recordingLogger } from "../helpers/recording-logger";

const STEPS = ["kv", "download", "keep", "host", "cpu"] as const;
type Step = (typeof STEPS)[number];

const emit = (value: unknown): void => {
  writeSync(1, `${JSON.stringify(value)}\n`);
};

async function kvStep(dir: string): Promise<void> {
  const logger = recordingLogger();
  const session = await createSession(writeOnnxModel(join(dir, "kv.onnx"), toyKvModel()), { ep: "auto", logger, deviceOutputs: ["present.0.key"] });
  emit({ ep: session.ep, log: logger.lines.map((line) => `${line.level}: ${line.message}`) });
  let past: OrtTensor = createTensor("float32", new Float32Array(0), [1, 0, 2]);
  for (const i of [1, 2, 3, 4]) {
    const out = await session.run({ "past_key_values.0.key": past, new_key: createTensor("float32", Float32Array.from([i, 10 * i]), [1, 1, 2]) });
    emit({ i, present: out["present.0.key"].location, dims: out["present.0.key"].dims, logits: Array.from(readTensorData(out.logits) as Float32Array) });
    releaseTensor(past);
    past = out["present.0.key"]!;
  }
  try {
    readTensorData(past);
    emit({ readTensorData: past.location === "cpu" ? "host tensor read" : "NOT refused" });
  } catch (error) {
    emit({ readTensorData: error instanceof EngineError ? error.code : String(error) });
  }
  releaseTensor(past);
  await session.dispose();
}

async function downloadStep(dir: string): Promise<void> {
  const session = await createSession(writeOnnxModel(join(dir, "kv.onnx"), toyKvModel()), { ep: "webgpu", deviceOutputs: ["present.0.key"] });
  const out = await session.run({ "past_key_values.0.key": createTensor("float32", new Float32Array(0), [1, 0, 2]), new_key: createTensor("float32", Float32Array.from([1, 2]), [1, 1, 2]) });
  emit({ calling: `getData() on a ${out["present.0.key"].location} tensor` });
  emit({ got: Array.from((await out["present.0.key"].getData()) as Float32Array) });
}

async function stackStep(dir: string, ep: "webgpu" | "cpu", keep: boolean): Promise<void> {
  const layers = 8;
  const initialLength = 1200;
  const presents = Array.from({ length: layers }, (_, layer) => [`present.${layer}.key`, `present.${layer}.value`]).flat();
  const session = await createSession(writeOnnxModel(join(dir, "stack.onnx"), kvStackModel(layers, 4, 128)), { ep, ...(keep ? { deviceOutputs: presents } : {}) });
  const feeds: Record<string, OrtTensor> = {};
  for (const name of presents) {
    feeds[name.replace("present", "past_key_values")] = createTensor("float32", new Float32Array(4 * initialLength * 128).fill(0.5), [1, 4, initialLength, 128]);
  }
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    feeds.new_kv = createTensor("float32", new Float32Array(4 * 128).fill(i), [1, 4, 1, 128]);
    const started = performance.now();
    const out = await session.run(feeds);
    readTensorData(out.logits);
    times.push(performance.now() - started);
    for (const name of presents) {
      const pastName = name.replace("present", "past_key_values");
      releaseTensor(feeds[pastName]);
      feeds[pastName] = out[name]!;
    }
  }
  const steady = times.slice(3).sort((a, b) => a - b);
  emit({ ep: session.ep, keptOnGpu: session.deviceOutputs.size > 0, cacheLength: feeds["past_key_values.0.key"].dims[2], medianStepMs: steady[Math.floor(steady.length / 2)], minStepMs: steady[0] });
  for (const name of presents) {
    releaseTensor(feeds[name.replace("present", "past_key_values")]);
  }
  await session.dispose();
}

async function runStep(step: Step): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-"));
  try {
    switch (step) {
      case "kv":
        return await kvStep(dir);
      case "download":
        return await downloadStep(dir);
      case "keep":
        return await stackStep(dir, "webgpu", true);
      case "host":
        return await stackStep(dir, "webgpu", false);
      case "cpu":
        return await stackStep(dir, "cpu", false);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const requested = process.argv[2];
if (requested === undefined) {
  for (const step of STEPS) {
    const started = Date.now();
    const child = spawnSync(process.execPath, [__filename, step], { encoding: "utf8", timeout: 120_000 });
    const lines = child.stdout.split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as unknown);
    const stderr = child.stderr.split("\n").filter((line) => line.trim().length > 0 && !line.includes("XDG_RUNTIME_DIR")).slice(-3);
    emit({ step, exit: child.status, signal: child.signal, wallMs: Date.now() - started, lines, stderr });
  }
} else if ((STEPS as readonly string[]).includes(requested)) {
  runStep(requested as Step).catch((error: unknown) => {
    emit({ failed: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
  });
} else {
  emit({ failed: `unknown step ${requested}; steps: ${STEPS.join(", ")}` });
  process.exitCode = 2;
}
