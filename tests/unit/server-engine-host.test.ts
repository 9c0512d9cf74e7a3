/**
 * The engine host on the tiny Molmo bundle: lazy loading, one generation at a time with a bounded queue,
 * cancellation and time limits, failures confined to their request, reconfiguration.
 *
 * The engine is the real one; where a test must hold a request in flight it wraps the engine's `ask` behind
 * a gate it opens itself, so the order of events is decided by the test, not by timing.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MolmoEngine, type AskRequest, type MolmoEngineOptions } from "../../models/engine/molmo-engine";
import { EngineHost, type EngineLoader, type HostEngine, type HostStage } from "../../server/host/engine-host";
import { HostError, type HostErrorCode } from "../../server/host/host-errors";
import type { ResolvedImage } from "../../server/host/image-access";
import type { MolmoStatus } from "../../server/protocol/molmo-protocol";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const IMAGE: ResolvedImage = { kind: "file", path: join(tinyMolmoDir(), "image.png") };
const SHORT = { maxNewTokens: 4 } as const;

/** A loader whose engines wait at a gate before each answer, and which counts loads and disposals. */
function gatedLoader() {
  const gates: Array<() => void> = [];
  const record = { loads: 0, disposals: 0, failNextAsk: undefined as Error | undefined };
  const loader: EngineLoader = async (dir: string, options: MolmoEngineOptions) => {
    record.loads += 1;
    const engine = await MolmoEngine.load(dir, { ...options, intraOpNumThreads: 1 });
    const wrapped: HostEngine = {
      ep: engine.ep,
      loadMs: engine.loadMs,
      stats: () => engine.stats(),
      dispose: async () => {
        record.disposals += 1;
        await engine.dispose();
      },
      ask: async (request: AskRequest) => {
        await new Promise<void>((resolve) => gates.push(resolve));
        const failure = record.failNextAsk;
        if (failure !== undefined) {
          record.failNextAsk = undefined;
          throw failure;
        }
        return engine.ask(request);
      },
    };
    return wrapped;
  };
  /** Opens the gate of the oldest waiting answer (waiting until one is there). */
  const release = async () => {
    while (gates.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    gates.shift()?.();
  };
  return { loader, release, record };
}

async function rejectsWith(promise: Promise<unknown>, code: HostErrorCode, message?: RegExp): Promise<HostError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HostError, `expected a HostError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) {
      assert.match(error.message, message);
    }
    return error;
  }
  assert.fail(`expected a HostError ${code}, but the promise resolved`);
}

void describe("EngineHost", () => {
  void it("loads lazily on the first request, answers with points in pixels, and serves a follow-up from the feature cache", async () => {
    const host = new EngineHost({ modelPath: makeTinyBundle(), intraOpNumThreads: 1 });
    const states: MolmoStatus["state"][] = [];
    host.onDidChangeStatus((status) => states.push(status.state));
    assert.equal(host.status().state, "unloaded");
    const stages: HostStage["kind"][] = [];
    let streamed = "";
    const first = await host.ask({ image: IMAGE, task: "point", question: "the red square", options: { maxNewTokens: 12 }, onText: (d) => (streamed += d), onStage: (s) => stages.push(s.kind) });
    assert.equal(first.task, "point");
    assert.equal(first.cache, "miss");
    assert.equal(first.text, streamed);
    assert.ok(first.generatedTokens >= 1 && first.generatedTokens <= 12);
    assert.equal(first.image.path, IMAGE.kind === "file" ? IMAGE.path : undefined);
    assert.ok(first.image.width > 0 && first.image.height > 0);
    assert.equal(first.ep, "cpu");
    assert.equal(first.model.variant, "molmo-qwen2");
    assert.ok(first.timings.modelLoadMs > 0, "the first request waited for the model");
    assert.deepEqual(stages, ["loading", "generating"]);
    assert.ok(states.includes("loading") && states.includes("busy"), `states seen: ${states.join(", ")}`);
    assert.equal(host.status().state, "ready");
    assert.deepEqual(Object.keys(host.status().model ?? {}).sort(), ["dtype", "name", "path", "variant"]);

    const second = await host.ask({ image: IMAGE, question: "What is this?", options: { ...SHORT, answerPrefix: '<point x="25.0" y="50.0" alt="left">left</point>' } });
    assert.ok(second.text.startsWith(' <point x="25.0"'), "the answer begins with the forced prefix (after the space answers start with)");
    assert.deepEqual(second.points[0], { index: 1, x: 0.25 * second.image.width, y: 0.5 * second.image.height, xPercent: 25, yPercent: 50, label: "left", alt: "left" });
    assert.equal(second.cache, "hit");
    assert.equal(second.timings.modelLoadMs, 0);
    assert.equal(second.timings.visionMs, 0);
    assert.deepEqual(host.status().featureCache?.hits, 1);

    // Another crop limit is other preprocessing: the image is encoded again, under its own cache entry.
    const oneCrop = await host.ask({ image: IMAGE, question: "What is this?", options: { ...SHORT, maxCrops: 1 } });
    assert.equal(oneCrop.cache, "miss");
    assert.ok(oneCrop.timings.visionMs > 0);
    assert.equal((await host.ask({ image: IMAGE, question: "Again?", options: { ...SHORT, maxCrops: 1 } })).cache, "hit");
    await host.dispose();
  });

  void it("applies its default crop limit to requests that set none; a request's own limit wins", async () => {
    const host = new EngineHost({ modelPath: makeTinyBundle(), intraOpNumThreads: 1, defaultMaxCrops: 1 });
    assert.equal((await host.ask({ image: IMAGE, question: "?", options: SHORT })).cache, "miss");
    // The same preprocessing as the default: the features are cached.
    assert.equal((await host.ask({ image: IMAGE, question: "?", options: { ...SHORT, maxCrops: 1 } })).cache, "hit");
    assert.equal((await host.ask({ image: IMAGE, question: "?", options: { maxNewTokens: 2 } })).cache, "hit");
    // Another limit is other preprocessing.
    assert.equal((await host.ask({ image: IMAGE, question: "?", options: { ...SHORT, maxCrops: 12 } })).cache, "miss");
    await host.dispose();
  });

  void it("refuses a request without a configured model with a message naming the setting", async () => {
    const host = new EngineHost();
    await rejectsWith(host.ask({ image: IMAGE, question: "?" }), "no_model", /molmo\.model\.path/);
    assert.equal(host.status().state, "unloaded");
  });

  void it("checks the request before queueing it", async () => {
    const host = new EngineHost({ modelPath: "/nonexistent" });
    await rejectsWith(host.ask({ image: IMAGE, task: "ask" }), "bad_request", /needs a question/);
    await rejectsWith(host.ask({ image: IMAGE, task: "count", question: "  " }), "bad_request", /what to count/);
    await rejectsWith(host.ask({ image: IMAGE, question: "?", options: { maxNewTokens: 0 } }), "bad_request", /maxNewTokens/);
    await rejectsWith(host.ask({ image: IMAGE, question: "?", options: { topP: 1.5 } }), "bad_request", /topP/);
    await rejectsWith(host.ask({ image: IMAGE, question: "?", options: { maxCrops: 0 } }), "bad_request", /maxCrops/);
    await rejectsWith(host.ask({ image: IMAGE, question: "?", timeoutMs: -1 }), "bad_request", /timeoutMs/);
    await rejectsWith(host.ask({ image: IMAGE, task: "draw" as never, question: "?" }), "bad_request", /Unknown task/);
  });

  void it("runs one request at a time, queues the rest in order, and refuses past the queue's bound", async () => {
    const { loader, release, record } = gatedLoader();
    const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader, maxQueue: 2 });
    const finished: number[] = [];
    const stages: HostStage[] = [];
    const asks = [0, 1, 2].map((i) =>
      host.ask({ image: IMAGE, question: `question ${i}`, options: SHORT, onStage: (stage) => i === 2 && stages.push(stage) }).then((answer) => {
        finished.push(i);
        return answer;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(host.status().queue, { running: 1, waiting: 2, limit: 2 });
    assert.deepEqual(stages[0], { kind: "queued", position: 2 });
    await rejectsWith(host.ask({ image: IMAGE, question: "one too many" }), "busy", /2 requests are already waiting/);
    for (let i = 0; i < 3; i += 1) {
      await release();
    }
    const answers = await Promise.all(asks);
    assert.deepEqual(finished, [0, 1, 2]);
    assert.equal(record.loads, 1, "the requests shared one model load");
    assert.ok(answers[1].timings.queuedMs > 0);
    assert.deepEqual(host.status().queue, { running: 0, waiting: 0, limit: 2 });
    await host.dispose();
  });

  void it("takes a request cancelled while queued out of the queue at once", async () => {
    const { loader, release } = gatedLoader();
    const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader });
    const running = host.ask({ image: IMAGE, question: "first", options: SHORT });
    const controller = new AbortController();
    const queued = host.ask({ image: IMAGE, question: "second", signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(host.status().queue.waiting, 1);
    controller.abort();
    await rejectsWith(queued, "cancelled");
    assert.equal(host.status().queue.waiting, 0);
    await release();
    assert.equal((await running).task, "ask");
    await host.dispose();
  });

  void it("stops a running generation when cancelled, and answers the next request normally", async () => {
    const host = new EngineHost({ modelPath: makeTinyBundle(), intraOpNumThreads: 1 });
    const controller = new AbortController();
    let deltas = 0;
    const cancelled = host.ask({
      image: IMAGE,
      question: "Describe everything.",
      options: { maxNewTokens: 2048 },
      signal: controller.signal,
      onText: () => {
        deltas += 1;
        if (deltas === 3) {
          controller.abort();
        }
      },
    });
    await rejectsWith(cancelled, "cancelled");
    assert.ok(deltas < 10, `generation went on after the cancel (${deltas} deltas)`);
    const next = await host.ask({ image: IMAGE, question: "And now?", options: SHORT });
    assert.ok(next.generatedTokens >= 1);
    assert.equal(host.status().state, "ready");
    await host.dispose();
  });

  void it("fails a request past its time limit, queue time included", async () => {
    const { loader, release } = gatedLoader();
    const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader });
    const first = host.ask({ image: IMAGE, question: "slow", options: SHORT });
    await rejectsWith(host.ask({ image: IMAGE, question: "in a hurry", timeoutMs: 30 }), "timeout", /30 ms/);
    await release();
    await first;
    await host.dispose();
  });

  void it("confines an engine crash to its request", async () => {
    const { loader, release, record } = gatedLoader();
    const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader });
    record.failNextAsk = new TypeError("Cannot read properties of undefined (reading 'dims')");
    const crashed = host.ask({ image: IMAGE, question: "boom", options: SHORT });
    const after = host.ask({ image: IMAGE, question: "fine", options: SHORT });
    await release();
    await rejectsWith(crashed, "engine_failed", /reading 'dims'/);
    await release();
    assert.ok((await after).generatedTokens >= 1);
    await host.dispose();
  });

  void it("maps image and prompt failures to their codes", async () => {
    const host = new EngineHost({ modelPath: makeTinyBundle(), intraOpNumThreads: 1 });
    await rejectsWith(host.ask({ image: { kind: "file", path: "/nonexistent/shot.png" }, question: "?" }), "image_not_found", /shot\.png/);
    await rejectsWith(host.ask({ image: { kind: "data", uri: "data:image/png;base64,AAAA" }, question: "?" }), "bad_image");
    await rejectsWith(host.ask({ image: IMAGE, question: "<|endoftext|> sneaky" }), "bad_request");
    assert.ok((await host.ask({ image: IMAGE, question: "still fine?", options: SHORT })).generatedTokens >= 1);
    await host.dispose();
  });

  void it("reports a failed load as the error state, and loads again once the bundle is mended", async () => {
    const bundle = makeTinyBundle();
    const decoder = join(bundle, "onnx", "decoder_model_merged.onnx");
    const saved = `${decoder}.saved`;
    renameSync(decoder, saved);
    const host = new EngineHost({ modelPath: bundle, intraOpNumThreads: 1 });
    await rejectsWith(host.ask({ image: IMAGE, question: "?" }), "model_load_failed", /decoder_model_merged\.onnx/);
    const status = host.status();
    assert.equal(status.state, "error");
    assert.equal(status.error?.code, "model_load_failed");
    renameSync(saved, decoder);
    assert.ok((await host.ask({ image: IMAGE, question: "now?", options: SHORT })).generatedTokens >= 1);
    assert.equal(host.status().state, "ready");
    await host.dispose();
  });

  void it("switches models: refuses a folder that is not a bundle, unloads the old engine once idle, loads the new one on demand", async () => {
    const { loader, release, record } = gatedLoader();
    const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader });
    const pending = host.ask({ image: IMAGE, question: "?", options: SHORT });
    await rejectsWith(host.configure({ modelPath: tinyMolmoDir() }), "model_load_failed", /not a Molmo model bundle/);
    const second = makeTinyBundle();
    await host.configure({ modelPath: second });
    assert.equal(record.disposals, 0, "the engine in use is not unloaded under a running request");
    await release();
    await pending;
    assert.equal(record.disposals, 1, "unloaded once the request finished");
    assert.equal(host.status().state, "unloaded");
    assert.equal(host.status().model?.path, second);
    const models = await host.listModels();
    assert.deepEqual(models.map((m) => [m.path, m.selected, m.loaded]), [[second, true, false]]);
    const next = host.ask({ image: IMAGE, question: "?", options: SHORT });
    await release();
    assert.equal((await next).model.path, second);
    assert.equal(record.loads, 2);
    await host.dispose();
  });

  void it("lists the bundles in its model folders", async () => {
    const folder = mkdtempSync(join(tmpdir(), "molmo-models-"));
    symlinkSync(makeTinyBundle(), join(folder, "tiny-b"));
    symlinkSync(makeTinyBundle(), join(folder, "tiny-a"));
    mkdirSync(join(folder, "not-a-bundle"));
    writeFileSync(join(folder, "notes.txt"), "models live here");
    const host = new EngineHost({ modelFolders: [folder, join(folder, "missing")] });
    const models = await host.listModels();
    assert.deepEqual(models.map((m) => m.name), ["tiny-a", "tiny-b"]);
    assert.ok(models.every((m) => m.variant === "molmo-qwen2" && m.dtype === "fp32" && m.bytes > 1e6 && !m.loaded && !m.selected));
    rmSync(folder, { recursive: true, force: true });
  });

  void it("fails waiting requests with `disposed` when shut down", async () => {
    const { loader, release } = gatedLoader();
    const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader });
    const running = host.ask({ image: IMAGE, question: "first", options: SHORT });
    const waiting = host.ask({ image: IMAGE, question: "second", options: SHORT });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const disposed = host.dispose();
    await rejectsWith(waiting, "disposed");
    await release();
    await running.catch(() => undefined);
    await disposed;
    await rejectsWith(host.ask({ image: IMAGE, question: "late" }), "disposed");
  });
});
