/** `count`: how many of something an image shows, with a point on each. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { countInput, countResultOutput } from "../schemas";
import { imageToolAnnotations, type ToolContext } from "./context";
import { handleToolCall } from "./handler";
import { answerResult, pointLines, runMolmo, truncationNote } from "./run-molmo";

/** Registers `count`. */
export function registerCount(server: McpServer, context: ToolContext): void {
  server.registerTool(
    "count",
    {
      title: "Count things in an image",
      description:
        "Ask Molmo to count something in an image. Molmo points at each instance and then states the total, so the result has the " +
        "number, a point per instance (pixels and percent) and the image annotated with numbered markers to check the count against.",
      inputSchema: countInput,
      outputSchema: countResultOutput,
      annotations: imageToolAnnotations(context, "Count things in an image"),
    },
    (args, extra) =>
      handleToolCall("count", context, extra, async () => {
        const { answer, image } = await runMolmo(context, extra, { image: args.image, task: "count", question: args.what, ...(args.options !== undefined ? { options: args.options } : {}) });
        // Molmo normally states the total; without one, the points it placed are the count.
        const count = answer.count ?? answer.points.length;
        const listed = answer.points.length > 0 ? `:\n${pointLines(answer.points)}` : ".";
        const text = `Molmo counted ${count} ${args.what}${listed}`;
        return answerResult(context, { text: text + truncationNote(answer), structured: countResultOutput.parse({ ...answer, count }), points: answer.points, image, annotate: args.annotate });
      }),
  );
}
