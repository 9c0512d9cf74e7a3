/**
 * What the status bar item says: model · execution provider · state, from `molmo/statusChanged`, plus the
 * client's own states (server not started yet, starting, stopped after crashes). Pure: no `vscode` import.
 */
import type { MolmoStatus } from "../../server/protocol/molmo-protocol";

/** The language client's side of the story, before or besides the server's status. */
export type ClientPhase = "idle" | "starting" | "running" | "stopped" | "failed";

/** The item's text (with a codicon), tooltip, and whether it shows an error or warning background. */
export interface StatusPresentation {
  readonly text: string;
  readonly tooltip: string;
  readonly severity: "normal" | "warning" | "error";
}

const ICON = "$(eye)";

/** The status bar item for a client phase and the server's last status. */
export function statusPresentation(phase: ClientPhase, status: MolmoStatus | undefined): StatusPresentation {
  switch (phase) {
    case "idle":
      return { text: `${ICON} Molmo`, tooltip: "Molmo: the server starts with the first question or Markdown hover.", severity: "normal" };
    case "starting":
      return { text: "$(loading~spin) Molmo", tooltip: "Molmo: starting molmo-server…", severity: "normal" };
    case "stopped":
      return { text: `${ICON} Molmo: stopped`, tooltip: "Molmo: molmo-server is not running. Click for actions.", severity: "warning" };
    case "failed":
      return { text: "$(error) Molmo: server failed", tooltip: "Molmo: molmo-server could not start or kept crashing. Click for actions.", severity: "error" };
    case "running":
      return runningPresentation(status);
  }
}

function runningPresentation(status: MolmoStatus | undefined): StatusPresentation {
  if (status === undefined) {
    return { text: `${ICON} Molmo`, tooltip: "Molmo: molmo-server is running.", severity: "normal" };
  }
  if (status.model === undefined) {
    return { text: "$(circle-slash) Molmo: no model", tooltip: "Molmo: no model is configured. Click to select one.", severity: "warning" };
  }
  const ep = status.ep ?? status.requestedEp;
  const parts = [status.model.name, ep, stateWord(status)];
  const icon = status.state === "loading" || status.state === "busy" ? "$(loading~spin)" : status.state === "error" ? "$(error)" : ICON;
  const lines = [
    `Molmo: ${status.model.name} (${status.model.variant}, ${status.model.dtype})`,
    `Execution provider: ${status.ep ?? `${status.requestedEp} (not loaded yet)`}`,
    `State: ${stateWord(status)}`,
  ];
  if (status.queue.waiting > 0) lines.push(`Waiting: ${status.queue.waiting} of at most ${status.queue.limit}`);
  if (status.loadMs !== undefined) lines.push(`Last load: ${(status.loadMs / 1000).toFixed(1)} s`);
  if (status.error !== undefined) lines.push(`Error (${status.error.code}): ${status.error.message}`);
  lines.push(status.model.path);
  return {
    text: `${icon} ${parts.join(" · ")}`,
    tooltip: lines.join("\n"),
    severity: status.state === "error" ? "error" : "normal",
  };
}

function stateWord(status: MolmoStatus): string {
  switch (status.state) {
    case "unloaded":
      return "idle";
    case "busy":
      return status.queue.waiting > 0 ? `busy (+${status.queue.waiting})` : "busy";
    default:
      return status.state;
  }
}
