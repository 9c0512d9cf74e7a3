/** `locate_ui_element`: where to click in a screenshot. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ToolError } from "../tool-results";
import { locateResultOutput, locateUiElementInput } from "../schemas";
import { imageToolAnnotations, type ToolContext } from "./context";
import { handleToolCall } from "./handler";
import { answerResult, runMolmo } from "./run-molmo";

/** Registers `locate_ui_element`. */
export function registerLocateUiElement(server: McpServer, context: ToolContext): void {
  server.registerTool(
    "locate_ui_element",
    {
      title: "Locate a UI element in a screenshot",
      description:
        "Find a button, field, link, tab or icon in a screenshot from a description and get the pixel to click: click.x / click.y in " +
        "pixels of the screenshot (rounded), the screenshot's size, and every candidate Molmo pointed at (the first is the click target). " +
        "Describe the element as a user would ('the blue Submit button', 'the email field'). If the screenshot was scaled from the screen " +
        "(HiDPI, a resized capture), scale the point to screen coordinates before clicking. Returns an error result when Molmo finds " +
        "no such element: describe it differently or check that it is visible in the screenshot.",
      inputSchema: locateUiElementInput,
      outputSchema: locateResultOutput,
      annotations: imageToolAnnotations(context, "Locate a UI element in a screenshot"),
    },
    (args, extra) =>
      handleToolCall("locate_ui_element", context, extra, async () => {
        const { answer, image } = await runMolmo(context, extra, {
          image: args.screenshot,
          task: "point",
          question: args.element,
          ...(args.options !== undefined ? { options: args.options } : {}),
        });
        const target = answer.points[0];
        if (target === undefined) {
          throw new ToolError(
            "element_not_found",
            `Molmo found no "${args.element}" in the ${answer.image.width}x${answer.image.height} screenshot (its answer: ${JSON.stringify(answer.text)}). ` +
              "Describe the element differently (its visible label, colour or position), or check that it is visible in the screenshot.",
          );
        }
        const click = { x: Math.round(target.x), y: Math.round(target.y) };
        const others = answer.points.length > 1 ? ` (${answer.points.length - 1} other candidate(s) in candidates)` : "";
        const text = `Click at (${click.x}, ${click.y}) in the ${answer.image.width}x${answer.image.height} screenshot to reach "${args.element}"${others}.`;
        return answerResult(context, {
          text,
          structured: locateResultOutput.parse({
            click,
            element: args.element,
            image: answer.image,
            candidates: answer.points,
            text: answer.text,
            ep: answer.ep,
            model: answer.model,
            timings: answer.timings,
          }),
          points: answer.points,
          image,
          annotate: args.annotate,
        });
      }),
  );
}
