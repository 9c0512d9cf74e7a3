/**
 * Builds the `molmo` MCP server for one client connection: the tools over the shared engine host, with that
 * connection's roots deciding which images it may read. stdio serves one connection; HTTP builds one server
 * per session (an McpServer speaks to one transport), all sharing the process's engine host.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ClientRoots } from "./client-roots";
import { ToolImageResolver } from "./image-input";
import { MOLMO_INSTRUCTIONS } from "./instructions";
import type { McpServeOptions } from "./options";
import { registerAskImage } from "./tools/ask-image";
import type { ToolContext } from "./tools/context";
import { registerCount } from "./tools/count";
import { registerDescribeImage } from "./tools/describe-image";
import { registerListModels } from "./tools/list-models";
import { registerLocateUiElement } from "./tools/locate-ui-element";
import { registerPointAt } from "./tools/point-at";

/** The server's name in `initialize` (and what clients show). */
export const MCP_SERVER_NAME = "molmo";

/**
 * A configured MCP server, not yet connected to a transport.
 *
 * @param fallbackDir the allow-list when the client lists no roots and there is no `--allow-dir`; the
 *   process's working directory by default.
 */
export function createMolmoMcpServer(options: McpServeOptions, fallbackDir?: string): McpServer {
  const server = new McpServer(
    { name: MCP_SERVER_NAME, title: "Molmo", version: options.version },
    { capabilities: { tools: {} }, instructions: MOLMO_INSTRUCTIONS },
  );
  // Malformed messages and transport failures end up here; the connection goes on serving.
  server.server.onerror = (error) => options.logger.warn(`MCP connection error: ${error.message}`);
  const roots = new ClientRoots(server.server, options.logger);
  const images = new ToolImageResolver(
    roots,
    {
      allowedDirs: options.allowedDirs,
      allowOutsideRoots: options.allowOutsideRoots,
      allowRemote: options.allowRemote,
      ...(fallbackDir !== undefined ? { fallbackDir } : {}),
    },
    options.logger,
  );
  const context: ToolContext = {
    host: options.host,
    images,
    logger: options.logger,
    annotatedImages: options.annotatedImages,
    allowRemote: options.allowRemote,
  };
  registerAskImage(server, context);
  registerPointAt(server, context);
  registerCount(server, context);
  registerDescribeImage(server, context);
  registerLocateUiElement(server, context);
  registerListModels(server, context);
  return server;
}
