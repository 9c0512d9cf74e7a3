/**
 * Bundles the webview's browser code with esbuild: webview/ui/main.ts → dist/webview/main.js (one IIFE
 * script, the only one the CSP allows) and webview/ui/main.css → dist/webview/main.css. The extension
 * loads both through `asWebviewUri`. `npm run build:webview` runs this file; the browser tests call
 * `bundleWebview` to bundle into a temporary folder with the same settings.
 */
import { build } from "esbuild";
import fs from "node:fs";
import path from "node:path";

/** The repository root: the nearest folder above this file with a package.json (works from dist/ too). */
function findRepoRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

/** The files one bundle writes, relative to its output folder. */
export const WEBVIEW_ASSETS = { script: "main.js", style: "main.css" } as const;

/** Bundles the webview into `outDir` and returns the paths of the script and the stylesheet. */
export async function bundleWebview(outDir: string): Promise<{ script: string; style: string }> {
  const root = findRepoRoot(__dirname);
  await build({
    entryPoints: [path.join(root, "webview/ui/main.ts"), path.join(root, "webview/ui/main.css")],
    outdir: outDir,
    bundle: true,
    format: "iife",
    platform: "browser",
    // VS Code 1.100's Electron runs Chromium 134; ES2022 is well inside it and matches tsconfig's target.
    target: "es2022",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
  });
  return { script: path.join(outDir, WEBVIEW_ASSETS.script), style: path.join(outDir, WEBVIEW_ASSETS.style) };
}

if (require.main === module) {
  const outDir = path.join(findRepoRoot(__dirname), "dist", "webview");
  bundleWebview(outDir).then(
    (files) => console.log(`webview bundled: ${path.relative(process.cwd(), files.script)}, ${path.relative(process.cwd(), files.style)}`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
