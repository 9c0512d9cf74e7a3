/**
 * Offers molmo-server's MCP mode to VS Code's agents (`contributes.mcpServerDefinitionProviders` +
 * `vscode.lm.registerMcpServerDefinitionProvider`), so they see Molmo's tools with no configuration.
 *
 * The API was finalised in VS Code 1.101; the extension supports 1.100 (what code-server 4.100 carries),
 * whose @types/vscode has no such declarations and whose function exists only behind an API proposal and
 * throws for extensions that do not declare it. So the API is declared locally below, looked up at run
 * time, and the registration is allowed to fail: on 1.100 Molmo simply has no MCP entry.
 */
import * as vscode from "vscode";
import type { ExtensionSettings } from "../config/settings";
import { MCP_PROVIDER_ID, mcpLaunch } from "./mcp-server-args";

/*
 * Local declarations of the VS Code 1.101 API used here (vscode.d.ts 1.101: `McpStdioServerDefinition`,
 * `McpServerDefinitionProvider`, `lm.registerMcpServerDefinitionProvider`), reduced to what is used.
 * Remove them when engines.vscode moves to ^1.101 and @types/vscode follows.
 */
interface McpStdioServerDefinitionLike {
  readonly label: string;
}
type McpStdioServerDefinitionConstructor = new (
  label: string,
  command: string,
  args?: string[],
  env?: Record<string, string | number | null>,
  version?: string,
) => McpStdioServerDefinitionLike;
interface McpServerDefinitionProviderLike {
  readonly onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): McpStdioServerDefinitionLike[];
}
type RegisterMcpServerDefinitionProvider = (id: string, provider: McpServerDefinitionProviderLike) => vscode.Disposable;

/** What the provider reads on every request (settings change; the server module does not). */
export interface McpProviderOptions {
  readonly serverModule: string;
  readonly version: string;
  readonly settings: () => ExtensionSettings;
  readonly log: vscode.LogOutputChannel;
}

/** The MCP registration, or undefined when this VS Code has no usable API. Fire `changed()` after settings change. */
export interface McpRegistration extends vscode.Disposable {
  changed(): void;
}

/** Registers the provider when VS Code supports it; logs why not otherwise. */
export function registerMcpProvider(options: McpProviderOptions): McpRegistration | undefined {
  const api = vscode as unknown as {
    lm?: { registerMcpServerDefinitionProvider?: RegisterMcpServerDefinitionProvider };
    McpStdioServerDefinition?: McpStdioServerDefinitionConstructor;
  };
  const register = api.lm?.registerMcpServerDefinitionProvider;
  const Definition = api.McpStdioServerDefinition;
  if (typeof register !== "function" || typeof Definition !== "function") {
    options.log.info(`MCP: VS Code ${vscode.version} has no MCP server definition API (1.101+); Molmo's MCP tools are not offered to agents`);
    return undefined;
  }
  const changes = new vscode.EventEmitter<void>();
  const provider: McpServerDefinitionProviderLike = {
    onDidChangeMcpServerDefinitions: changes.event,
    provideMcpServerDefinitions: () => {
      const settings = options.settings();
      if (!settings.mcpEnabled) {
        return [];
      }
      const launch = mcpLaunch(process.execPath, options.serverModule, settings);
      return [new Definition("Molmo", launch.command, [...launch.args], { ...launch.env }, options.version)];
    },
  };
  try {
    const registration = register.call(api.lm, MCP_PROVIDER_ID, provider);
    options.log.info("MCP: Molmo's server definition is offered to VS Code's agents");
    return {
      changed: () => changes.fire(),
      dispose: () => {
        registration.dispose();
        changes.dispose();
      },
    };
  } catch (error) {
    // VS Code 1.100 keeps the function behind the `mcpConfigurationProvider` proposal and throws here.
    changes.dispose();
    options.log.info(`MCP: not registered on VS Code ${vscode.version}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}
