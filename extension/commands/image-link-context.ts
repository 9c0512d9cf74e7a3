/**
 * Keeps the `molmo.onImageLink` context key in step with the cursor of the active Markdown editor, so the
 * editor's context menu offers "Ask Molmo about Image…" and "Generate Alt Text" only on image links.
 * Checking one line per selection change is cheap (a few regular expressions).
 */
import * as vscode from "vscode";
import { CONTEXT_ON_IMAGE_LINK } from "./command-ids";
import { imageLinkUnderCursor } from "./image-target";

/** Starts tracking; dispose to stop. */
export function trackImageLinkContext(): vscode.Disposable {
  let current = false;
  const update = (editor: vscode.TextEditor | undefined): void => {
    const onLink = editor !== undefined && imageLinkUnderCursor(editor) !== undefined;
    if (onLink !== current) {
      current = onLink;
      void vscode.commands.executeCommand("setContext", CONTEXT_ON_IMAGE_LINK, onLink);
    }
  };
  update(vscode.window.activeTextEditor);
  return vscode.Disposable.from(
    vscode.window.onDidChangeTextEditorSelection((event) => update(event.textEditor)),
    vscode.window.onDidChangeActiveTextEditor(update),
  );
}
