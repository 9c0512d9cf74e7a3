/**
 * molmo/ask and the other molmo/* requests over a real LSP connection on the tiny model: streamed partial
 * results and work-done progress, cancellation mid-generation (and a normal request right after), refused
 * and missing images, malformed parameters, status, models and their notifications.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { ProgressType, ResponseError, WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressEnd, type WorkDoneProgressReport } from "vscode-languageserver-protocol/node";
import type { MolmoAskPartialResult, MolmoAskResult, MolmoModelsResult, MolmoStatus } from "../../server/protocol/molmo-protocol";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";
import { assertNoInternalErrors, cancellable, startSession, type LspSession } from "./lsp-harness";

const RequestCancelled = -32800;
const InvalidParams = -32602;
const RequestFailed = -32803;

async function askError(session: LspSession, params: object): Promise<ResponseError<{ code: string }>> {
  try {
    await session.connection.sendRequest<MolmoAskResult>("molmo/ask", params);
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    return error as ResponseError<{ code: string }>;
  }
  assert.fail(`molmo/ask ${JSON.stringify(params).slice(0, 200)} should have failed`);
}

void describe("molmo/ask over LSP", { timeout: 120_000 }, () => {
  let session: LspSession;
  before(async () => {
    session = startSession();
    await session.initialize();
  });
  after(() => {
    session.kill();
    assertNoInternalErrors(session);
  });

  void it("streams the answer as partial results and reports work-done progress, then returns the whole answer", async () => {
    const deltas: MolmoAskPartialResult[] = [];
    const progress: Array<WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd> = [];
    session.connection.onProgress(new ProgressType<MolmoAskPartialResult>(), "partial-1", (value) => void deltas.push(value));
    session.connection.onProgress(WorkDoneProgress.type, "work-1", (value) => void progress.push(value));
    const documentUri = pathToFileURL(join(session.workspace, "notes", "doc.md")).href;
    const result = await session.connection.sendRequest<MolmoAskResult>("molmo/ask", {
      image: "../images/shot.png",
      documentUri,
      question: "What is in this picture?",
      options: { maxNewTokens: 12 },
      workDoneToken: "work-1",
      partialResultToken: "partial-1",
    });
    assert.equal(result.generatedTokens, 12);
    assert.equal(result.stopReason, "max_new_tokens");
    assert.equal(result.ep, "cpu");
    assert.equal(result.task, "ask");
    assert.equal(result.image.path, session.imagePath, "the relative path resolves against the document's folder");
    assert.deepEqual({ width: result.image.width, height: result.image.height }, { width: 500, height: 300 });
    assert.ok(deltas.length >= 2, `several partial results, got ${deltas.length}`);
    assert.equal(deltas.map((delta) => delta.textDelta).join(""), result.text, "the partial results add up to the answer");
    assert.equal(progress[0]?.kind, "begin");
    assert.equal(progress[0].cancellable, true);
    assert.equal(progress.at(-1)?.kind, "end");
    const messages = progress.filter((value): value is WorkDoneProgressReport => value.kind === "report").map((value) => value.message);
    assert.ok(messages.some((message) => message?.startsWith("Loading the model")), messages.join(" | "));
    assert.ok(messages.includes("Generating"), messages.join(" | "));
  });

  void it("cancels a long generation when the client cancels, and answers the next request normally", async () => {
    const deltas: string[] = [];
    const source = cancellable();
    session.connection.onProgress(new ProgressType<MolmoAskPartialResult>(), "partial-long", (value) => {
      deltas.push(value.textDelta);
      if (deltas.length === 3) {
        source.cancel();
      }
    });
    const started = Date.now();
    const failure = await session.connection
      .sendRequest<MolmoAskResult>("molmo/ask", { image: session.imagePath, task: "caption", options: { maxNewTokens: 2048 }, partialResultToken: "partial-long" }, source.token)
      .then(
        () => assert.fail("the cancelled request resolved"),
        (error: unknown) => error as ResponseError<{ code: string }>,
      );
    const elapsed = Date.now() - started;
    assert.equal(failure.code, RequestCancelled);
    assert.equal(failure.data?.code, "cancelled");
    // 2048 tokens take several seconds on the tiny model; a honoured cancel stops after a handful.
    assert.ok(deltas.length < 200, `generation went on after the cancel: ${deltas.length} deltas`);
    assert.ok(elapsed < 4000, `the cancel took ${elapsed} ms`);
    const next = await session.connection.sendRequest<MolmoAskResult>("molmo/ask", { image: session.imagePath, question: "And now?", options: { maxNewTokens: 4 } });
    assert.equal(next.generatedTokens, 4);
    assert.equal(next.cache, "hit", "the image features were cached by the earlier requests");
  });

  void it("refuses an image outside the workspace, a remote image, and reports a deleted file clearly", async () => {
    const outside = mkdtempSync(join(tmpdir(), "molmo-lsp-outside-"));
    try {
      const outsideImage = join(outside, "secret.png");
      copyFileSync(join(tinyMolmoDir(), "image.png"), outsideImage);
      const refused = await askError(session, { image: outsideImage, question: "What?" });
      assert.equal(refused.code, RequestFailed);
      assert.equal(refused.data?.code, "outside_workspace");
      assert.match(refused.message, /outside the workspace/);
      assert.match(refused.message, /molmo\.images\.allowOutsideWorkspace/);
      const escape = await askError(session, { image: "../" + outside.split("/").pop() + "/secret.png", question: "What?" });
      assert.equal(escape.data?.code, "outside_workspace", "a relative path climbing out is refused too");
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
    const remote = await askError(session, { image: "https://example.com/shot.png", question: "What?" });
    assert.equal(remote.data?.code, "remote_image_refused");
    const gone = join(session.workspace, "images", "gone.png");
    copyFileSync(session.imagePath, gone);
    rmSync(gone);
    const missing = await askError(session, { image: gone, question: "What?" });
    assert.equal(missing.code, RequestFailed);
    assert.equal(missing.data?.code, "image_not_found");
    assert.match(missing.message, /gone\.png' does not exist/);
    const status = await session.connection.sendRequest<MolmoStatus>("molmo/status");
    assert.equal(status.state, "ready", "failed requests leave the server ready");
  });

  void it("answers malformed parameters with InvalidParams and the host's bad_request code", async () => {
    for (const params of [{ question: "no image" }, { image: session.imagePath, question: 7 }, { image: session.imagePath, task: "dance" }, { image: session.imagePath, question: "x", options: { maxNewTokens: "many" } }, { image: session.imagePath }]) {
      const error = await askError(session, params);
      assert.equal(error.code, InvalidParams, JSON.stringify(params));
      assert.equal(error.data?.code, "bad_request");
    }
  });

  void it("accepts images from a workspace folder added later, and refuses them again once it is removed", async () => {
    const added = mkdtempSync(join(tmpdir(), "molmo-lsp-added-"));
    try {
      const image = join(added, "later.png");
      copyFileSync(join(tinyMolmoDir(), "image.png"), image);
      const folder = { uri: pathToFileURL(added).href, name: "added" };
      await session.connection.sendNotification("workspace/didChangeWorkspaceFolders", { event: { added: [folder], removed: [] } });
      const answer = await session.connection.sendRequest<MolmoAskResult>("molmo/ask", { image: "later.png", question: "What?", options: { maxNewTokens: 2 } });
      assert.equal(answer.image.path, image, "a relative path is also looked up in the new folder");
      await session.connection.sendNotification("workspace/didChangeWorkspaceFolders", { event: { added: [], removed: [folder] } });
      assert.equal((await askError(session, { image, question: "What?" })).data?.code, "outside_workspace");
    } finally {
      rmSync(added, { recursive: true, force: true });
    }
  });

  void it("reports status, models and status changes, and refuses a model folder that is not a bundle", async () => {
    const status = await session.connection.sendRequest<MolmoStatus>("molmo/status");
    assert.equal(status.state, "ready");
    assert.equal(status.ep, "cpu");
    assert.equal(status.model?.variant, "molmo-qwen2");
    const states = new Set(session.statuses().map((change) => change.state));
    for (const state of ["loading", "ready", "busy"] as const) {
      assert.ok(states.has(state), `molmo/statusChanged reported ${[...states].join(", ")}`);
    }
    const models = await session.connection.sendRequest<MolmoModelsResult>("molmo/models");
    assert.equal(models.models.length, 1);
    assert.equal(models.models[0].selected, true);
    assert.equal(models.models[0].loaded, true);
    const failure = await session.connection.sendRequest("molmo/selectModel", { path: session.workspace }).then(
      () => assert.fail("selecting a folder without a bundle succeeded"),
      (error: unknown) => error as ResponseError<{ code: string }>,
    );
    assert.equal(failure.data?.code, "model_load_failed");
    assert.match(failure.message, /not a Molmo model bundle/);
  });

  void it("switches the model when molmo.model.path changes, and says so when the new path is not a bundle", async () => {
    const other = makeTinyBundle();
    const since = session.notifications.length;
    await session.connection.sendNotification("workspace/didChangeConfiguration", { settings: { molmo: { model: { path: other } } } });
    await session.waitForNotification<MolmoStatus>("molmo/statusChanged", (status) => status.model?.path === other, { since });
    const answer = await session.connection.sendRequest<MolmoAskResult>("molmo/ask", { image: session.imagePath, question: "What?", options: { maxNewTokens: 2 } });
    assert.equal(answer.model.path, other);
    await session.connection.sendNotification("workspace/didChangeConfiguration", { settings: { molmo: { model: { path: session.workspace } } } });
    const shown = await session.waitForNotification<{ type: number; message: string }>("window/showMessage", (params) => /not a Molmo model bundle/.test(params.message), { since });
    assert.equal(shown.type, 1, "an error message");
    assert.equal((await session.connection.sendRequest<MolmoStatus>("molmo/status")).model?.path, other, "a bad path leaves the model as it was");
  });
});
