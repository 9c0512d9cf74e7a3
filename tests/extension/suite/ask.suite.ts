/**
 * The ask path end to end in the extension host: "Point at…" on the fixture image starts molmo-server, loads
 * the tiny model, opens the points webview beside the editor, and the webview receives the answer with its
 * point at the right pixels; the status follows (model · cpu · ready); a restart brings the server back.
 */
import assert from "node:assert/strict";
import * as vscode from "vscode";
import type { MolmoAskResult } from "../../../server/protocol/molmo-protocol";
import type { HostToViewMessage } from "../../../webview/protocol";
import { MolmoCommands } from "../../../extension/commands/command-ids";
import { EXPECTED_POINT, POINT_PREFIX, ensureTinyModel, fixtureImage, molmoApi, pointsPanelTab } from "./environment";
import { waitFor, type ExtensionSuite } from "./runner";

function assertPoint(result: MolmoAskResult): void {
  assert.equal(result.points.length, 1, `one point in ${JSON.stringify(result.text)}`);
  const [point] = result.points;
  assert.ok(point !== undefined);
  assert.ok(Math.abs(point.x - EXPECTED_POINT.x) < 0.5 && Math.abs(point.y - EXPECTED_POINT.y) < 0.5, `point at ${point.x}, ${point.y}`);
  assert.equal(point.label, "red circle");
}

export const askSuite: ExtensionSuite = {
  name: "ask",
  tests: [
    {
      name: "Point at… on the fixture image answers with the point, and the webview receives it",
      timeoutMs: 90_000,
      body: async () => {
        const api = await molmoApi();
        const modelPath = await ensureTinyModel();
        const image = fixtureImage();
        const started = performance.now();
        const result = await vscode.commands.executeCommand<MolmoAskResult | undefined>(MolmoCommands.pointAt, image, {
          question: "red circle",
          options: { maxNewTokens: 3, answerPrefix: POINT_PREFIX },
        });
        console.log(`  first question (server start + model load + answer): ${(performance.now() - started).toFixed(0)} ms`);
        assert.ok(result !== undefined, "the command returned an answer (see the Molmo log for why not)");
        assertPoint(result);
        assert.equal(result.ep, "cpu");
        assert.equal(result.model.path, modelPath);
        assert.equal(result.image.width, 500);
        assert.equal(result.image.height, 300);

        const tab = pointsPanelTab();
        assert.ok(tab !== undefined, "the points panel is open");
        assert.equal(tab.label, "Molmo: image.png");

        const panel = api.testing.activePanel();
        assert.ok(panel !== undefined);
        await waitFor("the webview's script to say ready", () => (panel.webviewReadyCount > 0 ? true : undefined), 20_000);
        // The answer reaches the webview either live or in the replay that follows its `ready`.
        const done = await waitFor("the answer with its point to be delivered to the webview", () =>
          panel.postedMessages.find(
            (record): record is { message: Extract<HostToViewMessage, { type: "answerDone" }>; delivered: true } =>
              record.delivered === true && record.message.type === "answerDone" && record.message.result.points.length === 1,
          ),
        );
        assert.deepEqual(done.message.result.points, result.points);
        assert.ok(
          panel.postedMessages.some((record) => record.delivered === true && record.message.type === "showImage" && record.message.uri.includes("image.png")),
          "the image was shown through a webview URI",
        );
        assert.ok(panel.receivedMessages.some((message) => message.type === "ready"));
      },
    },
    {
      name: "the status reports the loaded model on the CPU, and a second question reuses the image features",
      body: async () => {
        const api = await molmoApi();
        const status = await waitFor("a ready status", () => (api.status()?.state === "ready" ? api.status() : undefined));
        assert.equal(status.ep, "cpu");
        assert.equal(api.testing.clientPhase(), "running");
        const again = await vscode.commands.executeCommand<MolmoAskResult | undefined>(MolmoCommands.count, fixtureImage(), {
          question: "red circles",
          options: { maxNewTokens: 2, answerPrefix: POINT_PREFIX },
        });
        assert.ok(again !== undefined);
        assert.equal(again.task, "count");
        assert.equal(again.cache, "hit");
        assertPoint(again);
      },
    },
    {
      name: "Restart Server brings molmo-server back",
      body: async () => {
        const api = await molmoApi();
        await vscode.commands.executeCommand(MolmoCommands.restartServer);
        assert.equal(api.testing.clientPhase(), "running");
        const status = await waitFor("a status from the new server", () => api.status());
        assert.notEqual(status.model, undefined, "the new server got the model setting");
        const result = await vscode.commands.executeCommand<MolmoAskResult | undefined>(MolmoCommands.pointAt, fixtureImage(), {
          question: "red circle",
          options: { maxNewTokens: 1, answerPrefix: POINT_PREFIX },
        });
        assert.ok(result !== undefined);
        assertPoint(result);
      },
    },
  ],
};
