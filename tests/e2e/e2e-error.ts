/** What went wrong in the end-to-end harness; `code` says which step failed. */
export type E2eErrorCode =
  | "CODE_SERVER_MISSING"
  | "CHROMIUM_MISSING"
  | "SERVER_START_FAILED"
  | "SERVER_START_TIMEOUT"
  | "EXTENSION_INSTALL_FAILED"
  | "SUITE_TIMEOUT"
  | "WORKBENCH_TIMEOUT"
  | "ARTIFACT_MISSING";

/**
 * An error of the end-to-end harness (tests/e2e/), as opposed to a failed assertion of a test: the
 * server did not start, the browser is missing, the suite never reported, ... The message says what to
 * do; `code` lets tests tell the cases apart.
 */
export class E2eHarnessError extends Error {
  override readonly name = "E2eHarnessError";

  constructor(
    readonly code: E2eErrorCode,
    message: string,
  ) {
    super(message);
  }
}
