/**
 * `npm run package`: builds platform VSIX files that contain only what runs — the bundles (bundle.ts), the
 * webview's assets, and one platform's native binaries (vsix-targets.ts says which files).
 *
 * How: for each target a staging folder receives the manifest, README, LICENSE, the bundles and a curated
 * dist/node_modules (the runtime packages, filtered per platform), and `vsce package --target <t>
 * --no-dependencies` packs it, with the repository's .vscodeignore as a second filter. dist/node_modules is
 * where Node looks first for dist/server.js's `require("onnxruntime-node")`. Staging keeps vsce away from the
 * repository's own node_modules (hundreds of MB of dev tools) and needs no `npm install`.
 *
 * Native packages of other platforms: onnxruntime-node's npm tarball carries every platform; sharp's
 * `@img/*` platform packages are taken from node_modules when installed, else fetched once with `npm pack`
 * from the npm registry into a cache folder (`$MOLMO_VSIX_CACHE`, default ~/.cache/molmo-vsix).
 *
 * Usage: node dist/extension/packaging/package-vsix.js [--target linux-x64|linux-arm64|darwin-arm64|win32-x64|all]...
 *        [--out <folder>] (default: dist/vsix). Prints one line per VSIX with its size.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { repositoryRoot } from "./bundle";
import { EXTENSION_FILES, VSIX_TARGETS, findTarget, packagesFor, shipsFile, vsixManifest, type VsixTarget } from "./vsix-targets";

/** Thrown for a packaging step that cannot succeed; `code` says which. */
export class PackagingError extends Error {
  override readonly name = "PackagingError";
  constructor(
    readonly code: "not_built" | "bad_target" | "package_missing" | "fetch_failed" | "vsce_failed",
    message: string,
  ) {
    super(message);
  }
}

/** One VSIX built. */
export interface VsixResult {
  readonly target: string;
  readonly file: string;
  readonly bytes: number;
  /** Bytes of the staged files before compression. */
  readonly stagedBytes: number;
  readonly files: number;
}

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** The version of an `@img/*` package that the installed sharp expects. */
function expectedVersion(root: string, packageName: string): string | undefined {
  if (!packageName.startsWith("@img/sharp-")) {
    return undefined;
  }
  return readJson<PackageJson>(join(root, "node_modules", "sharp", "package.json")).optionalDependencies?.[packageName];
}

/** The folder of a package: node_modules when installed (at the expected version), else the npm pack cache. */
export function packageFolder(root: string, packageName: string, cacheDir: string): string {
  const installed = join(root, "node_modules", packageName);
  const wanted = expectedVersion(root, packageName);
  if (existsSync(join(installed, "package.json"))) {
    const version = readJson<PackageJson>(join(installed, "package.json")).version;
    if (wanted === undefined || version === wanted) {
      return installed;
    }
  }
  if (wanted === undefined) {
    throw new PackagingError("package_missing", `${packageName} is not installed in node_modules; run npm ci`);
  }
  return fetchPackage(packageName, wanted, cacheDir);
}

/** `npm pack <name>@<version>` into the cache and unpacks it (once). */
function fetchPackage(packageName: string, version: string, cacheDir: string): string {
  const folder = join(cacheDir, `${packageName.replace("/", "+")}@${version}`);
  const unpacked = join(folder, "package");
  if (existsSync(join(unpacked, "package.json"))) {
    return unpacked;
  }
  mkdirSync(folder, { recursive: true });
  try {
    const output = execFileSync("npm", ["pack", `${packageName}@${version}`, "--pack-destination", folder, "--silent"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      // npm is a .cmd script on Windows, which only a shell runs.
      shell: process.platform === "win32",
    });
    const tarball = output.trim().split("\n").pop() ?? "";
    execFileSync("tar", ["-xzf", join(folder, tarball), "-C", folder], { stdio: "pipe" });
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw new PackagingError(
      "fetch_failed",
      `could not fetch ${packageName}@${version} from the npm registry (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`,
    );
  }
  return unpacked;
}

