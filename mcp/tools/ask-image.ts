/** `ask_image`: a free question about an image. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { askImageInput, askResultOutput } from "../schemas";
import { imageToolAnnotations, type ToolContext } from "./context";
import { handleToolCall } from "./handler";
import { answerResult, pointLines, runMolmo, truncationNote } from "./run-molmo";

/** Registers `ask_image`. */
export function registerAskImage(server: McpServer, context: ToolContext): void {
  server.registerTool(
    "ask_image",
    {
      title: "Ask Molmo about an image",
      description:
        "Ask the local Molmo vision-language model a question about an image (a screenshot, chart, photo, diagram or UI mockup) and get its " +
        "answer as text. Use it to read text in images, explain what a screenshot shows, or check a chart's values. Molmo answers in English; " +
        "if it points at things, the points come back in pixels and the image comes back annotated with them. For pointing, counting, " +
        "describing or finding a UI element, prefer point_at, count, describe_image or locate_ui_element.",
      inputSchema: askImageInput,
      outputSchema: askResultOutput,
      annotations: imageToolAnnotations(context, "Ask Molmo about an image"),
    },
    (args, extra) =>
      handleToolCall("ask_image", context, extra, async () => {
        const { answer, image } = await runMolmo(context, extra, { image: args.image, task: "ask", question: args.question, ...(args.options !== undefined ? { options: args.options } : {}) });
        const points = answer.points.length > 0 ? `\n\nPoints (pixels of the ${answer.image.width}x${answer.image.height} image):\n${pointLines(answer.points)}` : "";
        return answerResult(context, { text: `${answer.text}${points}${truncationNote(answer)}`, structured: askResultOutput.parse({ ...answer }), points: answer.points, image, annotate: args.annotate });
      }),
  );
}
