/** `describe_image`: a description of the whole image. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SHORT_CAPTION_PROMPT } from "../../models/prompt/templates";
import { askResultOutput, describeImageInput } from "../schemas";
import { imageToolAnnotations, type ToolContext } from "./context";
import { handleToolCall } from "./handler";
import { answerResult, runMolmo, truncationNote } from "./run-molmo";

/** Registers `describe_image`. */
export function registerDescribeImage(server: McpServer, context: ToolContext): void {
  server.registerTool(
    "describe_image",
    {
      title: "Describe an image",
      description:
        "Ask Molmo to describe an image: 'short' gives a sentence or two (e.g. for alt text), 'detailed' (default) a full paragraph of " +
        "what the image shows, including text it can read. Use ask_image instead when you have a specific question.",
      inputSchema: describeImageInput,
      outputSchema: askResultOutput,
      annotations: imageToolAnnotations(context, "Describe an image"),
    },
    (args, extra) =>
      handleToolCall("describe_image", context, extra, async () => {
        // Molmo's long-caption prompt gives the detailed description; the short one is a plain question (no short-caption
        // task exists in the released fine-tuning data, see models/prompt/templates.ts).
        const call = args.detail === "short" ? { task: "ask" as const, question: SHORT_CAPTION_PROMPT } : { task: "caption" as const };
        const { answer, image } = await runMolmo(context, extra, { image: args.image, ...call, ...(args.options !== undefined ? { options: args.options } : {}) });
        return answerResult(context, { text: answer.text + truncationNote(answer), structured: askResultOutput.parse({ ...answer }), points: answer.points, image, annotate: undefined });
      }),
  );
}
