/**
 * The extension's one context (rust-analyzer's `Ctx`): the log, the settings, and molmo-server's language
 * client, which starts lazily — on the first question, or when a Markdown file needs hovers — never during
 * activation. It owns two disposal lists with different lifetimes: the extension's (VS Code's
 * `context.subscriptions`) and one client instance's (handlers registered on it, dropped at restart).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import type { MolmoAskPartialResult, MolmoAskResult, MolmoStatus } from "../server/protocol/molmo-protocol";
import { currentSettings } from "./config/read-settings";
import { changedSettingKeys, needsRestart, type ExtensionSettings } from "./config/settings";
import { loadClientKit } from "./client/load-client-kit";
import { RestartPolicy } from "./client/restart-policy";
import { findServerModule } from "./client/server-module";
import { MolmoCommands } from "./commands/command-ids";
import type { AskBackend, AskParamsWithoutTokens } from "./panel/panel-controller";
import type { ClientPhase } from "./status/status-text";

/** Error thrown by requests while the server cannot run; error-plan.ts offers "Restart Server". */
export class ServerNotRunningError extends Error {
  override readonly name = "ServerNotRunningError";
  readonly code = "server_not_running";
}

/** See the file comment. */
export class MolmoContext implements vscode.Disposable, AskBackend {
  readonly log: vscode.LogOutputChannel;
  private settingsNow: ExtensionSettings;
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private clientDisposables: vscode.Disposable[] = [];
  private phaseNow: ClientPhase = "idle";
  private statusNow: MolmoStatus | undefined;
  private serverModulePath: string | undefined;
  private readonly restartPolicy = new RestartPolicy();
  private readonly changes = new vscode.EventEmitter<void>();
  private readonly settingsChanges = new vscode.EventEmitter<ExtensionSettings>();

