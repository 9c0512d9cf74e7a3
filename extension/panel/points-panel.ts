/**
 * The points panel: one WebviewPanel beside the editor, reused for every image (webview-sample's
 * `createOrShow`). One panel rather than one per image because molmo-server answers one question at a time
 * anyway, and a single panel keeps the editor area tidy; asking about another image replaces its content.
 *
 * Security (webview/html.ts renders the page): scripts only with a fresh nonce from `crypto.randomBytes`,
 * `localResourceRoots` limited to the built webview (dist/webview) and the shown image's folder, every
 * resource through `asWebviewUri`. The panel's logic lives in panel-controller.ts; this file is the glue to
 * VS Code (clipboard, save dialog, notifications, the language client).
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { renderWebviewHtml } from "../../webview/html";
import type { ImageSource } from "../commands/image-target";
import type { MolmoContext } from "../context";
import { notifyError } from "../errors/notify";
import { PanelController, type PanelImage } from "./panel-controller";

/** The webview panel's view type. */
export const POINTS_VIEW_TYPE = "molmo.points";

/** Largest image sent to the server inline (read by the extension) rather than by path. */
const MAX_INLINE_IMAGE_BYTES = 50 * 1024 * 1024;

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  avif: "image/avif",
};

/** See the file comment. */
export class PointsPanel implements vscode.Disposable {
  private static current: PointsPanel | undefined;

  readonly controller: PanelController;
  private readonly disposables: vscode.Disposable[] = [];
  private imageRoot: vscode.Uri | undefined;
  private disposed = false;

  /** The open panel, if any. */
  static get active(): PointsPanel | undefined {
    return PointsPanel.current;
  }

  /** Shows the panel (creating it if needed) with an image. */
  static async show(ctx: MolmoContext, source: ImageSource): Promise<PointsPanel> {
    let panel = PointsPanel.current;
    if (panel === undefined) {
      panel = new PointsPanel(ctx);
      PointsPanel.current = panel;
    } else {
      panel.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    await panel.setImage(source);
    return panel;
  }

  private readonly panel: vscode.WebviewPanel;

  private constructor(private readonly ctx: MolmoContext) {
    this.panel = vscode.window.createWebviewPanel(
      POINTS_VIEW_TYPE,
      "Molmo",
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      this.webviewOptions(undefined),
    );
    const webview = this.panel.webview;
    this.controller = new PanelController(
      {
        post: (message) => webview.postMessage(message),
        copyToClipboard: (text) => vscode.env.clipboard.writeText(text),
        savePng: (bytes, name) => this.savePng(bytes, name),
        generationOptions: () => ctx.settings.generation,
        imageShown: (image) => {
          this.panel.title = `Molmo: ${image.fileName}`;
        },
        reportError: (error) => notifyError(error, ctx.log),
        log: (level, message) => ctx.log[level](message),
      },
      ctx,
    );
    this.disposables.push(
      webview.onDidReceiveMessage((message: unknown) => {
        this.controller.receive(message).catch((error: unknown) => ctx.log.error(`Points panel: ${String(error)}`));
      }),
      ctx.onDidChangeState(() => this.controller.setEngineStatus(ctx.status)),
      this.panel.onDidDispose(() => this.dispose()),
    );
    this.renderHtml();
    this.controller.setEngineStatus(ctx.status);
  }

  /** The panel's title, e.g. "Molmo: screenshot.png". */
  get title(): string {
    return this.panel.title;
  }

  /** Shows an image (a new image clears the answer). */
  async setImage(source: ImageSource): Promise<void> {
    // The controller's host names the image in the panel's title (imageShown).
    this.controller.showImage(await this.panelImage(source));
  }

  private async panelImage(source: ImageSource): Promise<PanelImage> {
    if (source.kind === "data") {
      return { serverImage: source.dataUri, webviewUri: source.dataUri, fileName: source.name };
    }
    const { uri } = source;
    const fileName = uri.path.split("/").pop() ?? "image";
    if (uri.scheme !== "file") {
      // A virtual file system: molmo-server cannot open it, so the extension reads it and sends the bytes.
      const dataUri = await readAsDataUri(uri);
      return { serverImage: dataUri, webviewUri: dataUri, fileName };
    }
    this.allowImageFolder(vscode.Uri.joinPath(uri, ".."));
    const webviewUri = this.panel.webview.asWebviewUri(uri).toString();
    if (source.documentUri !== undefined) {
      // Linked from a document: the server resolves and checks the path (workspace, allowOutsideWorkspace).
      return { serverImage: uri.fsPath, webviewUri, fileName, documentUri: source.documentUri.toString() };
    }
    if (vscode.workspace.getWorkspaceFolder(uri) !== undefined) {
      return { serverImage: uri.fsPath, webviewUri, fileName };
    }
    // The user chose a file outside the workspace (open dialog, an editor tab): that choice is theirs, so the
    // extension reads it and sends the bytes, instead of widening what the server may read by path.
    return { serverImage: await readAsDataUri(uri), webviewUri, fileName };
  }

  private allowImageFolder(folder: vscode.Uri): void {
    if (this.imageRoot?.toString() === folder.toString()) {
      return;
    }
    this.imageRoot = folder;
    this.panel.webview.options = this.webviewOptions(folder);
  }

  private webviewOptions(imageFolder: vscode.Uri | undefined): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    const webviewAssets = vscode.Uri.joinPath(this.ctx.extension.extensionUri, "dist", "webview");
    return {
      enableScripts: true,
      localResourceRoots: imageFolder !== undefined ? [webviewAssets, imageFolder] : [webviewAssets],
      // The webview keeps its own state (getState/setState) and the controller replays the answer on
      // `ready`, so a hidden panel need not stay in memory.
      retainContextWhenHidden: false,
    };
  }

