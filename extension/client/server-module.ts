/**
 * Which molmo-server the extension runs. An installed VSIX carries the esbuild bundle dist/server.js (with
 * onnxruntime-node and sharp beside it in dist/node_modules). A development checkout also has tsc's output
 * dist/server/cli/molmo-server.js, which is what `npx tsc -p .` refreshes; in development and test mode that
 * one comes first so a test never runs a stale bundle. Pure: `exists` is injected.
 */
import { join } from "node:path";

/** The bundle, relative to the extension folder. */
export const BUNDLED_SERVER = join("dist", "server.js");
/** tsc's output, relative to the extension folder. */
export const COMPILED_SERVER = join("dist", "server", "cli", "molmo-server.js");

/** Thrown when neither server file exists (a broken install or an unbuilt checkout). */
export class ServerModuleError extends Error {
  override readonly name = "ServerModuleError";
  readonly code = "server_missing";
}

/** The server module to run, or a {@link ServerModuleError} naming the files looked for. */
export function findServerModule(extensionPath: string, development: boolean, exists: (path: string) => boolean): string {
  const order = development ? [COMPILED_SERVER, BUNDLED_SERVER] : [BUNDLED_SERVER, COMPILED_SERVER];
  for (const relative of order) {
    const candidate = join(extensionPath, relative);
    if (exists(candidate)) {
      return candidate;
    }
  }
  throw new ServerModuleError(
    `molmo-server is missing: neither ${order.map((relative) => join(extensionPath, relative)).join(" nor ")} exists. ` +
      "Reinstall the extension, or in a checkout run `npm run build:extension`.",
  );
}
