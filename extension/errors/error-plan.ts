/**
 * What the user sees when a Molmo request fails: one notification with a useful action, chosen from the
 * server's error code (`MolmoErrorData.code`), or nothing for a cancellation the user asked for. Errors are
 * mapped once, here, at the boundary (rust-analyzer's `handleFailedRequest`, vscode-eslint's `Status`).
 *
 * Pure: no `vscode` import; errors.ts shows the plan.
 */
import { MolmoCommands, type MolmoCommandId } from "../commands/command-ids";

/** JSON-RPC's code for a request the client cancelled (LSP `RequestCancelled`). */
export const REQUEST_CANCELLED = -32800;
/** LSP `ServerCancelled`: the server gave up on the request itself. */
export const SERVER_CANCELLED = -32802;

/** A button on the notification. */
export interface ErrorAction {
  readonly title: string;
  /** A command to run, with its arguments; `workbench.action.openSettings` opens a setting. */
  readonly command: MolmoCommandId | "workbench.action.openSettings";
  readonly args?: readonly unknown[];
}

/** The notification for one failure. */
export interface ErrorPlan {
  /** `none`: say nothing (the user cancelled). */
  readonly severity: "error" | "warning" | "none";
  /** The server's error code, or `internal` when the error carried none. */
  readonly code: string;
  readonly message: string;
  readonly actions: readonly ErrorAction[];
}

const showLog: ErrorAction = { title: "Show Log", command: MolmoCommands.showLog };
const selectModel: ErrorAction = { title: "Select Model…", command: MolmoCommands.selectModel };
const openSetting = (key: string): ErrorAction => ({ title: "Open Setting", command: "workbench.action.openSettings", args: [key] });

/** The server's error code of a failed request: `data.code`, `cancelled` for LSP cancellations, else undefined. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) {
    return undefined;
  }
  const { code, data } = error as { code?: unknown; data?: unknown };
  if (typeof data === "object" && data !== null && typeof (data as { code?: unknown }).code === "string") {
    return (data as { code: string }).code;
  }
  if (code === REQUEST_CANCELLED || code === SERVER_CANCELLED) {
    return "cancelled";
  }
  // Errors made on this side (AskRequestError, ...) carry a string code.
  return typeof code === "string" ? code : undefined;
}

/** The message of an error, whatever was thrown. */
export function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    return (error as { message: string }).message;
  }
  return String(error);
}

/** The notification for a failed Molmo request. */
export function planForError(error: unknown): ErrorPlan {
  const code = errorCodeOf(error) ?? "internal";
  const serverMessage = errorMessageOf(error);
  const plan = (severity: ErrorPlan["severity"], message: string, actions: readonly ErrorAction[]): ErrorPlan => ({ severity, code, message, actions });
  switch (code) {
    case "cancelled":
      return plan("none", "The question was cancelled.", []);
    case "no_model":
      return plan("error", "No Molmo model is configured. Select an exported model bundle folder.", [selectModel]);
    case "model_load_failed":
      return plan("error", `Molmo could not load the model: ${serverMessage}`, [selectModel, showLog]);
    case "busy":
      return plan("warning", `Molmo is busy with other questions; try again in a moment. (${serverMessage})`, []);
    case "timeout":
      return plan("warning", `Molmo took too long to answer: ${serverMessage}`, [showLog]);
    case "outside_workspace":
      return plan("error", serverMessage, [openSetting("molmo.images.allowOutsideWorkspace")]);
    case "remote_image_refused":
      return plan("error", serverMessage, [openSetting("molmo.images.allowRemote")]);
    case "image_not_found":
    case "bad_image":
    case "bad_request":
    case "empty_question":
    case "empty_image":
      return plan("error", serverMessage, []);
    case "out_of_memory":
      return plan("error", `Molmo ran out of memory: ${serverMessage}`, [
        openSetting("molmo.maxCrops"),
        openSetting("molmo.executionProvider"),
      ]);
    case "server_not_running":
      return plan("error", serverMessage, [{ title: "Restart Server", command: MolmoCommands.restartServer }, showLog]);
    default:
      return plan("error", `Molmo failed: ${serverMessage}`, [showLog]);
  }
}
