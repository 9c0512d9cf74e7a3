/**
 * Wraps a tool's work so that every outcome is a tool result: a failure becomes an `isError` result with a
 * message the agent can act on (never a protocol error or a crash), and each call is logged with its outcome
 * and duration.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { toHostError } from "../../server/host/host-errors";
import type { ToolExtra } from "../progress";
import { errorResult, ToolError } from "../tool-results";
import type { ToolContext } from "./context";

/** Runs `work` for the tool `name`, turning failures into error results. */
export async function handleToolCall(name: string, context: ToolContext, extra: ToolExtra, work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  const started = performance.now();
  try {
    const result = await work();
    context.logger.debug(`Tool ${name} answered in ${Math.round(performance.now() - started)} ms.`);
    return result;
  } catch (error) {
    const failure = error instanceof ToolError ? error : toHostError(error);
    const level = failure.code === "engine_failed" || failure.code === "out_of_memory" ? "error" : "info";
    const cancelled = extra.signal.aborted ? " (the client cancelled it)" : "";
    context.logger[level](`Tool ${name} failed after ${Math.round(performance.now() - started)} ms${cancelled}: [${failure.code}] ${failure.message}`);
    return errorResult(failure);
  }
}
