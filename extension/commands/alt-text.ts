/**
 * Generate Alt Text. On an image link in Markdown it applies molmo-server's own code action ("Generate alt
 * text with Molmo"): the server owns the prompt and the escaping, the extension only finds and applies the
 * action. On an image file it runs Describe Image in the panel and copies the answer to the clipboard.
 */
import * as vscode from "vscode";
import type { MolmoAskResult } from "../../server/protocol/molmo-protocol";
import type { MolmoContext } from "../context";
import { imageLinkUnderCursor } from "./image-target";

/** How many code actions VS Code resolves (edits computed) when asked for them. */
const RESOLVE_COUNT = 10;

/** Result of Generate Alt Text on a Markdown link: whether an edit was applied. */
export type AltTextOutcome = "applied" | "no_action" | "not_on_link";

/** Applies the server's alt-text code action to the image link under the cursor. */
export async function generateAltTextInMarkdown(ctx: MolmoContext, editor: vscode.TextEditor): Promise<AltTextOutcome> {
  const found = imageLinkUnderCursor(editor);
  if (found === undefined) {
    return "not_on_link";
  }
  // The code action provider is the language client's: the server must be running.
  await ctx.getClient();
  const line = editor.selection.active.line;
  const range = new vscode.Range(line, found.link.start, line, found.link.end);
  const actions = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "Molmo is writing alt text…" },
    () =>
      vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[] | undefined>(
        "vscode.executeCodeActionProvider",
        editor.document.uri,
        range,
        vscode.CodeActionKind.QuickFix.value,
        RESOLVE_COUNT,
      ),
  );
  const action = (actions ?? []).find(isMolmoAltTextAction);
  if (action === undefined) {
    return "no_action";
  }
  if (action.edit !== undefined) {
    await vscode.workspace.applyEdit(action.edit);
  }
  if (action.command !== undefined) {
    await vscode.commands.executeCommand(action.command.command, ...((action.command.arguments as unknown[] | undefined) ?? []));
  }
  return "applied";
}

function isMolmoAltTextAction(candidate: vscode.CodeAction | vscode.Command): candidate is vscode.CodeAction {
  // A bare Command has a string `command`; a CodeAction has a title and an edit and/or a Command object.
  if (typeof (candidate as { command?: unknown }).command === "string") {
    return false;
  }
  return /alt text/i.test(candidate.title) && /molmo/i.test(candidate.title);
}

/** Copies a caption to the clipboard as alt text and says so. */
export async function copyAltText(result: MolmoAskResult): Promise<void> {
  const text = result.text.trim().replace(/\s+/g, " ");
  await vscode.env.clipboard.writeText(text);
  void vscode.window.showInformationMessage(`Molmo: alt text copied to the clipboard (${text.length} characters).`);
}
