/**
 * The custom messages of server/protocol/molmo-protocol.ts as vscode-languageclient message types, so
 * every `sendRequest` / `onNotification` in the extension is typed by the one shared protocol module.
 */
import { NotificationType, ProgressType, RequestType, RequestType0, WorkDoneProgress } from "vscode-languageclient/node";
import {
  MolmoMethods,
  type MolmoAskParams,
  type MolmoAskPartialResult,
  type MolmoAskResult,
  type MolmoModelsResult,
  type MolmoSelectModelParams,
  type MolmoStatus,
} from "../../server/protocol/molmo-protocol";

/** Client → server: one question about one image. */
export const AskRequest = new RequestType<MolmoAskParams, MolmoAskResult, void>(MolmoMethods.ask);
/** Client → server: the engine's status. */
export const StatusRequest = new RequestType0<MolmoStatus, void>(MolmoMethods.status);
/** Client → server: the bundles the server knows. */
export const ModelsRequest = new RequestType0<MolmoModelsResult, void>(MolmoMethods.models);
/** Client → server: switch to another bundle. */
export const SelectModelRequest = new RequestType<MolmoSelectModelParams, MolmoStatus, void>(MolmoMethods.selectModel);
/** Server → client: the status changed. */
export const StatusChangedNotification = new NotificationType<MolmoStatus>(MolmoMethods.statusChanged);
/** `$/progress` values on an ask's partial-result token. */
export const AskPartialResultProgress = new ProgressType<MolmoAskPartialResult>();
/** `$/progress` values on an ask's work-done token (queued, loading, generating). */
export const WorkDoneProgressType = WorkDoneProgress.type;
