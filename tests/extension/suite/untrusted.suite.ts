/**
 * Restricted Mode (an untrusted workspace): the extension still activates and answers questions about
 * images, but the workspace's own settings cannot choose what runs — its molmo.model.path is ignored
 * until the user sets one in their own settings.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { MolmoAskResult } from "../../../server/protocol/molmo-protocol";
import { MolmoCommands } from "../../../extension/commands/command-ids";
import { EXPECTED_POINT, POINT_PREFIX, fixtureImage, molmoApi, workspaceFolder } from "./environment";
import { waitFor, type ExtensionSuite } from "./runner";

async function pointAt(): Promise<MolmoAskResult | undefined> {
  return vscode.commands.executeCommand<MolmoAskResult | undefined>(MolmoCommands.pointAt, fixtureImage(), {
    question: "red circle",
    options: { maxNewTokens: 1, answerPrefix: POINT_PREFIX },
  });
}

export const untrustedSuite: ExtensionSuite = {
  name: "untrusted workspace",
  tests: [
    {
      name: "the window is in Restricted Mode and VS Code hides the workspace's model path (restrictedConfigurations)",
      body: () => {
        assert.equal(vscode.workspace.isTrusted, false, "the harness must open the folder untrusted (workspace trust on)");
        const settingsFile = join(workspaceFolder().fsPath, ".vscode", "settings.json");
        const onDisk = JSON.parse(readFileSync(settingsFile, "utf8")) as Record<string, unknown>;
        assert.equal(typeof onDisk["molmo.model.path"], "string", `${settingsFile} names a model`);
        assert.equal(vscode.workspace.getConfiguration("molmo").inspect<string>("model.path")?.workspaceValue, undefined);
      },
    },
    {
      name: "the workspace's molmo.model.path is ignored: the server runs without a model",
      timeoutMs: 60_000,
      body: async () => {
        const api = await molmoApi();
        await vscode.workspace.getConfiguration("molmo").update("model.path", undefined, vscode.ConfigurationTarget.Global);
        const result = await pointAt();
        assert.equal(result, undefined, "no answer without a model of the user's own");
        const failure = await waitFor("the panel to show why", () =>
          api.testing.activePanel()?.postedMessages.map((record) => record.message).find((message) => message.type === "answerFailed"),
        );
        assert.equal(failure.type === "answerFailed" ? failure.code : failure.type, "no_model");
        const status = await waitFor("a status", () => api.status());
        assert.equal(status.model, undefined, `the server was given no model, got ${JSON.stringify(status.model)}`);
      },
    },
    {
      name: "with a model in the user's settings, asking about the image works",
      timeoutMs: 60_000,
      body: async () => {
        const api = await molmoApi();
        const userModel = process.env.MOLMO_TEST_MODEL_PATH;
        assert.ok(userModel !== undefined, "MOLMO_TEST_MODEL_PATH names the tiny bundle");
        await vscode.workspace.getConfiguration("molmo").update("model.path", userModel, vscode.ConfigurationTarget.Global);
        await waitFor("the server to get the user's model", () => (api.status()?.model?.path === userModel ? true : undefined));
        const result = await pointAt();
        assert.ok(result !== undefined, "an answer in Restricted Mode");
        assert.equal(result.points.length, 1);
        assert.deepEqual([result.points[0]?.x, result.points[0]?.y], [EXPECTED_POINT.x, EXPECTED_POINT.y]);
        await vscode.workspace.getConfiguration("molmo").update("model.path", undefined, vscode.ConfigurationTarget.Global);
      },
    },
  ],
};
