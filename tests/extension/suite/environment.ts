/**
 * What the extension-host tests share: the extension and its API, the workspace, the fixture image and the
 * tiny model. The harnesses (tests/e2e/run-extension-suite.ts and run-test-electron.ts) open a temporary
 * workspace holding image.png and settings for the tiny model and pass MOLMO_TEST_WORKSPACE,
 * MOLMO_TEST_IMAGE and MOLMO_TEST_MODEL_PATH; what is missing is made here, so the suite also runs from a
 * plain "Extension Tests" launch.
 */
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { MolmoExtensionApi } from "../../../extension/api";
import { makeTinyBundle, tinyMolmoDir } from "../../helpers/tiny-bundle";

/** `publisher.name` of package.json. */
export const EXTENSION_ID = "molmo-vscode.molmo-vscode";

/**
 * The random-weight model answers noise; an answer that starts with this point tag gives one point at
 * 20 % / 50 % of the 500 x 300 fixture image: (100, 150) pixels.
 */
export const POINT_PREFIX = '<point x="20.0" y="50.0" alt="red circle">red circle</point>';
export const EXPECTED_POINT = { x: 100, y: 150 };

/** The Molmo extension (installed or under development). */
export function molmoExtension(): vscode.Extension<MolmoExtensionApi> {
  const extension = vscode.extensions.getExtension<MolmoExtensionApi>(EXTENSION_ID);
  if (extension === undefined) {
    throw new Error(`${EXTENSION_ID} is not loaded in this extension host`);
  }
  return extension;
}

/** The extension's API, activating it if needed. */
export async function molmoApi(): Promise<MolmoExtensionApi> {
  return molmoExtension().activate();
}

/** The first workspace folder; the harnesses always open one. */
export function workspaceFolder(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder === undefined) {
    throw new Error("no workspace folder is open: run the suite through tests/e2e/run-extension-suite.ts or run-test-electron.ts");
  }
  return folder.uri;
}

/** The fixture image inside the workspace (copied there when the harness did not). */
export function fixtureImage(): vscode.Uri {
  const given = process.env.MOLMO_TEST_IMAGE;
  if (given !== undefined && existsSync(given)) {
    return vscode.Uri.file(given);
  }
  const target = join(workspaceFolder().fsPath, "image.png");
  if (!existsSync(target)) copyFileSync(join(tinyMolmoDir(), "image.png"), target);
  return vscode.Uri.file(target);
}

/** Makes sure molmo.model.path names a tiny bundle on the CPU; returns the path. */
export async function ensureTinyModel(): Promise<string> {
  const configuration = vscode.workspace.getConfiguration("molmo");
  const configured = configuration.get<string>("model.path");
  if (configured !== undefined && configured !== "" && existsSync(configured)) {
    return configured;
  }
  const path = process.env.MOLMO_TEST_MODEL_PATH !== undefined && existsSync(process.env.MOLMO_TEST_MODEL_PATH) ? process.env.MOLMO_TEST_MODEL_PATH : makeTinyBundle();
  await configuration.update("model.path", path, vscode.ConfigurationTarget.Global);
  await configuration.update("executionProvider", "cpu", vscode.ConfigurationTarget.Global);
  return path;
}

/** The open tab of the points panel, if any. */
export function pointsPanelTab(): vscode.Tab | undefined {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .find((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith("molmo.points"));
}
