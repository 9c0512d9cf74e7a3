/**
 * The command line of the MCP server VS Code starts for its agents: the same molmo-server bundle the
 * language client runs, in `--mcp` (stdio) mode, with the model and policies of the `molmo.*` settings.
 * Pure: no `vscode` import.
 */
import type { ExtensionSettings } from "../config/settings";

/** The provider id; must equal `contributes.mcpServerDefinitionProviders[0].id` in package.json. */
export const MCP_PROVIDER_ID = "molmo";

/** The MCP server definition's command, arguments and environment. */
export interface McpLaunch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/**
 * How to start `molmo-server --mcp`.
 *
 * @param nodePath The extension host's executable (`process.execPath`): VS Code's Electron, which runs as
 *   plain Node with `ELECTRON_RUN_AS_NODE=1`, so the user needs no Node of their own.
 * @param serverModule The bundled server (dist/server.js).
 */
export function mcpLaunch(nodePath: string, serverModule: string, settings: ExtensionSettings): McpLaunch {
  const server = settings.server;
  const args = [serverModule, "--mcp", "--log-level", settings.logLevel];
  if (server.model?.path !== undefined) args.push("--model", server.model.path);
  if (server.executionProvider !== undefined) args.push("--ep", server.executionProvider);
  if (server.maxCrops !== undefined) args.push("--max-crops", String(server.maxCrops));
  if (server.images?.allowOutsideWorkspace === true) args.push("--allow-outside-roots");
  if (server.images?.allowRemote === true) args.push("--allow-remote-images");
  args.push(...settings.serverArgs);
  return { command: nodePath, args, env: { ELECTRON_RUN_AS_NODE: "1" } };
}
