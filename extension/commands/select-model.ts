/**
 * Select Model…: a quick pick of the bundles molmo-server knows (`molmo/models`) plus "Browse…" for a
 * folder. The choice is checked by the server first (`molmo/selectModel` validates the bundle) and then
 * saved in `molmo.model.path` — in the user's settings, because a model bundle is a property of the
 * machine, not of a project (and a workspace value would be ignored in untrusted workspaces anyway).
 */
import * as vscode from "vscode";
import type { MolmoModelInfo } from "../../server/protocol/molmo-protocol";
import { loadClientKit } from "../client/load-client-kit";
import type { MolmoContext } from "../context";
import { notifyError } from "../errors/notify";

interface ModelPick extends vscode.QuickPickItem {
  readonly path?: string;
  readonly browse?: true;
}

/** Runs the Select Model… flow; returns the chosen bundle path, or undefined when cancelled or refused. */
export async function selectModel(ctx: MolmoContext): Promise<string | undefined> {
  let models: readonly MolmoModelInfo[] = [];
  try {
    const client = await ctx.getClient();
    models = (await client.sendRequest(loadClientKit().ModelsRequest)).models;
  } catch (error) {
    // Without a server there is no list, but a folder can still be chosen.
    ctx.log.warn(`molmo/models failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const picks: ModelPick[] = models.map((model) => ({
    label: `${model.selected ? "$(check) " : ""}${model.name}`,
    description: `${model.variant} · ${model.dtype} · ${formatBytes(model.bytes)}${model.loaded ? " · loaded" : ""}`,
    detail: model.path,
    path: model.path,
  }));
  picks.push({ label: "$(folder-opened) Browse…", description: "an exported Molmo bundle folder", browse: true });
  const picked = await vscode.window.showQuickPick(picks, { title: "Molmo: select a model bundle", placeHolder: "A folder made by `molmo export`" });
  if (picked === undefined) {
    return undefined;
  }
  const path = picked.browse === true ? await browseForBundle() : picked.path;
  if (path === undefined) {
    return undefined;
  }
  try {
    const client = await ctx.getClient();
    await client.sendRequest(loadClientKit().SelectModelRequest, { path });
  } catch (error) {
    notifyError(error, ctx.log);
    return undefined;
  }
  await saveModelPath(path);
  ctx.log.info(`Model selected: ${path}`);
  return path;
}

async function browseForBundle(): Promise<string | undefined> {
  const folders = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: "Use this model",
    title: "Molmo: choose an exported model bundle folder (config.json, onnx/…)",
  });
  return folders?.[0]?.fsPath;
}

/** Saves the path where it takes effect: the workspace if a trusted workspace sets its own, else the user. */
async function saveModelPath(path: string): Promise<void> {
  const configuration = vscode.workspace.getConfiguration("molmo");
  const inspection = configuration.inspect<string>("model.path");
  const target =
    vscode.workspace.isTrusted && inspection?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await configuration.update("model.path", path, target);
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}
