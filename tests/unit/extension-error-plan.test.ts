/**
 * Failed requests → notifications (extension/errors/error-plan.ts), the restart policy after crashes
 * (extension/client/restart-policy.ts) and the status bar text (extension/status/status-text.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResponseError } from "vscode-jsonrpc";
import { RestartPolicy } from "../../extension/client/restart-policy";
import { MolmoCommands } from "../../extension/commands/command-ids";
import { REQUEST_CANCELLED, errorCodeOf, planForError } from "../../extension/errors/error-plan";
import { statusPresentation } from "../../extension/status/status-text";
import type { MolmoStatus } from "../../server/protocol/molmo-protocol";

void test("the server's error code comes from data.code; LSP cancellations count as cancelled", () => {
  assert.equal(errorCodeOf(new ResponseError(-32803, "No model", { code: "no_model" })), "no_model");
  assert.equal(errorCodeOf(new ResponseError(REQUEST_CANCELLED, "cancelled")), "cancelled");
  assert.equal(errorCodeOf(Object.assign(new Error("x"), { code: "empty_question" })), "empty_question");
  assert.equal(errorCodeOf(new Error("plain")), undefined);
  assert.equal(errorCodeOf("a string"), undefined);
});

void test("no model configured → an error with Select Model…", () => {
  const plan = planForError(new ResponseError(-32803, "No model is configured.", { code: "no_model" }));
  assert.equal(plan.severity, "error");
  assert.equal(plan.code, "no_model");
  assert.match(plan.message, /No Molmo model is configured/);
  assert.deepEqual(plan.actions, [{ title: "Select Model…", command: MolmoCommands.selectModel }]);
});

void test("each code gets its action; cancellations stay silent", () => {
  const action = (code: string): string[] => planForError(new ResponseError(-32803, `m ${code}`, { code })).actions.map((a) => a.title);
  assert.deepEqual(action("model_load_failed"), ["Select Model…", "Show Log"]);
  assert.deepEqual(action("outside_workspace"), ["Open Setting"]);
  assert.deepEqual(planForError(new ResponseError(-32803, "m", { code: "outside_workspace" })).actions[0]?.args, ["molmo.images.allowOutsideWorkspace"]);
  assert.deepEqual(planForError(new ResponseError(-32803, "m", { code: "remote_image_refused" })).actions[0]?.args, ["molmo.images.allowRemote"]);
  assert.equal(planForError(new ResponseError(-32803, "busy", { code: "busy" })).severity, "warning");
  assert.equal(planForError(new ResponseError(REQUEST_CANCELLED, "x")).severity, "none");
  const unknown = planForError(new Error("socket hang up"));
  assert.equal(unknown.code, "internal");
  assert.equal(unknown.message, "Molmo failed: socket hang up");
  assert.deepEqual(unknown.actions.map((a) => a.command), [MolmoCommands.showLog]);
  // The server's own sentence (what to change) is shown as it is for user-fixable errors.
  assert.equal(planForError(new ResponseError(-32602, "The image x.png does not exist.", { code: "image_not_found" })).message, "The image x.png does not exist.");
});

void test("a crashing server is restarted up to four times in three minutes, then left down", () => {
  let now = 0;
  const policy = new RestartPolicy(4, 180_000, () => now);
  for (let crash = 1; crash <= 4; crash += 1) {
    now += 1000;
    assert.equal(policy.recordCrash(), true, `crash ${crash} is restarted`);
  }
  now += 1000;
  assert.equal(policy.recordCrash(), false, "the fifth crash in the window is not");
  assert.equal(policy.recentCrashes, 5);
  now += 200_000;
  assert.equal(policy.recordCrash(), true, "old crashes leave the window");
  policy.reset();
  assert.equal(policy.recentCrashes, 0);
});

const status = (overrides: Partial<MolmoStatus>): MolmoStatus => ({
  state: "ready",
  requestedEp: "auto",
  queue: { running: 0, waiting: 0, limit: 16 },
  model: { name: "molmo-7b-d-int4", path: "/models/molmo-7b-d-int4", variant: "molmo-7b-d", dtype: "int4" },
  ep: "webgpu",
  ...overrides,
});

void test("status bar: model · EP · state, and the client's own phases", () => {
  assert.equal(statusPresentation("running", status({})).text, "$(eye) molmo-7b-d-int4 · webgpu · ready");
  assert.equal(statusPresentation("running", status({ state: "busy", queue: { running: 1, waiting: 2, limit: 16 } })).text, "$(loading~spin) molmo-7b-d-int4 · webgpu · busy (+2)");
  const unloaded = statusPresentation("running", status({ state: "unloaded", ep: undefined, requestedEp: "cpu" }));
  assert.equal(unloaded.text, "$(eye) molmo-7b-d-int4 · cpu · idle");
  assert.match(unloaded.tooltip, /cpu \(not loaded yet\)/);
  const failed = statusPresentation("running", status({ state: "error", error: { code: "model_load_failed", message: "bad onnx" } }));
  assert.equal(failed.severity, "error");
  assert.match(failed.tooltip, /model_load_failed\): bad onnx/);
  assert.equal(statusPresentation("running", status({ model: undefined })).text, "$(circle-slash) Molmo: no model");
  assert.equal(statusPresentation("idle", undefined).text, "$(eye) Molmo");
  assert.equal(statusPresentation("failed", undefined).severity, "error");
  assert.equal(statusPresentation("stopped", status({})).severity, "warning");
});