  private renderHtml(): void {
    const webview = this.panel.webview;
    const assets = vscode.Uri.joinPath(this.ctx.extension.extensionUri, "dist", "webview");
    webview.html = renderWebviewHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(18).toString("base64"),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(assets, "main.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(assets, "main.css")).toString(),
      title: "Molmo",
    });
  }

  private async savePng(bytes: Uint8Array, suggestedName: string): Promise<string | undefined> {
    const image = this.controller.currentImage;
    const folder =
      image !== undefined && !image.serverImage.startsWith("data:")
        ? vscode.Uri.joinPath(vscode.Uri.file(image.serverImage), "..")
        : (vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(this.ctx.extension.globalStorageUri.fsPath));
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(folder, suggestedName),
      filters: { "PNG image": ["png"] },
      title: "Save the annotated image",
    });
    if (target === undefined) {
      return undefined;
    }
    await vscode.workspace.fs.writeFile(target, bytes);
    this.ctx.log.info(`Saved the annotated image to ${target.fsPath}`);
    return target.path.split("/").pop() ?? target.fsPath;
  }

  dispose(): void {
    // The panel's own onDidDispose calls this again.
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (PointsPanel.current === this) {
      PointsPanel.current = undefined;
    }
    this.controller.dispose();
    this.disposables.forEach((disposable) => {
        disposable.dispose();
      });
    this.disposables.length = 0;
    this.panel.dispose();
  }
}

/** Reads an image through VS Code's file system API into a `data:` URI. */
async function readAsDataUri(uri: vscode.Uri): Promise<string> {
  const stat = await vscode.workspace.fs.stat(uri);
  if (stat.size > MAX_INLINE_IMAGE_BYTES) {
    throw Object.assign(new Error(`${uri.path.split("/").pop() ?? "The image"} is larger than ${MAX_INLINE_IMAGE_BYTES / 1024 / 1024} MB.`), {
      code: "bad_image",
    });
  }
  const bytes = await vscode.workspace.fs.readFile(uri);
  const extension = uri.path.split(".").pop()?.toLowerCase() ?? "";
  const mime = MIME_BY_EXTENSION[extension] ?? "application/octet-stream";
  return `data:${mime};base64,${Buffer.from(bytes).toString("base64")}`;
}