function listFiles(folder: string, prefix = ""): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(folder, prefix), { withFileTypes: true })) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...listFiles(folder, path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

function copyInto(source: string, target: string): number {
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  return statSync(target).size;
}

/** Builds the VSIX of one target from the built repository. */
export function packageTarget(root: string, target: VsixTarget, outDir: string, cacheDir: string): VsixResult {
  for (const file of EXTENSION_FILES) {
    if (!existsSync(join(root, file))) {
      throw new PackagingError("not_built", `${file} is missing; run npm run build first (npm run package does)`);
    }
  }
  const manifest = readJson<Record<string, unknown>>(join(root, "package.json"));
  const stage = mkdtempSync(join(tmpdir(), `molmo-vsix-${target.name}-`));
  try {
    let stagedBytes = 0;
    let files = 0;
    for (const file of EXTENSION_FILES.filter((name) => name !== "package.json")) {
      stagedBytes += copyInto(join(root, file), join(stage, file));
      files += 1;
    }
    writeFileSync(join(stage, "package.json"), `${JSON.stringify(vsixManifest(manifest), null, 2)}\n`);
    files += 1;
    for (const packageName of packagesFor(target)) {
      const folder = packageFolder(root, packageName, cacheDir);
      for (const file of listFiles(folder).filter((path) => shipsFile(packageName, path, target))) {
        stagedBytes += copyInto(join(folder, file), join(stage, "dist", "node_modules", packageName, file));
        files += 1;
      }
    }
    mkdirSync(outDir, { recursive: true });
    const version = typeof manifest.version === "string" ? manifest.version : "0.0.0";
    const name = typeof manifest.name === "string" ? manifest.name : "extension";
    const out = join(outDir, `${name}-${version}-${target.name}.vsix`);
    const vsce = join(root, "node_modules", "@vscode", "vsce", "vsce");
    try {
      execFileSync(
        process.execPath,
        [
          vsce,
          "package",
          "--target",
          target.name,
          "--no-dependencies",
          "--ignoreFile",
          join(root, ".vscodeignore"),
          "--allow-missing-repository",
          "--no-rewrite-relative-links",
          "--out",
          out,
        ],
        { cwd: stage, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" },
      );
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? "";
      throw new PackagingError("vsce_failed", `vsce package --target ${target.name} failed: ${stderr.trim() || String(error)}`);
    }
    return { target: target.name, file: out, bytes: statSync(out).size, stagedBytes, files };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Reads `--target` (repeatable, or `all`) and `--out`. */
export function parsePackageArgs(argv: readonly string[], root: string): { targets: VsixTarget[]; outDir: string } {
  const names: string[] = [];
  let outDir = join(root, "dist", "vsix");
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = argv[i + 1];
    if ((arg === "--target" || arg === "--out") && value === undefined) {
      throw new PackagingError("bad_target", `${arg} needs a value`);
    }
    if (arg === "--target") {
      names.push(...value.split(","));
      i += 1;
    } else if (arg === "--out") {
      outDir = value;
      i += 1;
    } else if (arg !== undefined) {
      throw new PackagingError("bad_target", `unknown argument ${arg}`);
    }
  }
  if (names.includes("all")) {
    return { targets: [...VSIX_TARGETS], outDir };
  }
  const targets = (names.length > 0 ? names : ["linux-x64"]).map((name) => {
    const target = findTarget(name);
    if (target === undefined) {
      throw new PackagingError("bad_target", `unknown target ${name}; known: ${VSIX_TARGETS.map((known) => known.name).join(", ")}, all`);
    }
    return target;
  });
  return { targets, outDir };
}

function main(): void {
  const root = repositoryRoot();
  const { targets, outDir } = parsePackageArgs(process.argv.slice(2), root);
  const cacheDir = process.env.MOLMO_VSIX_CACHE ?? join(homedir(), ".cache", "molmo-vsix");
  for (const target of targets) {
    const started = performance.now();
    const result = packageTarget(root, target, outDir, cacheDir);
    const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      `${relative(process.cwd(), result.file)}: ${mb(result.bytes)} MB (${result.files} files, ${mb(result.stagedBytes)} MB unpacked, ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
    );
  }
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`package: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