  /** Fires when the client phase or the server's status changed. */
  readonly onDidChangeState = this.changes.event;
  /** Fires after the settings were read again. */
  readonly onDidChangeSettings = this.settingsChanges.event;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel("Molmo", { log: true });
    this.settingsNow = currentSettings();
    this.logNotes(this.settingsNow);
  }

  /** The normalised `molmo.*` settings. */
  get settings(): ExtensionSettings {
    return this.settingsNow;
  }

  get phase(): ClientPhase {
    return this.phaseNow;
  }

  /** molmo-server's last status (from `molmo/statusChanged`). */
  get status(): MolmoStatus | undefined {
    return this.statusNow;
  }

  /** The molmo-server module this extension runs (found on first use). */
  get serverModule(): string {
    this.serverModulePath ??= findServerModule(
      this.extension.extensionPath,
      this.extension.extensionMode !== vscode.ExtensionMode.Production,
      existsSync,
    );
    return this.serverModulePath;
  }

  /** The running client, started now if it is not yet. */
  async getClient(): Promise<LanguageClient> {
    const client = this.client;
    if (client !== undefined && client.state === loadClientKit().State.Running) {
      return client;
    }
    if (client !== undefined && client.state === loadClientKit().State.Starting && this.starting === undefined) {
      // The client restarts by itself after a crash: wait for it rather than start a second server.
      return waitUntilRunning(client);
    }
    if (this.phaseNow === "failed") {
      throw new ServerNotRunningError("molmo-server is not running (it failed to start or kept crashing). Restart it or see the log.");
    }
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<LanguageClient> {
    const started = performance.now();
    this.setPhase("starting");
    let client: LanguageClient;
    try {
      client = loadClientKit().createLanguageClient({
        serverModule: this.serverModule,
        settings: () => this.settingsNow,
        log: this.log,
        restartPolicy: this.restartPolicy,
        onGaveUp: (crashes) => this.onGaveUp(crashes),
        onInitializeFailed: (error) => this.log.error(`molmo-server failed to initialize: ${String(error)}`),
      });
    } catch (error) {
      this.setPhase("failed");
      throw error;
    }
    this.client = client;
    this.clientDisposables.push(
      client.onNotification(loadClientKit().StatusChangedNotification, (status) => this.setStatus(status)),
      client.onDidChangeState((event) => {
        if (event.newState === loadClientKit().State.Running) this.setPhase("running");
        else if (event.newState === loadClientKit().State.Stopped && this.phaseNow === "running") this.setPhase("stopped");
      }),
    );
    this.log.info(`Starting molmo-server: ${this.serverModule} (${process.execPath})`);
    try {
      await client.start();
    } catch (error) {
      this.setPhase("failed");
      this.log.error(`molmo-server did not start: ${error instanceof Error ? error.message : String(error)}`);
      throw new ServerNotRunningError(`molmo-server did not start: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.setPhase("running");
    this.log.info(`molmo-server is running (${(performance.now() - started).toFixed(0)} ms to initialized)`);
    // The first status; later ones arrive as molmo/statusChanged.
    client.sendRequest(loadClientKit().StatusRequest).then(
      (status) => this.setStatus(status),
      (error: unknown) => this.log.warn(`molmo/status failed: ${String(error)}`),
    );
    return client;
  }

  /** Stops the server (if running) and starts it again. */
  async restart(): Promise<void> {
    this.restartPolicy.reset();
    await this.stop();
    this.setPhase("idle");
    await this.getClient();
  }

  /** Stops the server; the next request starts it again. */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.clientDisposables.forEach((disposable) => {
        disposable.dispose();
      });
    this.clientDisposables = [];
    this.statusNow = undefined;
    if (client !== undefined && client.state !== loadClientKit().State.Stopped) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.log.warn(`Stopping molmo-server: ${String(error)}`);
      }
    }
    this.setPhase("stopped");
  }

  /** {@link AskBackend}: `molmo/ask` with streamed partial results and cancellation. */
  async ask(params: AskParamsWithoutTokens, onPartial: (partial: MolmoAskPartialResult) => void, signal: AbortSignal): Promise<MolmoAskResult> {
    const client = await this.getClient();
    if (signal.aborted) {
      throw Object.assign(new Error("The question was cancelled."), { code: "cancelled" });
    }
    const partialResultToken = `molmo-ask-${randomUUID()}`;
    const workDoneToken = `molmo-work-${randomUUID()}`;
    const cancellation = new vscode.CancellationTokenSource();
    const onAbort = (): void => cancellation.cancel();
    signal.addEventListener("abort", onAbort);
    const kit = loadClientKit();
    const subscriptions = [client.onProgress(kit.AskPartialResultProgress, partialResultToken, onPartial)];
    try {
      return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "Molmo" }, (progress) => {
        subscriptions.push(
          client.onProgress(kit.WorkDoneProgressType, workDoneToken, (value) => {
            if (value.kind !== "end" && value.message !== undefined) progress.report({ message: value.message });
          }),
        );
        return client.sendRequest(kit.AskRequest, { ...params, partialResultToken, workDoneToken }, cancellation.token);
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
      subscriptions.forEach((subscription) => {
        subscription.dispose();
      });
      cancellation.dispose();
    }
  }

  /** Re-reads the settings and passes them on (server, MCP); offers a restart when one is needed. */
  async settingsChanged(): Promise<void> {
    const before = this.settingsNow;
    this.settingsNow = currentSettings();
    this.logNotes(this.settingsNow);
    const changed = changedSettingKeys(before, this.settingsNow);
    if (changed.length === 0) {
      return;
    }
    this.log.info(`Settings changed: ${changed.map((key) => `molmo.${key}`).join(", ")}`);
    this.settingsChanges.fire(this.settingsNow);
    const client = this.client;
    if (client !== undefined && client.state === loadClientKit().State.Running) {
      await client.sendNotification("workspace/didChangeConfiguration", { settings: { molmo: this.settingsNow.server } });
      if (needsRestart(changed)) {
        const restart = "Restart Server";
        const picked = await vscode.window.showInformationMessage("Molmo: restart molmo-server to apply the new server settings?", restart);
        if (picked === restart) await vscode.commands.executeCommand(MolmoCommands.restartServer);
      }
    }
  }

  private onGaveUp(crashes: number): void {
    this.setPhase("failed");
    this.log.error(`molmo-server crashed ${crashes} times in a few minutes and is not restarted again`);
    const restart = "Restart Server";
    const showLog = "Show Log";
    void vscode.window
      .showErrorMessage(`Molmo: molmo-server crashed ${crashes} times in a few minutes and was not restarted.`, restart, showLog)
      .then((picked) => {
        if (picked === restart) void vscode.commands.executeCommand(MolmoCommands.restartServer);
        if (picked === showLog) this.log.show();
      });
  }

  private logNotes(settings: ExtensionSettings): void {
    settings.notes.forEach((note) => this.log.warn(note));
  }

  private setPhase(phase: ClientPhase): void {
    if (phase !== this.phaseNow) {
      this.phaseNow = phase;
      this.changes.fire();
    }
  }

  private setStatus(status: MolmoStatus): void {
    this.statusNow = status;
    this.changes.fire();
  }

  dispose(): void {
    void this.stop();
    this.changes.dispose();
    this.settingsChanges.dispose();
    this.log.dispose();
  }
}

/** Resolves when a (re)starting client runs; rejects when it stops instead. */
function waitUntilRunning(client: LanguageClient): Promise<LanguageClient> {
  return new Promise((resolve, reject) => {
    const listener = client.onDidChangeState((event) => {
      if (event.newState === loadClientKit().State.Running) {
        listener.dispose();
        resolve(client);
      } else if (event.newState === loadClientKit().State.Stopped) {
        listener.dispose();
        reject(new ServerNotRunningError("molmo-server stopped while restarting. Restart it or see the log."));
      }
    });
  });
}
