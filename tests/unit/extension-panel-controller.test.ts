/**
 * The points panel's message logic (extension/panel/panel-controller.ts) with a fake webview host and a fake
 * molmo/ask backend: forwarding streamed partial results, the final answer, cancellation, failures, the
 * replay after a webview reload, and the webview's requests (copy, save, drop, malformed messages).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResponseError } from "vscode-jsonrpc";
import { PanelController, isPng, safePngName, type AskBackend, type AskParamsWithoutTokens, type PanelHost } from "../../extension/panel/panel-controller";
import type { MolmoAskPartialResult, MolmoAskResult, MolmoGenerationOptions, MolmoPoint, MolmoStatus } from "../../server/protocol/molmo-protocol";
import { WEBVIEW_PROTOCOL_VERSION, type HostToViewMessage } from "../../webview/protocol";

const point: MolmoPoint = { index: 1, x: 100, y: 150, xPercent: 20, yPercent: 50, label: "red circle", alt: "red circle" };

function answer(text: string, points: MolmoPoint[]): MolmoAskResult {
  return {
    text,
    points,
    count: points.length,
    image: { width: 500, height: 300, path: "/ws/image.png" },
    task: "point",
    prompt: "Point to red circle",
    stopReason: "max_new_tokens",
    generatedTokens: 3,
    ep: "cpu",
    model: { name: "tiny", path: "/m/tiny", variant: "tiny-random", dtype: "fp32" },
    cache: "miss",
    timings: {
      queuedMs: 0,
      modelLoadMs: 0,
      imageLoadMs: 1,
      preprocessMs: 1,
      visionMs: 1,
      prefillMs: 1,
      decodeMs: 1,
      timeToFirstTokenMs: 1,
      decodeTokensPerSecond: 100,
      totalMs: 5,
    },
  };
}

/** A backend whose answers the test releases step by step. */
class FakeBackend implements AskBackend {
  readonly calls: { params: AskParamsWithoutTokens; onPartial: (partial: MolmoAskPartialResult) => void; signal: AbortSignal; resolve: (r: MolmoAskResult) => void; reject: (e: unknown) => void }[] = [];

  ask(params: AskParamsWithoutTokens, onPartial: (partial: MolmoAskPartialResult) => void, signal: AbortSignal): Promise<MolmoAskResult> {
    return new Promise((resolve, reject) => {
      this.calls.push({ params, onPartial, signal, resolve, reject });
      // Like the language client: a cancelled request rejects with RequestCancelled.
      signal.addEventListener("abort", () => reject(new ResponseError(-32800, "Request cancelled")));
    });
  }

  get last(): FakeBackend["calls"][number] {
    const call = this.calls.at(-1);
    assert.ok(call, "the backend was called");
    return call;
  }
}

class FakeHost implements PanelHost {
  readonly posted: HostToViewMessage[] = [];
  readonly clipboard: string[] = [];
  readonly saved: { bytes: Uint8Array; name: string }[] = [];
  readonly errors: unknown[] = [];
  readonly logs: string[] = [];
  readonly shownNames: string[] = [];
  delivered = true;
  generation: MolmoGenerationOptions = {};

  post(message: HostToViewMessage): boolean {
    this.posted.push(message);
    return this.delivered;
  }
  copyToClipboard(text: string): Promise<void> {
    this.clipboard.push(text);
    return Promise.resolve();
  }
  savePng(bytes: Uint8Array, name: string): Promise<string | undefined> {
    this.saved.push({ bytes, name });
    return Promise.resolve(name);
  }
  generationOptions(): MolmoGenerationOptions {
    return this.generation;
  }
  imageShown(image: { readonly fileName: string }): void {
    this.shownNames.push(image.fileName);
  }
  reportError(error: unknown): void {
    this.errors.push(error);
  }
  log(level: string, message: string): void {
    this.logs.push(`${level}: ${message}`);
  }
  types(): string[] {
    return this.posted.map((message) => message.type);
  }
  take(): HostToViewMessage[] {
    return this.posted.splice(0);
  }
}

