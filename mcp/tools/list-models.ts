/** `list_models`: the models the server can use and the engine's state. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { listModelsInput, listModelsOutput } from "../schemas";
import type { ToolContext } from "./context";
import { handleToolCall } from "./handler";

/** Registers `list_models`. */
export function registerListModels(server: McpServer, context: ToolContext): void {
  server.registerTool(
    "list_models",
    {
      title: "List Molmo models",
      description:
        "List the Molmo model bundles this server knows of (the configured one and those in its --models-dir folders), which one is " +
        "selected and loaded, and the engine's state: loading, ready, busy (with the queue), or error with the reason. " +
        "Call it when an image tool fails with no_model or model_load_failed.",
      inputSchema: listModelsInput,
      outputSchema: listModelsOutput,
      annotations: { title: "List Molmo models", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (_args, extra) =>
      handleToolCall("list_models", context, extra, async () => {
        const models = await context.host.listModels();
        const status = context.host.status();
        const lines = models.map((model) => `- ${model.name} (${model.variant}, ${model.dtype}) at ${model.path}${model.selected ? ", selected" : ""}${model.loaded ? ", loaded" : ""}`);
        const engine = `Engine: ${status.state}${status.ep !== undefined ? ` on ${status.ep}` : ""}, ${status.queue.running} running, ${status.queue.waiting} waiting (limit ${status.queue.limit}).`;
        const problem = status.error !== undefined ? `\nLast load failed: ${status.error.message}` : "";
        const text = models.length > 0 ? `${models.length} model(s):\n${lines.join("\n")}\n${engine}${problem}` : `No model bundles are configured or found (start the server with --model <bundle>).\n${engine}${problem}`;
        return { content: [{ type: "text", text }], structuredContent: listModelsOutput.parse({ models, status }) };
      }),
  );
}
