/**
 * Progress of a tool call, sent as `notifications/progress` when the client asked for it (a `progressToken` in
 * the call's `_meta`): where the call waits (queued, loading the model) and then the answer as it is generated.
 * Each message carries the whole answer so far, so a client can simply show the latest one; text messages are
 * sent at most every {@link TEXT_INTERVAL_MS}, which keeps a long answer from flooding the connection (the
 * complete answer comes with the result anyway).
 */
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../models/engine/logger";
import type { HostStage } from "../server/host/engine-host";

/** The per-request context the SDK hands a tool handler. */
export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Shortest gap between two text progress messages. */
export const TEXT_INTERVAL_MS = 100;

/** Reports one call's progress; does nothing when the client sent no progress token. */
export class ProgressReporter {
  private readonly token: string | number | undefined;
  private sequence = 0;
  private text = "";
  private lastTextSent = Number.NEGATIVE_INFINITY;
  private done = false;

  constructor(
    private readonly extra: ToolExtra,
    private readonly logger: Logger,
  ) {
    this.token = extra._meta?.progressToken;
  }

  /** Whether the client asked for progress. */
  get enabled(): boolean {
    return this.token !== undefined;
  }

  /** A stage of the request: queued, loading the model, generating. */
  stage(stage: HostStage): void {
    switch (stage.kind) {
      case "queued":
        this.send(`Waiting for Molmo: ${stage.position} request(s) ahead.`);
        break;
      case "loading":
        this.send(`Loading the Molmo model ${stage.model}.`);
        break;
      case "generating":
        this.send("Molmo is looking at the image.");
        break;
    }
  }

  /** A piece of the answer. */
  textDelta(delta: string): void {
    this.text += delta;
    const now = performance.now();
    if (now - this.lastTextSent >= TEXT_INTERVAL_MS) {
      this.lastTextSent = now;
      this.send(this.text);
    }
  }

  /** Stops reporting: nothing may follow the call's result. */
  finish(): void {
    this.done = true;
  }

  private send(message: string): void {
    if (this.token === undefined || this.done) {
      return;
    }
    this.sequence += 1;
    this.extra
      .sendNotification({ method: "notifications/progress", params: { progressToken: this.token, progress: this.sequence, message } })
      .catch((error: unknown) => this.logger.debug(`A progress notification could not be sent: ${error instanceof Error ? error.message : String(error)}`));
  }
}