function setup(): { host: FakeHost; backend: FakeBackend; controller: PanelController } {
  const host = new FakeHost();
  const backend = new FakeBackend();
  let id = 0;
  const controller = new PanelController(host, backend, () => `r${++id}`);
  controller.showImage({ serverImage: "/ws/image.png", webviewUri: "https://file+.vscode-resource.vscode-cdn.net/ws/image.png", fileName: "image.png" });
  return { host, backend, controller };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void test("a question streams: answerStarted, a delta per partial result (with its points), answerDone", async () => {
  const { host, backend, controller } = setup();
  assert.deepEqual(host.take(), [{ type: "showImage", uri: "https://file+.vscode-resource.vscode-cdn.net/ws/image.png", fileName: "image.png" }]);

  const outcome = controller.ask({ task: "point", question: "red circle", options: { maxNewTokens: 3 } });
  await tick();
  assert.deepEqual(backend.last.params, { image: "/ws/image.png", task: "point", question: "red circle", options: { maxNewTokens: 3 } });
  backend.last.onPartial({ textDelta: ' <point x="20.0" y="50.0" alt="red circle">red circle</point>' });
  backend.last.onPartial({ textDelta: "", points: [point] });
  backend.last.onPartial({ textDelta: " done" });
  const result = answer(' <point x="20.0" y="50.0" alt="red circle">red circle</point> done', [point]);
  backend.last.resolve(result);
  assert.deepEqual(await outcome, { kind: "done", result });

  assert.deepEqual(host.take(), [
    { type: "answerStarted", requestId: "r1", task: "point", question: "red circle" },
    { type: "answerDelta", requestId: "r1", textDelta: ' <point x="20.0" y="50.0" alt="red circle">red circle</point>' },
    { type: "answerDelta", requestId: "r1", textDelta: "", points: [point] },
    { type: "answerDelta", requestId: "r1", textDelta: " done" },
    { type: "answerDone", requestId: "r1", result },
  ]);
  assert.deepEqual(controller.postedMessages.map((record) => record.delivered), [true, true, true, true, true, true]);
});

void test("the molmo.generation settings apply to every question; the question's own options win", async () => {
  const { host, backend, controller } = setup();
  host.generation = { maxNewTokens: 8, answerPrefix: "<point" };
  void controller.receive({ type: "ask", requestId: "v1", task: "ask", question: "Where?" });
  await tick();
  assert.deepEqual(backend.last.params.options, { maxNewTokens: 8, answerPrefix: "<point" });
  void controller.ask({ task: "caption", options: { maxNewTokens: 2 } });
  await tick();
  assert.deepEqual(backend.last.params.options, { maxNewTokens: 2, answerPrefix: "<point" });
  controller.dispose();
});

void test("the webview's ask uses its request id; its cancel aborts the request and says cancelled", async () => {
  const { host, backend, controller } = setup();
  host.take();
  const asking = controller.receive({ type: "ask", requestId: "view-7", task: "ask", question: "What is this?" });
  await tick();
  backend.last.onPartial({ textDelta: " A" });
  await controller.receive({ type: "cancel", requestId: "view-7" });
  await asking;
  assert.equal(backend.last.signal.aborted, true);
  // A progress message that arrives after the cancellation is dropped.
  backend.last.onPartial({ textDelta: " late" });
  assert.deepEqual(host.take(), [
    { type: "answerStarted", requestId: "view-7", task: "ask", question: "What is this?" },
    { type: "answerDelta", requestId: "view-7", textDelta: " A" },
    { type: "answerCancelled", requestId: "view-7" },
  ]);
  assert.deepEqual(host.errors, [], "a cancellation is not an error to report");
});

void test("a new question cancels the running one; only the new answer reaches the webview", async () => {
  const { host, backend, controller } = setup();
  host.take();
  const first = controller.ask({ task: "caption" });
  await tick();
  const firstCall = backend.last;
  const second = controller.ask({ task: "count", question: "circles" });
  await tick();
  assert.equal(firstCall.signal.aborted, true);
  assert.deepEqual(await first, { kind: "cancelled" });
  backend.last.resolve(answer(" 2", [point, { ...point, index: 2 }]));
  assert.equal((await second).kind, "done");
  assert.deepEqual(host.types(), ["answerStarted", "answerStarted", "answerDone"]);
});

void test("a failure becomes answerFailed with the server's code, and is reported once", async () => {
  const { host, backend, controller } = setup();
  host.take();
  const asking = controller.ask({ task: "ask", question: "Why?" });
  await tick();
  const error = new ResponseError(-32803, "No model is configured.", { code: "no_model" });
  backend.last.reject(error);
  assert.deepEqual(await asking, { kind: "failed", error });
  assert.deepEqual(host.take().at(-1), { type: "answerFailed", requestId: "r1", message: "No model is configured.", code: "no_model" });
  assert.deepEqual(host.errors, [error]);
});

void test("an empty question fails before anything is sent", async () => {
  const { host, backend, controller } = setup();
  host.take();
  const outcome = await controller.ask({ task: "point", question: " " });
  assert.equal(outcome.kind, "failed");
  assert.equal(backend.calls.length, 0);
  assert.deepEqual(host.take().at(-1), { type: "answerFailed", requestId: "r1", message: "The point task needs what to point at.", code: "empty_question" });
});

void test("after a reload the webview's ready gets the image, the status and a compact replay of the answer", async () => {
  const { host, backend, controller } = setup();
  const status: MolmoStatus = { state: "busy", requestedEp: "cpu", ep: "cpu", queue: { running: 1, waiting: 0, limit: 16 }, model: { name: "tiny", path: "/m", variant: "v", dtype: "fp32" } };
  controller.setEngineStatus(status);
  const asking = controller.ask({ task: "point", question: "red circle" });
  await tick();
  backend.last.onPartial({ textDelta: " <point" });
  backend.last.onPartial({ textDelta: ' x="20" y="50">c</point>', points: [point] });
  host.take();

  // The panel was hidden (the webview destroyed) and shown again: its script says ready.
  await controller.receive({ type: "ready", protocolVersion: WEBVIEW_PROTOCOL_VERSION });
  assert.deepEqual(host.take(), [
    { type: "showImage", uri: "https://file+.vscode-resource.vscode-cdn.net/ws/image.png", fileName: "image.png" },
    { type: "engineStatus", state: "busy", model: "tiny", ep: "cpu" },
    { type: "answerStarted", requestId: "r1", task: "point", question: "red circle" },
    { type: "answerDelta", requestId: "r1", textDelta: ' <point x="20" y="50">c</point>', points: [point] },
  ]);
  const result = answer(' <point x="20" y="50">c</point>', [point]);
  backend.last.resolve(result);
  await asking;
  host.take();
  await controller.receive({ type: "ready", protocolVersion: WEBVIEW_PROTOCOL_VERSION });
  assert.deepEqual(host.types(), ["showImage", "engineStatus", "answerStarted", "answerDone"]);
  assert.equal(controller.webviewReadyCount, 2);
});

void test("a webview of another protocol version gets a notice; malformed messages are logged and dropped", async () => {
  const { host, controller } = setup();
  host.take();
  await controller.receive({ type: "ready", protocolVersion: WEBVIEW_PROTOCOL_VERSION + 1 });
  assert.equal(host.posted[0]?.type, "notice");
  for (const bad of [null, "ready", { type: "launchMissiles" }, { type: "ask", requestId: "", task: "ask", question: "q" }, { type: "cancel" }]) {
    await controller.receive(bad);
  }
  assert.equal(host.logs.filter((line) => line.startsWith("warn: Ignored a message")).length, 5, host.logs.join("\n"));
  assert.equal(controller.receivedMessages.length, 1, "only the ready message was accepted");
});

void test("copy points and save PNG go to the host; the save name is sanitised", async () => {
  const { host, controller } = setup();
  host.take();
  await controller.receive({ type: "copyPoints", json: JSON.stringify([point]), count: 1 });
  assert.deepEqual(host.clipboard, [JSON.stringify([point])]);
  assert.deepEqual(host.take(), [{ type: "notice", level: "info", message: "Copied 1 point as JSON." }]);

  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  await controller.receive({ type: "saveAnnotatedPng", pngBase64: png.toString("base64"), suggestedName: "../../etc/image-molmo.png" });
  assert.equal(host.saved[0]?.name, "image-molmo.png");
  assert.deepEqual(Buffer.from(host.saved[0].bytes), png);
  assert.deepEqual(host.take(), [{ type: "notice", level: "info", message: "Saved image-molmo.png." }]);

  await controller.receive({ type: "saveAnnotatedPng", pngBase64: Buffer.from("GIF89a....").toString("base64"), suggestedName: "x.png" });
  assert.equal(host.saved.length, 1, "not a PNG: not saved");
  assert.equal(host.take()[0]?.type, "notice");
});

void test("a dropped image becomes the shown image, as a data URI for both the webview and the server", async () => {
  const { host, backend, controller } = setup();
  host.take();
  const base64 = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]).toString("base64");
  await controller.receive({ type: "imageDropped", base64, mime: "image/png", name: "pasted-image.png" });
  assert.deepEqual(host.take(), [{ type: "showImage", uri: `data:image/png;base64,${base64}`, fileName: "pasted-image.png" }]);
  // The panel's title follows the pasted image instead of naming the file shown before.
  assert.equal(host.shownNames.at(-1), "pasted-image.png");
  void controller.ask({ task: "caption" });
  await tick();
  assert.equal(backend.last.params.image, `data:image/png;base64,${base64}`);
  controller.dispose();
  assert.equal(backend.last.signal.aborted, true, "disposing the panel cancels its question");
});

void test("undelivered posts are recorded as such", async () => {
  const { host, controller } = setup();
  host.delivered = false;
  controller.setEngineStatus({ state: "ready", requestedEp: "cpu", queue: { running: 0, waiting: 0, limit: 1 } });
  await tick();
  assert.deepEqual(controller.postedMessages.map((record) => record.delivered), [true, false]);
});

void test("save names and PNG signatures", () => {
  assert.equal(safePngName("shot.jpg"), "shot.png");
  assert.equal(safePngName("C:\\Users\\x\\a:b?.png"), "a_b_.png");
  assert.equal(safePngName("..."), "molmo-annotated.png");
  assert.equal(isPng(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])), true);
  assert.equal(isPng(Buffer.from([0x89, 0x50])), false);
});
