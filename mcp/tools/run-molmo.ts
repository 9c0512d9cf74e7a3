/**
 * The steps every image tool shares: resolve the image against the connection's allowed folders, ask the
 * engine host (cancelled with the call, reporting progress when the client asked for it), and build the result
 * with its short text, structured content and, when the answer has points, the annotated image.
 */
import type { CallToolResult, ContentBlock } from "@modelcontextprotocol/sdk/types.js";
import type { MolmoAskResult, MolmoGenerationOptions, MolmoPoint, MolmoTaskName } from "../../server/protocol/molmo-protocol";
import type { ToolImage } from "../image-input";
import { ProgressReporter, type ToolExtra } from "../progress";
import { annotatedImageContent } from "../tool-results";
import type { ToolContext } from "./context";

/** One question to Molmo, as a tool received it. */
export interface MolmoCall {
  readonly image: string;
  readonly task: MolmoTaskName;
  readonly question?: string;
  readonly options?: MolmoGenerationOptions;
}

/** The answer and the image it is about. */
export interface MolmoCallResult {
  readonly answer: MolmoAskResult;
  readonly image: ToolImage;
}

/**
 * Runs one call through the engine host.
 *
 * @throws {HostError} whatever the image resolution or the host refused or failed with.
 */
export async function runMolmo(context: ToolContext, extra: ToolExtra, call: MolmoCall): Promise<MolmoCallResult> {
  const progress = new ProgressReporter(extra, context.logger);
  try {
    const image = await context.images.resolve(call.image, { signal: extra.signal, requestId: extra.requestId });
    const answer = await context.host.ask({
      image: image.resolved,
      task: call.task,
      ...(call.question !== undefined ? { question: call.question } : {}),
      ...(call.options !== undefined ? { options: call.options } : {}),
      signal: extra.signal,
      onStage: (stage) => progress.stage(stage),
      ...(progress.enabled ? { onText: (delta: string) => progress.textDelta(delta) } : {}),
    });
    return { answer, image };
  } finally {
    progress.finish();
  }
}

/** What a tool returns besides the defaults. */
export interface AnswerParts {
  readonly text: string;
  readonly structured: Record<string, unknown>;
  /** Points to draw on the annotated image (none: no image). */
  readonly points: readonly MolmoPoint[];
  readonly image: ToolImage;
  /** The call's `annotate` argument. */
  readonly annotate: boolean | undefined;
}

/** A successful tool result: the text, the structured content and (when allowed and there are points) the annotated image. */
export async function answerResult(context: ToolContext, parts: AnswerParts): Promise<CallToolResult> {
  const content: ContentBlock[] = [{ type: "text", text: parts.text }];
  if (context.annotatedImages && parts.annotate !== false && parts.points.length > 0) {
    const picture = await annotatedImageContent(parts.image.source, parts.points, context.logger);
    if (picture !== undefined) {
      content.push(picture);
    }
  }
  return { content, structuredContent: parts.structured };
}

/** The points as numbered lines, in pixels. */
export function pointLines(points: readonly MolmoPoint[]): string {
  return points.map((point) => `${point.index}. (${Math.round(point.x)}, ${Math.round(point.y)}) px${point.label !== "" ? ` ${point.label}` : ""}`).join("\n");
}

/** A sentence to append when the answer was cut short. */
export function truncationNote(answer: MolmoAskResult): string {
  return answer.stopReason === "max_new_tokens"
    ? `\n\n(The answer was cut after ${answer.generatedTokens} tokens; pass a larger options.maxNewTokens for all of it.)`
    : "";
}
