/**
 * From a command invocation to a `molmo/ask` request: which task each command runs, what it asks the user,
 * how its arguments are read, and the request it sends. Pure (no `vscode` import), so the mapping is
 * unit-tested; register-commands.ts does the prompting and the sending.
 *
 * Commands are invoked four ways, and their arguments differ:
 * - from the explorer's context menu: `(uri, selectedUris[])`;
 * - from an editor's title bar: `(uri, { groupId, ... })`;
 * - from a keybinding or another extension: `({ image?, question?, task?, options?, timeoutMs? })`, or
 *   `(uri, { question?, options? })`;
 * - from the command palette: no arguments (the image comes from the active editor or an open dialog).
 */
import type { MolmoAskParams, MolmoGenerationOptions, MolmoTaskName } from "../../server/protocol/molmo-protocol";
import { isMolmoTaskName } from "../../webview/protocol";
import { MolmoCommands, type ImageCommandId } from "./command-ids";

/** What one image command does. */
export interface ImageCommandSpec {
  readonly task: MolmoTaskName;
  /** Whether the user must type something (the question, or what to point at / count). */
  readonly needsQuestion: boolean;
  /** The input box's prompt and placeholder, when {@link needsQuestion}. */
  readonly prompt?: string;
  readonly placeholder?: string;
}

/** The image commands and the task each runs. */
export const IMAGE_COMMANDS: Readonly<Record<ImageCommandId, ImageCommandSpec>> = {
  [MolmoCommands.ask]: { task: "ask", needsQuestion: true, prompt: "Ask Molmo about the image", placeholder: "What is in this screenshot?" },
  [MolmoCommands.pointAt]: { task: "point", needsQuestion: true, prompt: "What should Molmo point at?", placeholder: "the Save button" },
  [MolmoCommands.count]: { task: "count", needsQuestion: true, prompt: "What should Molmo count?", placeholder: "people" },
  [MolmoCommands.describe]: { task: "caption", needsQuestion: false },
};

/** Whether a command id is one of {@link IMAGE_COMMANDS}. */
export function isImageCommand(id: string): id is ImageCommandId {
  return Object.prototype.hasOwnProperty.call(IMAGE_COMMANDS, id);
}

/** A `vscode.Uri` as far as this module needs to recognise one (no `vscode` import here). */
export interface UriLike {
  readonly scheme: string;
  readonly path: string;
  readonly fsPath: string;
  toString(): string;
}

/** Options a keybinding or an API caller may pass to an image command. */
export interface ImageCommandOptions {
  /** An image path, `file:` URI or `data:` URI, when no Uri argument is given. */
  readonly image?: string;
  readonly question?: string;
  /** Overrides the command's task (for a keybinding bound to `molmo.ask`). */
  readonly task?: MolmoTaskName;
  readonly options?: MolmoGenerationOptions;
  readonly timeoutMs?: number;
}

/** The arguments of one invocation, read. */
export interface ImageCommandArgs {
  /** The image as a Uri (explorer, editor title, API), if one was passed. */
  readonly uri?: UriLike;
  readonly options: ImageCommandOptions;
  /** Why an argument was ignored, for the log. */
  readonly problems: readonly string[];
}

/** Whether a value looks like a `vscode.Uri`. */
export function isUriLike(value: unknown): value is UriLike {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.scheme === "string" && typeof candidate.path === "string" && typeof candidate.fsPath === "string";
}

const GENERATION_KEYS = ["maxNewTokens", "temperature", "topK", "topP", "seed"] as const;

/**
 * Reads a command's raw arguments. Uris win the image slot in order; the first plain object that carries
 * any known option is read as {@link ImageCommandOptions} (an editor title's `{ groupId }` carries none and
 * is ignored); arrays (the explorer's multi-selection) are ignored — one image per question.
 */
export function parseImageCommandArgs(args: readonly unknown[]): ImageCommandArgs {
  let uri: UriLike | undefined;
  let options: ImageCommandOptions = {};
  const problems: string[] = [];
  let optionsSeen = false;
  for (const arg of args) {
    if (isUriLike(arg)) {
      uri ??= arg;
    } else if (!optionsSeen && typeof arg === "object" && arg !== null && !Array.isArray(arg)) {
      const read = readOptions(arg as Record<string, unknown>, problems);
      if (read !== undefined) {
        options = read;
        optionsSeen = true;
      }
    }
  }
  return { ...(uri !== undefined ? { uri } : {}), options, problems };
}

