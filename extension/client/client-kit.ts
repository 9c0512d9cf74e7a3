/**
 * Everything the extension uses of vscode-languageclient, in one module that is loaded on first use
 * (load-client-kit.ts). The language client and its protocol libraries are ~430 KB of JavaScript, ~90% of
 * the extension; keeping them out of dist/extension.js keeps activation in the low milliseconds, and a
 * window that never asks Molmo anything never loads them. esbuild bundles this file as dist/client.js.
 */
export { State } from "vscode-languageclient/node";
export { createLanguageClient } from "./language-client";
export { AskPartialResultProgress, AskRequest, ModelsRequest, SelectModelRequest, StatusChangedNotification, StatusRequest, WorkDoneProgressType } from "./molmo-requests";
