import { PromptError } from "./errors";
import { SHORT_ANSWER_STYLES, type MolmoTask, type ShortAnswerStyle } from "./tasks";
import {
  CLOCK_QUESTION,
  COUNT_TEMPLATE,
  LONG_CAPTION_PROMPT,
  POINT_TEMPLATE,
  SHORT_CAPTION_PROMPT,
  STYLE,
  fillLabel,
} from "./templates";
import { cleanLabel, cleanTurnText } from "./text-validation";

/** Smallest and largest accepted `lengthHint` (the reference derives it as caption characters / 15). */
export const LENGTH_HINT_RANGE = { min: 0, max: 400 } as const;

/**
 * The user text for a task — what the HF processor takes as `text` — e.g. `"clocks: What time is being
 * shown?"`. Role markers and spaces are added later by {@link formatUserMessage} / `buildInputIds`.
 *
 * A style prefix is joined to the question with one space (`prefix + " " + question`, reference
 * `DataFormatter._format_example`).
 *
 * @throws {PromptError} for an empty or absurdly long question/label, or a malformed task object
 *   (tasks may come straight from JSON: every field is checked at run time).
 */
export function buildPrompt(task: MolmoTask): string {
  if (typeof task !== "object" || task === null) {
    throw new PromptError("invalid_task", "The task must be an object with a \"kind\".");
  }
  switch (task.kind) {
    case "ask": {
      const question = cleanTurnText(task.question, "question");
      if (task.style === undefined) {
        return question;
      }
      if (!isShortAnswerStyle(task.style)) {
        throw new PromptError("invalid_task", `Unknown answer style ${JSON.stringify(task.style)}; use one of ${SHORT_ANSWER_STYLES.join(", ")}.`);
      }
      return withStyle(task.style, question);
    }
    case "caption": {
      const detail = task.detail ?? "long";
      if (detail !== "long" && detail !== "short") {
        throw new PromptError("invalid_task", `Caption detail must be "long" or "short", got ${JSON.stringify(detail)}.`);
      }
      const stylePrefix = readFlag(task.stylePrefix, "stylePrefix");
      if (detail === "short") {
        if (task.lengthHint !== undefined || stylePrefix) {
          throw new PromptError("invalid_task", "lengthHint and stylePrefix apply to long captions only.");
        }
        return SHORT_CAPTION_PROMPT;
      }
      if (task.lengthHint !== undefined) {
        return withStyle(`${STYLE.longCaption} ${checkLengthHint(task.lengthHint)}`, LONG_CAPTION_PROMPT);
      }
      return stylePrefix ? withStyle(STYLE.longCaption, LONG_CAPTION_PROMPT) : LONG_CAPTION_PROMPT;
    }
    case "point": {
      const prompt = fillLabel(POINT_TEMPLATE, cleanLabel(task.label));
      return readFlag(task.stylePrefix, "stylePrefix") ? withStyle(STYLE.pointing, prompt) : prompt;
    }
    case "count": {
      const prompt = fillLabel(COUNT_TEMPLATE, cleanLabel(task.label));
      return readFlag(task.stylePrefix, "stylePrefix") ? withStyle(STYLE.pointCount, prompt) : prompt;
    }
    case "clock":
      return withStyle(STYLE.clocks, CLOCK_QUESTION);
    default: {
      const unknownKind: unknown = (task as { kind?: unknown }).kind;
      throw new PromptError("invalid_task", `Unknown task kind ${JSON.stringify(unknownKind)}; use ask, caption, point, count or clock.`);
    }
  }
}

/** Whether `value` names one of {@link SHORT_ANSWER_STYLES}. */
export function isShortAnswerStyle(value: unknown): value is ShortAnswerStyle {
  return typeof value === "string" && (SHORT_ANSWER_STYLES as readonly string[]).includes(value);
}

function withStyle(style: string, text: string): string {
  return `${style}: ${text}`;
}

function readFlag(value: unknown, name: string): boolean {
  if (value === undefined) {
    return false;
  }
  if (typeof value !== "boolean") {
    throw new PromptError("invalid_task", `${name} must be true or false.`);
  }
  return value;
}

function checkLengthHint(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < LENGTH_HINT_RANGE.min || value > LENGTH_HINT_RANGE.max) {
    throw new PromptError(
      "invalid_task",
      `lengthHint must be an integer from ${LENGTH_HINT_RANGE.min} to ${LENGTH_HINT_RANGE.max} (about the caption's length in characters / 15), got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}
