/**
 * The MCP front end of molmo-server: the `molmo` server's tools over the shared engine host, served on stdio
 * (`--mcp`) or streamable HTTP (`--mcp-http`). The CLI (server/cli/molmo-server.ts) builds the EngineHost and
 * calls one of these.
 */
export { serveMcpStdio, type McpStdioServer } from "./stdio";
export { serveMcpHttp, MCP_PATH, type McpHttpServer } from "./http/http-server";
export { createMolmoMcpServer, MCP_SERVER_NAME } from "./server";
export type { McpHttpServeOptions, McpServeOptions } from "./options";
