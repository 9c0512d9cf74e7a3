/**
 * Shows an {@link ErrorPlan} as one notification whose buttons run the plan's commands. Every failure is
 * also written to the log, so "Show Log" always has the details.
 */
import * as vscode from "vscode";
import { planForError, type ErrorPlan } from "./error-plan";

/** Shows the notification for a failed Molmo request (nothing for a user's cancellation). */
export function notifyError(error: unknown, log: vscode.LogOutputChannel): void {
  const plan = planForError(error);
  if (plan.severity !== "none") {
    log.error(`[${plan.code}] ${plan.message}`);
  }
  void showPlan(plan);
}

/** Shows a plan; resolves once the user picked an action or dismissed it. */
export async function showPlan(plan: ErrorPlan): Promise<void> {
  if (plan.severity === "none") {
    return;
  }
  const titles = plan.actions.map((action) => action.title);
  const show = plan.severity === "error" ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
  const picked = await show(plan.message, ...titles);
  const action = plan.actions.find((candidate) => candidate.title === picked);
  if (action !== undefined) {
    await vscode.commands.executeCommand(action.command, ...(action.args ?? []));
  }
}
