/**
 * Execution-provider selection: names, the per-platform `auto` order, fallbacks with their logged reasons,
 * pinned providers that cannot run, and the WebGPU probe's child process surviving crashes and hangs.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createTensor, nativeLibrariesPresent, openOrtSession, webGpuProbeModel } from "../../models/engine/backend";
import {
  autoCandidates,
  EP_NAMES,
  keepsOutputsOnDevice,
  parseEpName,
  planExecutionProviders,
  type ConcreteEp,
  type EpEnvironment,
} from "../../models/engine/execution-provider";
import { createSession } from "../../models/engine/session";
import { probeWebGpu, probeWebGpuInChildProcess } from "../../models/engine/webgpu-probe";
import { addModel, buildOnnxModel, writeOnnxModel } from "../helpers/onnx-builders";
import { recordingLogger } from "../helpers/recording-logger";
import { assertEngineError } from "../helpers/engine-error";

/** A machine described by hand: `unavailable` maps providers to the reason they cannot run. */
function fakeEnvironment(platform: NodeJS.Platform, unavailable: Partial<Record<ConcreteEp, string>>): EpEnvironment & { asked: ConcreteEp[] } {
  const asked: ConcreteEp[] = [];
  return {
    platform,
    asked,
    availability(ep) {
      asked.push(ep);
      const reason = unavailable[ep];
      return Promise.resolve(reason === undefined ? { available: true } : { available: false, reason });
    },
  };
}


void describe("execution-provider names", () => {
  void test("every documented name parses, anything else is unknown_ep listing the valid ones", () => {
    for (const name of EP_NAMES) {
      assert.equal(parseEpName(name), name);
    }
    for (const bad of ["gpu", "CUDA", "", "webgl", 3, undefined]) {
      assert.throws(() => parseEpName(bad), assertEngineError("unknown_ep", /auto, cpu, webgpu, cuda, dml, coreml/));
    }
  });

  void test("auto tries GPU providers first and always ends with the CPU", () => {
    assert.deepEqual(autoCandidates("linux"), ["cuda", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates("win32"), ["cuda", "dml", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates("darwin"), ["webgpu", "coreml", "cpu"]);
    assert.deepEqual(autoCandidates("freebsd"), ["webgpu", "cpu"]);
  });

  void test("only WebGPU keeps outputs in device memory", () => {
    assert.deepEqual(
      EP_NAMES.filter((name): name is ConcreteEp => name !== "auto").filter(keepsOutputsOnDevice),
      ["webgpu"],
    );
  });
});

void describe("planExecutionProviders with a described machine", () => {
  void test("auto skips unavailable providers with one info line each and keeps the platform order", async () => {
    const logger = recordingLogger();
    const environment = fakeEnvironment("win32", { cuda: "not installed", webgpu: "no adapter" });
    const plan = await planExecutionProviders("auto", logger, environment);
    assert.deepEqual(plan, { requested: "auto", candidates: ["dml", "cpu"] });
    assert.deepEqual(logger.at("info"), [
      "Execution provider auto: skipping cuda: not installed.",
      "Execution provider auto: skipping webgpu: no adapter.",
    ]);
    assert.deepEqual(environment.asked, ["cuda", "dml", "webgpu", "cpu"]);
  });

  void test("a pinned provider is checked alone and its unavailability is an ep_unavailable error naming it", async () => {
    const environment = fakeEnvironment("linux", { cuda: "the CUDA execution provider is not installed" });
    await assert.rejects(
      planExecutionProviders("cuda", recordingLogger(), environment),
      assertEngineError("ep_unavailable", /^cuda: the CUDA execution provider is not installed\.$/),
    );
    assert.deepEqual(environment.asked, ["cuda"]);
    assert.deepEqual(await planExecutionProviders("webgpu", recordingLogger(), environment), { requested: "webgpu", candidates: ["webgpu"] });
  });

  void test("an unknown name fails before anything is probed", async () => {
    const environment = fakeEnvironment("linux", {});
    await assert.rejects(planExecutionProviders("tpu", recordingLogger(), environment), assertEngineError("unknown_ep", /"tpu"/));
    assert.deepEqual(environment.asked, []);
  });

  void test("auto with nothing available is ep_unavailable", async () => {
    const environment = fakeEnvironment("linux", { cuda: "a", webgpu: "b", cpu: "c" });
    await assert.rejects(planExecutionProviders("auto", recordingLogger(), environment), assertEngineError("ep_unavailable"));
  });
});

void describe("this machine", () => {
  let dir: string;
  let modelPath: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "engine-ep-"));
    modelPath = writeOnnxModel(join(dir, "add.onnx"), addModel());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test("the embedded WebGPU probe model is the builder's add model and computes a + b", async () => {
    assert.deepEqual(webGpuProbeModel(), buildOnnxModel(addModel()));
    const session = await openOrtSession(webGpuProbeModel(), { ep: "cpu" });
    const result = await session.run({
      a: createTensor("float32", Float32Array.from([1, 2]), [2]),
      b: createTensor("float32", Float32Array.from([3, 4]), [2]),
    });
    assert.deepEqual(Array.from(result.y.data as Float32Array), [4, 6]);
    await session.release();
  });

  void test("auto picks what the probe and the installed libraries allow, logging each fallback and the choice", async () => {
    const logger = recordingLogger();
    const session = await createSession(modelPath, { ep: "auto", logger });
    const cudaInstalled = nativeLibrariesPresent(["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"]);
    const webgpu = await probeWebGpu();
    const expected: ConcreteEp = process.platform !== "linux" ? session.ep : cudaInstalled ? "cuda" : webgpu.ok ? "webgpu" : "cpu";
    assert.equal(session.ep, expected);
    assert.equal(session.requestedEp, "auto");
    const info = logger.at("info");
    if (process.platform === "linux" && !cudaInstalled) {
      assert.ok(
        info.includes(
          "Execution provider auto: skipping cuda: the CUDA execution provider is not installed; onnxruntime-node skipped its download (see README 'Enabling CUDA').",
        ),
        info.join("\n"),
      );
    }
    if (!webgpu.ok && expected === "cpu") {
      assert.ok(info.some((line) => line.startsWith("Execution provider auto: skipping webgpu: no usable WebGPU adapter (")), info.join("\n"));
    }
    assert.match(info[info.length - 1], new RegExp(`^add\\.onnx: running on ${expected} \\(.*; requested auto\\), opened in \\d+ ms\\.$`));
    await session.dispose();
  });

  void test("pinned cuda without its provider library is a clear ep_unavailable error", { skip: process.platform !== "linux" }, async (t) => {
    if (nativeLibrariesPresent(["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"])) {
      t.skip("the CUDA provider is installed on this machine");
      return;
    }
    await assert.rejects(
      createSession(modelPath, { ep: "cuda" }),
      assertEngineError("ep_unavailable", /^cuda: the CUDA execution provider is not installed; onnxruntime-node skipped its download \(see README 'Enabling CUDA'\)\.$/),
    );
  });

  void test("pinned dml or coreml off their platforms name the platform they need", { skip: process.platform !== "linux" }, async () => {
    await assert.rejects(createSession(modelPath, { ep: "dml" }), assertEngineError("ep_unavailable", /^dml: DirectML exists only in onnxruntime-node for Windows\.$/));
    await assert.rejects(createSession(modelPath, { ep: "coreml" }), assertEngineError("ep_unavailable", /^coreml: CoreML exists only in onnxruntime-node for macOS\.$/));
  });

  void test("a provider that passes its check but cannot open the model: auto falls back with a warning, pinned fails", { skip: process.platform === "win32" }, async () => {
    // DirectML claimed available on a machine whose onnxruntime-node has no DirectML: opening fails for real.
    const environment = fakeEnvironment(process.platform, { cuda: "not installed", webgpu: "no adapter" });
    const claimsDml: EpEnvironment = { platform: "win32", availability: (ep) => environment.availability(ep) };
    const logger = recordingLogger();
    const session = await createSession(modelPath, { ep: "auto", logger, environment: claimsDml });
    assert.equal(session.ep, "cpu");
    const warnings = logger.at("warn");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^add\.onnx: dml could not open the model \(.*dml.*\); falling back to cpu\.$/);
    await session.dispose();

    await assert.rejects(
      createSession(modelPath, { ep: "dml", environment: claimsDml }),
      assertEngineError("ep_unavailable", /^dml: the DirectML execution provider could not open add\.onnx: /),
    );
  });

  void test("the WebGPU probe answers in well under a few seconds and is asked once per process", async () => {
    const started = performance.now();
    const first = await probeWebGpu();
    const second = await probeWebGpu();
    assert.equal(second, first);
    assert.ok(first.ms >= 0 && performance.now() - started < 20_000);
    if (!first.ok) {
      assert.ok(first.reason.length > 0);
    }
  });
});

