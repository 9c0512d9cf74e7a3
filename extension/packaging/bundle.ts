/**
 * Bundles what the VSIX runs, with esbuild (`npm run build:extension`, after `tsc`):
 *
 * - dist/extension.js — extension/main.ts; `vscode` is external (VS Code provides it).
 * - dist/client.js — extension/client/client-kit.ts: vscode-languageclient and what uses it, loaded by the
 *   extension on first use (load-client-kit.ts's `require("./client-kit")` becomes `require("./client.js")`),
 *   so activation does not parse ~430 KB of language-client code.
 * - dist/server.js — molmo-server (server/cli/molmo-server.ts): LSP, MCP, the engine; onnxruntime-node and
 *   sharp are external because they load native binaries from their own package folders (the packager ships
 *   them in dist/node_modules); so is @huggingface/tokenizers, which models/ loads through `createRequire`.
 * - dist/backend.js — models/engine/backend.ts on its own: the WebGPU probe child process runs
 *   `require.resolve("./backend")` from the server's folder (models/engine/webgpu-probe.ts), which in the
 *   bundle is dist/.
 *
 * server/cli/version.ts reads package.json three folders above itself, which is right for tsc's output but
 * not for a bundle; the bundle gets the version as a constant instead.
 *
 * `--quiet` prints nothing on success.
 */
import { readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { build, type BuildOptions, type Plugin } from "esbuild";

/** One bundle: entry, output, and what stays outside it. */
export interface BundleSpec {
  readonly name: string;
  /** Relative to the repository root. */
  readonly entry: string;
  readonly outfile: string;
  readonly external: readonly string[];
}

/** The bundles of the VSIX, relative to the repository root. */
export const BUNDLES: readonly BundleSpec[] = [
  { name: "extension", entry: "extension/main.ts", outfile: "dist/extension.js", external: ["vscode"] },
  { name: "client", entry: "extension/client/client-kit.ts", outfile: "dist/client.js", external: ["vscode"] },
  { name: "server", entry: "server/cli/molmo-server.ts", outfile: "dist/server.js", external: ["onnxruntime-node", "sharp", "@huggingface/tokenizers"] },
  { name: "backend", entry: "models/engine/backend.ts", outfile: "dist/backend.js", external: ["onnxruntime-node"] },
];

/** Thrown when a bundle cannot be built; `code` says which step failed. */
export class BundleError extends Error {
  override readonly name = "BundleError";
  constructor(
    readonly code: "entry_missing" | "build_failed",
    message: string,
  ) {
    super(message);
  }
}

/** Replaces server/cli/version.ts with a module that returns the package's version. */
function constantVersionPlugin(version: string): Plugin {
  return {
    name: "molmo-constant-version",
    setup(buildApi) {
      buildApi.onLoad({ filter: /[\\/]server[\\/]cli[\\/]version\.ts$/ }, () => ({
        contents: `export function version(): string { return ${JSON.stringify(version)}; }\n`,
        loader: "ts",
      }));
    },
  };
}

/** Keeps the lazily loaded client kit out of dist/extension.js: it is the separate bundle dist/client.js. */
const lazyClientKitPlugin: Plugin = {
  name: "molmo-lazy-client-kit",
  setup(buildApi) {
    buildApi.onResolve({ filter: /^\.\/client-kit$/ }, () => ({ path: "./client.js", external: true }));
  },
};

/** The esbuild options of one bundle. */
export function bundleOptions(root: string, spec: BundleSpec, version: string): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: [join(root, spec.entry)],
    outfile: join(root, spec.outfile),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: [...spec.external],
    minify: true,
    // Linked maps stay in dist/ for debugging; the VSIX leaves them out.
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    // webgpu-probe.ts's require.resolve("./backend") is meant to stay a runtime lookup: dist/backend.js.
    logOverride: { "require-resolve-not-external": "silent" },
    // The MCP SDK and zod publish ESM and CJS; prefer CJS entry points so the bundle needs no import.meta.
    mainFields: ["main", "module"],
    conditions: ["require", "node"],
    plugins: spec.name === "server" ? [constantVersionPlugin(version)] : spec.name === "extension" ? [lazyClientKitPlugin] : [],
    metafile: false,
  };
}

/** Builds every bundle; returns each output's size in bytes. */
export async function buildBundles(root: string): Promise<{ outfile: string; bytes: number; ms: number }[]> {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: unknown };
  const version = typeof manifest.version === "string" ? manifest.version : "0.0.0";
  const results = [];
  for (const spec of BUNDLES) {
    try {
      statSync(join(root, spec.entry));
    } catch {
      throw new BundleError("entry_missing", `${spec.entry} does not exist; cannot build ${spec.outfile}`);
    }
    const started = performance.now();
    try {
      await build(bundleOptions(root, spec, version));
    } catch (error) {
      throw new BundleError("build_failed", `esbuild failed for ${spec.outfile}: ${error instanceof Error ? error.message : String(error)}`);
    }
    results.push({ outfile: spec.outfile, bytes: statSync(join(root, spec.outfile)).size, ms: performance.now() - started });
  }
  return results;
}

/** The repository root: this file is dist/extension/packaging/bundle.js after tsc. */
export function repositoryRoot(): string {
  return join(__dirname, "..", "..", "..");
}

async function main(): Promise<void> {
  const root = repositoryRoot();
  const quiet = process.argv.includes("--quiet");
  const results = await buildBundles(root);
  if (!quiet) {
    for (const result of results) {
      process.stdout.write(`${relative(root, join(root, result.outfile))}: ${(result.bytes / 1024).toFixed(0)} KB (${result.ms.toFixed(0)} ms)\n`);
    }
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`build:extension: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
