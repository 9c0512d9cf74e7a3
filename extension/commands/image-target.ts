/**
 * Which image a command is about: the one it was invoked on (explorer, editor title, an API/keybinding
 * argument), else the image link under the cursor of a Markdown editor, else the image shown in the active
 * editor tab, else one the user picks in an open dialog.
 */
import { dirname, isAbsolute } from "node:path";
import * as vscode from "vscode";
import type { ImageCommandArgs } from "./ask-request";
import { IMAGE_EXTENSIONS, collectReferenceDefinitions, imageLinkAt, isDataTarget, isRemoteTarget, type ImageLinkAtCursor } from "./image-link";

/** An image to show and ask about. */
export type ImageSource =
  /** A file (or a resource of another file system), and the Markdown document that linked it, if any. */
  | { readonly kind: "uri"; readonly uri: vscode.Uri; readonly documentUri?: vscode.Uri }
  /** An image inlined as a `data:` URI (a Markdown data link, or an API argument). */
  | { readonly kind: "data"; readonly dataUri: string; readonly name: string };

/** Thrown for an image the panel cannot show; the message says what to do instead. */
export class ImageTargetError extends Error {
  override readonly name = "ImageTargetError";
  constructor(readonly code: "remote_image" | "bad_request", message: string) {
    super(message);
  }
}

/** Whether a Uri names a file Molmo can read, by its extension. */
export function isImageUri(uri: vscode.Uri): boolean {
  const extension = uri.path.split(".").pop()?.toLowerCase() ?? "";
  return IMAGE_EXTENSIONS.includes(extension);
}

/** The image of a command invocation; undefined when the user cancelled the open dialog. */
export async function resolveImageSource(args: ImageCommandArgs): Promise<ImageSource | undefined> {
  if (args.uri !== undefined) {
    return { kind: "uri", uri: args.uri as vscode.Uri };
  }
  if (args.options.image !== undefined) {
    return sourceFromString(args.options.image, undefined);
  }
  const link = imageLinkUnderCursor();
  if (link !== undefined) {
    return sourceFromString(link.link.target, link.document.uri);
  }
  const tabImage = activeTabImage();
  if (tabImage !== undefined) {
    return { kind: "uri", uri: tabImage };
  }
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: "Ask Molmo",
    title: "Molmo: choose an image",
    filters: { Images: [...IMAGE_EXTENSIONS] },
    ...(vscode.workspace.workspaceFolders?.[0] !== undefined ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
  const uri = picked?.[0];
  return uri === undefined ? undefined : { kind: "uri", uri };
}

/** An image reference written in a document or passed by a caller, resolved to a source. */
function sourceFromString(target: string, documentUri: vscode.Uri | undefined): ImageSource {
  if (isDataTarget(target)) {
    return { kind: "data", dataUri: target, name: "inline-image" };
  }
  if (isRemoteTarget(target)) {
    throw new ImageTargetError(
      "remote_image",
      "Molmo's panel shows local images only; download the image into the workspace first (hovers can describe remote images when molmo.images.allowRemote is on).",
    );
  }
  if (/^file:/i.test(target)) {
    return withDocument({ kind: "uri", uri: vscode.Uri.parse(target) }, documentUri);
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(target) && !/^[a-z]:[\\/]/i.test(target)) {
    throw new ImageTargetError("bad_request", `Molmo cannot open ${target}: only files and data: URIs are supported.`);
  }
  if (documentUri !== undefined) {
    // Markdown's `/images/x.png` means the workspace folder's root, as VS Code's Markdown preview reads it;
    // other paths are relative to the document's folder.
    const folder = vscode.workspace.getWorkspaceFolder(documentUri);
    if (target.startsWith("/") && folder !== undefined) {
      return { kind: "uri", uri: vscode.Uri.joinPath(folder.uri, target), documentUri };
    }
    if (isAbsolute(target)) {
      return { kind: "uri", uri: vscode.Uri.file(target), documentUri };
    }
    return { kind: "uri", uri: vscode.Uri.joinPath(documentUri.with({ path: dirname(documentUri.path) }), target), documentUri };
  }
  if (isAbsolute(target)) {
    return { kind: "uri", uri: vscode.Uri.file(target) };
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder === undefined) {
    throw new ImageTargetError("bad_request", `The image path ${target} is relative and no folder is open.`);
  }
  return { kind: "uri", uri: vscode.Uri.joinPath(folder.uri, target) };
}

function withDocument(source: ImageSource, documentUri: vscode.Uri | undefined): ImageSource {
  return source.kind === "uri" && documentUri !== undefined ? { ...source, documentUri } : source;
}

/** The image link under the cursor of the active Markdown editor, if any. */
export function imageLinkUnderCursor(editor = vscode.window.activeTextEditor): { link: ImageLinkAtCursor; document: vscode.TextDocument } | undefined {
  if (editor === undefined || editor.document.languageId !== "markdown") {
    return undefined;
  }
  const position = editor.selection.active;
  const line = editor.document.lineAt(position.line).text;
  // Reference definitions are only collected when the line has a reference-style image at all.
  let definitions: Map<string, string> | undefined;
  const lookup = (label: string): string | undefined => {
    definitions ??= collectReferenceDefinitions(editor.document.getText().split(/\r?\n/));
    return definitions.get(label);
  };
  const link = imageLinkAt(line, position.character, lookup);
  return link === undefined ? undefined : { link, document: editor.document };
}

/** The image file shown in the active editor tab (VS Code's image preview or a custom editor), if any. */
function activeTabImage(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) {
    return isImageUri(input.uri) ? input.uri : undefined;
  }
  return undefined;
}
