/**
 * Reads the `molmo` section from VS Code into {@link ExtensionSettings} (settings.ts does the normalising).
 */
import { homedir } from "node:os";
import * as vscode from "vscode";
import { readExtensionSettings, type ExtensionSettings, type SettingInspection } from "./settings";

/** The `molmo.*` settings now, with workspace trust applied. */
export function currentSettings(): ExtensionSettings {
  const configuration = vscode.workspace.getConfiguration("molmo");
  const folder = vscode.workspace.workspaceFolders?.[0];
  return readExtensionSettings(
    { inspect: (key: string): SettingInspection | undefined => configuration.inspect(key) },
    {
      trusted: vscode.workspace.isTrusted,
      homeDir: homedir(),
      ...(folder !== undefined && folder.uri.scheme === "file" ? { workspaceFolder: folder.uri.fsPath } : {}),
    },
  );
}
