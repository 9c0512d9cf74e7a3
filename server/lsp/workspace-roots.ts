/**
 * Where URIs become file paths, and which folders are "the workspace": the folders of `initialize`
 * (`workspaceFolders`, else `rootUri`, else the deprecated `rootPath`), kept up to date by
 * `workspace/didChangeWorkspaceFolders`. Images are resolved and confined against these folders.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { InitializeParams, WorkspaceFoldersChangeEvent } from "vscode-languageserver/node";

/** The workspace folders as file paths. */
export class WorkspaceRoots {
  private folders: string[] = [];

  /** Takes the folders `initialize` announced. */
  initialize(params: Pick<InitializeParams, "workspaceFolders" | "rootUri" | "rootPath">): void {
    if (Array.isArray(params.workspaceFolders) && params.workspaceFolders.length > 0) {
      this.folders = uniquePaths(params.workspaceFolders.map((folder) => uriToPath(folder.uri)));
    } else if (typeof params.rootUri === "string") {
      this.folders = uniquePaths([uriToPath(params.rootUri)]);
    } else if (typeof params.rootPath === "string" && params.rootPath !== "") {
      this.folders = [params.rootPath];
    }
  }

  /** Applies a `workspace/didChangeWorkspaceFolders` event. */
  change(event: WorkspaceFoldersChangeEvent): void {
    const removed = new Set(event.removed.map((folder) => uriToPath(folder.uri)));
    this.folders = uniquePaths([...this.folders.filter((folder) => !removed.has(folder)), ...event.added.map((folder) => uriToPath(folder.uri))]);
  }

  /** The folders, first one first (relative model paths resolve against it). */
  paths(): readonly string[] {
    return this.folders;
  }
}

/**
 * The file path of a `file:` URI; undefined for other schemes (`untitled:`, `vscode-notebook-cell:`), whose
 * documents have no folder of their own.
 */
export function fileUriToPath(uri: string): string | undefined {
  if (!/^file:/i.test(uri)) {
    return undefined;
  }
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

/** The folder of a document, where its relative image paths start. */
export function documentFolder(uri: string | undefined): string | undefined {
  const path = uri !== undefined ? fileUriToPath(uri) : undefined;
  return path !== undefined ? dirname(path) : undefined;
}

/** Folders of other schemes (a virtual file system) cannot hold images this server reads; they are left out. */
function uriToPath(uri: string): string | undefined {
  return fileUriToPath(uri);
}

function uniquePaths(paths: Array<string | undefined>): string[] {
  return [...new Set(paths.filter((path): path is string => path !== undefined && path !== ""))];
}
