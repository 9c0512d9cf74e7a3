/**
 * The status bar item: model · execution provider · state (status-text.ts says what), updated from the
 * context's state changes (`molmo/statusChanged`); a click opens the quick pick of Molmo's commands.
 */
import * as vscode from "vscode";
import { MolmoCommands } from "../commands/command-ids";
import type { MolmoContext } from "../context";
import { statusPresentation } from "./status-text";

/** Creates the item and keeps it up to date; dispose to remove it. */
export function createStatusBarItem(ctx: MolmoContext): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("molmo.status", vscode.StatusBarAlignment.Right, 100);
  item.name = "Molmo";
  item.command = MolmoCommands.statusMenu;
  const update = (): void => {
    const presentation = statusPresentation(ctx.phase, ctx.status);
    item.text = presentation.text;
    item.tooltip = presentation.tooltip;
    item.backgroundColor =
      presentation.severity === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : presentation.severity === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
  };
  update();
  item.show();
  const subscription = ctx.onDidChangeState(update);
  return vscode.Disposable.from(item, subscription);
}
