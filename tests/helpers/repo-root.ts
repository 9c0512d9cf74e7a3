import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

let cached: string | undefined;

/**
 * The repository root: the nearest directory at or above this file that holds package.json. Works both
 * from the TypeScript sources and from the compiled copy under dist/ (dist/ has no package.json).
 */
export function repoRoot(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, "package.json"))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`repoRoot: no package.json found above ${__dirname}`);
    }
    dir = parent;
  }
}
