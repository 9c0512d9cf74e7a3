/**
 * What every tool handler of one client connection needs: the shared engine host, the connection's image
 * resolver (its roots), the logger and the output settings.
 */
import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../../models/engine/logger";
import type { EngineHost } from "../../server/host/engine-host";
import type { ToolImageResolver } from "../image-input";

/** The context of the tools of one connection. */
export interface ToolContext {
  readonly host: EngineHost;
  readonly images: ToolImageResolver;
  readonly logger: Logger;
  /** Attach annotated images to answers with points (`--no-annotated-images` turns it off). */
  readonly annotatedImages: boolean;
  /** Whether remote images may be fetched (the tools then reach outside the machine). */
  readonly allowRemote: boolean;
}

/**
 * The annotations of the image tools: they read an image and change nothing, a repeated call has no further
 * effect, and they only reach the network when remote images are allowed.
 */
export function imageToolAnnotations(context: ToolContext, title: string): ToolAnnotations {
  return { title, readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: context.allowRemote };
}
