/**
 * The client's roots: the folders an MCP client (an editor, an agent) says the server may work in. They are
 * asked for with `roots/list` when the client declares the `roots` capability, on first need rather than at
 * start, and asked for again after `notifications/roots/list_changed`. The request goes out as part of the tool
 * call that needs it, so over HTTP it travels on that call's response stream (a client need not keep a
 * separate stream open for server requests).
 *
 * A client that cannot answer (an error, or no answer within {@link ROOTS_TIMEOUT_MS}) is treated as having
 * no roots, with a warning in the log: the allow-list still applies. It is asked again after
 * {@link ROOTS_RETRY_MS} or when it says its roots changed, not on every call, so that a client that never
 * answers does not cost every call the full wait.
 */
import { fileURLToPath } from "node:url";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { RootsListChangedNotificationSchema, type RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../models/engine/logger";

/** How long a `roots/list` request may take before the call goes on without the client's roots. */
export const ROOTS_TIMEOUT_MS = 5000;
/** How long a failed `roots/list` is remembered. */
export const ROOTS_RETRY_MS = 60_000;

/** The roots of one client connection. */
export class ClientRoots {
  private cached: Promise<string[]> | undefined;
  private failedAt: number | undefined;

  constructor(
    private readonly server: Server,
    private readonly logger: Logger,
  ) {
    server.setNotificationHandler(RootsListChangedNotificationSchema, () => {
      this.logger.debug("The client's roots changed; they are read again on the next call.");
      this.cached = undefined;
      this.failedAt = undefined;
    });
  }

  /**
   * The client's roots as local folders (non-file roots are left out); empty when it declares none or cannot
   * list them.
   *
   * @param relatedRequestId the tool call that needs them (the request is sent as part of it).
   */
  async folders(relatedRequestId?: RequestId): Promise<string[]> {
    if (this.server.getClientCapabilities()?.roots === undefined) {
      return [];
    }
    if (this.failedAt !== undefined && Date.now() - this.failedAt < ROOTS_RETRY_MS) {
      return [];
    }
    this.cached ??= this.fetch(relatedRequestId);
    const request = this.cached;
    try {
      return await request;
    } catch (error) {
      if (this.cached === request) {
        this.cached = undefined;
        this.failedAt = Date.now();
      }
      this.logger.warn(
        `The client did not list its roots (${error instanceof Error ? error.message : String(error)}); only the allow-list applies until it lists them.`,
      );
      return [];
    }
  }

  private async fetch(relatedRequestId: RequestId | undefined): Promise<string[]> {
    const { roots } = await this.server.listRoots(undefined, {
      timeout: ROOTS_TIMEOUT_MS,
      ...(relatedRequestId !== undefined ? { relatedRequestId } : {}),
    });
    const folders: string[] = [];
    for (const root of roots) {
      if (!root.uri.startsWith("file:")) {
        this.logger.debug(`Ignoring the client's root ${root.uri}: only file: roots name local folders.`);
        continue;
      }
      try {
        folders.push(fileURLToPath(root.uri));
      } catch (error) {
        this.logger.warn(`Ignoring the client's root ${root.uri}: ${(error as Error).message}`);
      }
    }
    this.failedAt = undefined;
    this.logger.debug(`The client's roots: ${folders.length > 0 ? folders.join(", ") : "(none)"}.`);
    return folders;
  }
}
