import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The package version, read from package.json two levels above dist/server/cli. */
export function version(): string {
  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "package.json"), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}
