/**
 * Registers every command of command-ids.ts. Handlers never throw into VS Code: a failure becomes one
 * notification with an action (errors/notify.ts). Image commands return the answer (`MolmoAskResult`), so
 * keybindings, other extensions and the tests can use them programmatically.
 */
import * as vscode from "vscode";
import type { MolmoAskResult, MolmoTaskName } from "../../server/protocol/molmo-protocol";
import type { MolmoContext } from "../context";
import { notifyError } from "../errors/notify";
import { PointsPanel } from "../panel/points-panel";
import { copyAltText, generateAltTextInMarkdown } from "./alt-text";
import { IMAGE_COMMANDS, parseImageCommandArgs, taskFor, taskNeedsQuestion, type ImageCommandSpec } from "./ask-request";
import { MolmoCommands, type ImageCommandId } from "./command-ids";
import { resolveImageSource } from "./image-target";
import { selectModel } from "./select-model";

/** The input box of each task that needs one (also when a keybinding overrides a command's task). */
const QUESTION_PROMPTS: Partial<Record<MolmoTaskName, ImageCommandSpec>> = {
  ask: IMAGE_COMMANDS[MolmoCommands.ask],
  point: IMAGE_COMMANDS[MolmoCommands.pointAt],
  count: IMAGE_COMMANDS[MolmoCommands.count],
};

/** Registers the commands; the returned disposables unregister them. */
export function registerCommands(ctx: MolmoContext): vscode.Disposable[] {
  // The last question per task, so asking again about another image starts from it.
  const lastQuestions = new Map<MolmoTaskName, string>();

  const runImageCommand = async (command: ImageCommandId, args: unknown[]): Promise<MolmoAskResult | undefined> => {
    const parsed = parseImageCommandArgs(args);
    parsed.problems.forEach((problem) => ctx.log.warn(`${command}: ${problem}`));
    try {
      const source = await resolveImageSource(parsed);
      if (source === undefined) {
        return undefined;
      }
      const task = taskFor(command, parsed.options);
      let question = parsed.options.question;
      if (taskNeedsQuestion(task) && (question === undefined || question.trim() === "")) {
        const spec = QUESTION_PROMPTS[task];
        question = await vscode.window.showInputBox({
          title: "Molmo",
          prompt: spec?.prompt,
          placeHolder: spec?.placeholder,
          value: lastQuestions.get(task) ?? "",
          ignoreFocusOut: true,
          validateInput: (value) => (value.trim() === "" ? "Type something for Molmo to look for." : undefined),
        });
        if (question === undefined) {
          return undefined;
        }
        lastQuestions.set(task, question);
      }
      const panel = await PointsPanel.show(ctx, source);
      const outcome = await panel.controller.ask({
        task,
        ...(question !== undefined ? { question } : {}),
        ...(parsed.options.options !== undefined ? { options: parsed.options.options } : {}),
        ...(parsed.options.timeoutMs !== undefined ? { timeoutMs: parsed.options.timeoutMs } : {}),
      });
      // Failures were already reported by the panel (its host's reportError).
      return outcome.kind === "done" ? outcome.result : undefined;
    } catch (error) {
      notifyError(error, ctx.log);
      return undefined;
    }
  };

  const imageCommand = (command: ImageCommandId): vscode.Disposable =>
    vscode.commands.registerCommand(command, (...args: unknown[]) => runImageCommand(command, args));

  return [
    imageCommand(MolmoCommands.ask),
    imageCommand(MolmoCommands.pointAt),
    imageCommand(MolmoCommands.count),
    imageCommand(MolmoCommands.describe),
    vscode.commands.registerCommand(MolmoCommands.altText, async (...args: unknown[]) => {
      const parsed = parseImageCommandArgs(args);
      const editor = vscode.window.activeTextEditor;
      if (parsed.uri === undefined && parsed.options.image === undefined && editor?.document.languageId === "markdown") {
        try {
          const outcome = await generateAltTextInMarkdown(ctx, editor);
          if (outcome === "applied") return undefined;
          if (outcome === "no_action") {
            void vscode.window.showInformationMessage("Molmo writes alt text for images whose alt text is empty or missing; this one has alt text.");
            return undefined;
          }
        } catch (error) {
          notifyError(error, ctx.log);
          return undefined;
        }
      }
      const result = await runImageCommand(MolmoCommands.describe, args);
      if (result !== undefined) await copyAltText(result);
      return result;
    }),
    vscode.commands.registerCommand(MolmoCommands.selectModel, () => selectModel(ctx)),
    vscode.commands.registerCommand(MolmoCommands.restartServer, async () => {
      try {
        await ctx.restart();
      } catch (error) {
        notifyError(error, ctx.log);
      }
    }),
    vscode.commands.registerCommand(MolmoCommands.showLog, () => ctx.log.show()),
    vscode.commands.registerCommand(MolmoCommands.statusMenu, () => showStatusMenu()),
  ];
}

/** The status bar item's quick pick. */
async function showStatusMenu(): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string; args?: unknown[] })[] = [
    { label: "$(question) Ask Molmo about Image…", command: MolmoCommands.ask },
    { label: "$(target) Point at…", command: MolmoCommands.pointAt },
    { label: "$(symbol-number) Count…", command: MolmoCommands.count },
    { label: "$(file-media) Describe Image", command: MolmoCommands.describe },
    { label: "$(database) Select Model…", command: MolmoCommands.selectModel },
    { label: "$(debug-restart) Restart Server", command: MolmoCommands.restartServer },
    { label: "$(output) Show Log", command: MolmoCommands.showLog },
    { label: "$(settings-gear) Settings", command: "workbench.action.openSettings", args: ["@ext:molmo-vscode.molmo-vscode"] },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: "Molmo" });
  if (picked !== undefined) {
    await vscode.commands.executeCommand(picked.command, ...(picked.args ?? []));
  }
}
