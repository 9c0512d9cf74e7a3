/** `point_at`: where something is in an image, in pixels. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { askResultOutput, pointAtInput } from "../schemas";
import { imageToolAnnotations, type ToolContext } from "./context";
import { handleToolCall } from "./handler";
import { answerResult, pointLines, runMolmo, truncationNote } from "./run-molmo";

/** Registers `point_at`. */
export function registerPointAt(server: McpServer, context: ToolContext): void {
  server.registerTool(
    "point_at",
    {
      title: "Point at things in an image",
      description:
        "Ask Molmo to point at every instance of something in an image. Returns the points in pixels of the image (x from the left edge, " +
        "y from the top edge) and in percent of its size, plus the image size, and the image annotated with numbered markers. " +
        "An empty points list means Molmo found none. To click a control in a screenshot, use locate_ui_element; to count, use count.",
      inputSchema: pointAtInput,
      outputSchema: askResultOutput,
      annotations: imageToolAnnotations(context, "Point at things in an image"),
    },
    (args, extra) =>
      handleToolCall("point_at", context, extra, async () => {
        const { answer, image } = await runMolmo(context, extra, { image: args.image, task: "point", question: args.what, ...(args.options !== undefined ? { options: args.options } : {}) });
        const size = `${answer.image.width}x${answer.image.height}`;
        const text =
          answer.points.length > 0
            ? `Molmo pointed at ${answer.points.length} place(s) for "${args.what}" in the ${size} image:\n${pointLines(answer.points)}`
            : `Molmo found no "${args.what}" in the ${size} image. Its answer: ${answer.text}`;
        return answerResult(context, { text: text + truncationNote(answer), structured: askResultOutput.parse({ ...answer }), points: answer.points, image, annotate: args.annotate });
      }),
  );
}
