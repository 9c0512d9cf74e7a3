/**
 * How a failed Molmo request is answered over LSP: a JSON-RPC error whose `data` carries the host's code
 * (MolmoErrorData), so clients branch on `data.code` and show `message`, a sentence that says what to change.
 *
 * The JSON-RPC code follows the LSP conventions: `RequestCancelled` for a cancelled request (clients treat it
 * as silent), `InvalidParams` for malformed parameters, and `RequestFailed` (a syntactically valid request
 * that failed: a missing image, a busy queue, a model that would not load) for everything else.
 */
import { ErrorCodes, LSPErrorCodes, ResponseError } from "vscode-languageserver/node";
import { HostError, toHostError } from "../host/host-errors";
import type { MolmoErrorData } from "../protocol/molmo-protocol";

/** The error answer for whatever a Molmo request threw. */
export function toResponseError(error: unknown): ResponseError<MolmoErrorData> {
  if (error instanceof ResponseError) {
    return error as ResponseError<MolmoErrorData>;
  }
  const failure = error instanceof HostError ? error : toHostError(error);
  const code = failure.code === "cancelled" ? LSPErrorCodes.RequestCancelled : failure.code === "bad_request" ? ErrorCodes.InvalidParams : LSPErrorCodes.RequestFailed;
  return new ResponseError<MolmoErrorData>(code, failure.message, { code: failure.code });
}