function readOptions(raw: Record<string, unknown>, problems: string[]): ImageCommandOptions | undefined {
  const known = ["image", "question", "task", "options", "timeoutMs"].some((key) => raw[key] !== undefined);
  if (!known) {
    return undefined;
  }
  const result: { -readonly [K in keyof ImageCommandOptions]: ImageCommandOptions[K] } = {};
  if (typeof raw.image === "string" && raw.image.trim() !== "") result.image = raw.image.trim();
  else if (raw.image !== undefined) problems.push("image is not a non-empty string");
  if (typeof raw.question === "string") result.question = raw.question;
  else if (raw.question !== undefined) problems.push("question is not a string");
  if (isMolmoTaskName(raw.task)) result.task = raw.task;
  else if (raw.task !== undefined) problems.push(`task ${JSON.stringify(raw.task)} is not a Molmo task`);
  if (typeof raw.timeoutMs === "number" && Number.isFinite(raw.timeoutMs) && raw.timeoutMs > 0) result.timeoutMs = raw.timeoutMs;
  else if (raw.timeoutMs !== undefined) problems.push("timeoutMs is not a positive number");
  if (typeof raw.options === "object" && raw.options !== null && !Array.isArray(raw.options)) {
    result.options = readGenerationOptions(raw.options as Record<string, unknown>, problems);
  } else if (raw.options !== undefined) {
    problems.push("options is not an object");
  }
  return result;
}

function readGenerationOptions(raw: Record<string, unknown>, problems: string[]): MolmoGenerationOptions {
  const options: { -readonly [K in keyof MolmoGenerationOptions]: MolmoGenerationOptions[K] } = {};
  for (const key of GENERATION_KEYS) {
    const value = raw[key];
    if (typeof value === "number" && Number.isFinite(value)) options[key] = value;
    else if (value !== undefined) problems.push(`options.${key} is not a number`);
  }
  if (typeof raw.answerPrefix === "string") options.answerPrefix = raw.answerPrefix;
  else if (raw.answerPrefix !== undefined) problems.push("options.answerPrefix is not a string");
  return options;
}

/** The task a command runs, after an explicit `task` option. */
export function taskFor(command: ImageCommandId, options: ImageCommandOptions): MolmoTaskName {
  return options.task ?? IMAGE_COMMANDS[command].task;
}

/** Whether a task needs a question (or a thing to point at / count). */
export function taskNeedsQuestion(task: MolmoTaskName): boolean {
  return task === "ask" || task === "point" || task === "count";
}

/** What one question needs besides the image. */
export interface AskRequestInput {
  readonly image: string;
  readonly task: MolmoTaskName;
  readonly question?: string;
  readonly documentUri?: string;
  readonly options?: MolmoGenerationOptions;
  readonly timeoutMs?: number;
  readonly partialResultToken?: string;
  readonly workDoneToken?: string;
}

/** Thrown for a question that cannot be sent (e.g. an empty question for `point`). */
export class AskRequestError extends Error {
  override readonly name = "AskRequestError";
  constructor(readonly code: "empty_question" | "empty_image", message: string) {
    super(message);
  }
}

/** The `molmo/ask` params of one question; only set fields are sent. */
export function buildAskParams(input: AskRequestInput): MolmoAskParams {
  if (input.image.trim() === "") {
    throw new AskRequestError("empty_image", "No image was given.");
  }
  const question = input.question?.trim() ?? "";
  if (taskNeedsQuestion(input.task) && question === "") {
    const what = input.task === "ask" ? "a question" : input.task === "point" ? "what to point at" : "what to count";
    throw new AskRequestError("empty_question", `The ${input.task} task needs ${what}.`);
  }
  return {
    image: input.image,
    task: input.task,
    ...(taskNeedsQuestion(input.task) ? { question } : {}),
    ...(input.documentUri !== undefined ? { documentUri: input.documentUri } : {}),
    ...(input.options !== undefined && Object.keys(input.options).length > 0 ? { options: input.options } : {}),
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
    ...(input.workDoneToken !== undefined ? { workDoneToken: input.workDoneToken } : {}),
    ...(input.partialResultToken !== undefined ? { partialResultToken: input.partialResultToken } : {}),
  };
}