void describe("WebGPU probe child process", () => {
  void test("a child killed by a signal (a driver crash) is a negative answer, not a crash here", async () => {
    const result = await probeWebGpuInChildProcess({ script: "process.kill(process.pid, 'SIGSEGV');" });
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.reason, /killed by SIGSEGV/);
  });

  void test("a hanging child is stopped after the time limit", async () => {
    const started = performance.now();
    const result = await probeWebGpuInChildProcess({ script: "setInterval(() => {}, 1000);", timeoutMs: 400 });
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.reason, /did not finish within 0\.4 s/);
    assert.ok(performance.now() - started < 5000);
  });

  void test("a child that exits without an answer reports its exit code and last stderr line", async () => {
    const result = await probeWebGpuInChildProcess({ script: "process.stderr.write('vkCreateInstance failed\\n'); process.exit(3);" });
    assert.deepEqual(result.ok ? undefined : result.reason, "the WebGPU probe process exited with code 3 without an answer (last message: vkCreateInstance failed)");
  });

  void test("a garbled answer counts as no answer; a well-formed one is passed through", async () => {
    const garbled = await probeWebGpuInChildProcess({ script: "console.log('molmo-webgpu-probe:{oops');" });
    assert.match(garbled.ok ? "" : garbled.reason, /exited with code 0 without an answer/);
    const fine = await probeWebGpuInChildProcess({ script: "console.log('noise'); console.log('molmo-webgpu-probe:' + JSON.stringify({ ok: true, ms: 12 }));" });
    assert.deepEqual(fine, { ok: true, ms: 12 });
  });
});
