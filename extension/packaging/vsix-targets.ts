/**
 * What a platform VSIX contains besides the bundles: the runtime npm packages molmo-server loads at run time
 * (the two native modules and the small JavaScript packages they require), and of those only the files that
 * run on that platform. Pure: no file system access, so the rules are unit-tested.
 *
 * Why these packages: dist/server.js keeps onnxruntime-node and sharp external (bundle.ts). onnxruntime-node
 * requires onnxruntime-common and loads bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node; sharp
 * requires detect-libc, semver and @img/colour, and loads `@img/sharp-<platform>-<arch>/sharp.node`, which
 * links against `@img/sharp-libvips-<platform>-<arch>` (on Windows libvips is inside the sharp package).
 * @huggingface/tokenizers is pure JavaScript but loaded through `createRequire` (models/tokenizer/
 * hf-tokenizers.ts), which esbuild cannot follow, so it ships as a package too (its CommonJS build only).
 */

/** A VSIX platform target (`vsce package --target`). */
export interface VsixTarget {
  /** The vsce target name, e.g. `linux-x64`. */
  readonly name: string;
  /** `process.platform` / `process.arch` values of that target (onnxruntime-node's bin/ folder names). */
  readonly platform: "linux" | "darwin" | "win32";
  readonly arch: "x64" | "arm64";
  /** sharp's platform packages for the target. */
  readonly sharpPackages: readonly string[];
}

/** The targets the packager knows; `linux-x64` is built by default. */
export const VSIX_TARGETS: readonly VsixTarget[] = [
  { name: "linux-x64", platform: "linux", arch: "x64", sharpPackages: ["@img/sharp-linux-x64", "@img/sharp-libvips-linux-x64"] },
  { name: "linux-arm64", platform: "linux", arch: "arm64", sharpPackages: ["@img/sharp-linux-arm64", "@img/sharp-libvips-linux-arm64"] },
  { name: "darwin-arm64", platform: "darwin", arch: "arm64", sharpPackages: ["@img/sharp-darwin-arm64", "@img/sharp-libvips-darwin-arm64"] },
  { name: "win32-x64", platform: "win32", arch: "x64", sharpPackages: ["@img/sharp-win32-x64"] },
];

/** The target of a vsce target name, or undefined. */
export function findTarget(name: string): VsixTarget | undefined {
  return VSIX_TARGETS.find((target) => target.name === name);
}

/** Runtime packages shipped for every target (their JavaScript only). */
export const RUNTIME_PACKAGES: readonly string[] = [
  "onnxruntime-node",
  "onnxruntime-common",
  "sharp",
  "@img/colour",
  "detect-libc",
  "semver",
  "@huggingface/tokenizers",
];

/** Every package a target ships: the runtime packages and its sharp platform packages. */
export function packagesFor(target: VsixTarget): string[] {
  return [...RUNTIME_PACKAGES, ...target.sharpPackages];
}

const LICENSE = /^(licen[cs]e|notice|third[-_]party[-_]notices)(\.[a-z]+)?$/i;
// Type declarations, TypeScript sources, source maps, docs and ESM copies are never loaded by dist/server.js.
const NEVER = /(\.d\.[cm]?ts|\.ts|\.map|\.md|\.markdown|\.mjs|\.gyp|\.cc|\.h)$/i;

/**
 * Whether a file of a shipped package goes into the VSIX of `target`.
 *
 * @param packageName e.g. `onnxruntime-node` or `@img/sharp-linux-x64`.
 * @param relativePath the file's path inside the package, with `/` separators.
 */
export function shipsFile(packageName: string, relativePath: string, target: VsixTarget): boolean {
  const path = relativePath.replace(/\\/g, "/");
  // Nested package.json files matter too: onnxruntime-common's dist/cjs/package.json says "commonjs".
  if (path === "package.json" || path.endsWith("/package.json") || (!path.includes("/") && LICENSE.test(path))) {
    return true;
  }
  if (NEVER.test(path)) {
    return false;
  }
  switch (packageName) {
    case "onnxruntime-node": {
      // Native binaries of this platform only: bin/napi-v6/<platform>/<arch>/ (all five platforms are in the tarball).
      const binary = /^bin\/napi-v\d+\/([^/]+)\/([^/]+)\//.exec(path);
      if (binary !== null) {
        // macOS: the tarball carries libonnxruntime.1.dylib twice (also as libonnxruntime.1.30.0.dylib: npm has no
        // symlinks); the binding loads @rpath/libonnxruntime.1.dylib, so the fully versioned copy stays out (45 MB).
        if (/libonnxruntime\.\d+\.\d+\.\d+\.dylib$/.test(path)) return false;
        return binary[1] === target.platform && binary[2] === target.arch;
      }
      return path.startsWith("dist/") && path.endsWith(".js");
    }
    case "onnxruntime-common":
      return path.startsWith("dist/cjs/") && path.endsWith(".js");
    case "sharp":
      return path.startsWith("dist/") && path.endsWith(".cjs");
    case "@huggingface/tokenizers":
      return path === "dist/tokenizers.cjs";
    case "semver":
      return path.endsWith(".js") && !path.startsWith("bin/");
    default:
      // Small packages (detect-libc, @img/colour) and the platform packages (binaries, libvips): everything left.
      return !path.startsWith("src/") && !path.startsWith("test/") && !path.startsWith("docs/");
  }
}

/** The files of the extension itself a VSIX contains, relative to the repository root. */
export const EXTENSION_FILES: readonly string[] = [
  "package.json",
  "README.md",
  "LICENSE",
  "dist/extension.js",
  "dist/client.js",
  "dist/server.js",
  "dist/backend.js",
  "dist/webview/main.js",
  "dist/webview/main.css",
];

/**
 * The package.json of the VSIX: the manifest without what only the repository needs (scripts, dependency
 * lists, the CLI's `bin`). vsce reads it for the manifest; `npm` never runs on it.
 */
export function vsixManifest(manifest: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { scripts: _scripts, devDependencies: _devDependencies, dependencies: _dependencies, bin: _bin, private: _private, ...rest } = manifest;
  return rest;
}
