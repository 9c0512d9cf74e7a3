/**
 * The packaging rules (extension/packaging/): which files of the runtime packages each platform's VSIX
 * ships, the VSIX manifest, the packager's arguments, and the bundles' externals.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BUNDLES } from "../../extension/packaging/bundle";
import { PackagingError, parsePackageArgs } from "../../extension/packaging/package-vsix";
import { RUNTIME_PACKAGES, VSIX_TARGETS, findTarget, packagesFor, shipsFile, vsixManifest, type VsixTarget } from "../../extension/packaging/vsix-targets";

function target(name: string): VsixTarget {
  const found = findTarget(name);
  assert.ok(found !== undefined, name);
  return found;
}

const linux = target("linux-x64");
const mac = target("darwin-arm64");
const windows = target("win32-x64");

void test("onnxruntime-node: its JavaScript everywhere, each platform's binaries only in that platform's VSIX", () => {
  const binding = (platform: string, arch: string): string => `bin/napi-v6/${platform}/${arch}/onnxruntime_binding.node`;
  assert.equal(shipsFile("onnxruntime-node", binding("linux", "x64"), linux), true);
  assert.equal(shipsFile("onnxruntime-node", "bin/napi-v6/linux/x64/libonnxruntime.so.1", linux), true);
  assert.equal(shipsFile("onnxruntime-node", binding("linux", "arm64"), linux), false);
  assert.equal(shipsFile("onnxruntime-node", binding("darwin", "arm64"), linux), false);
  assert.equal(shipsFile("onnxruntime-node", binding("darwin", "arm64"), mac), true);
  assert.equal(shipsFile("onnxruntime-node", "bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib", mac), true, "what the binding loads");
  assert.equal(shipsFile("onnxruntime-node", "bin/napi-v6/darwin/arm64/libonnxruntime.1.30.0.dylib", mac), false, "an identical copy");
  assert.equal(shipsFile("onnxruntime-node", "bin/napi-v6/win32/x64/DirectML.dll", windows), true);
  assert.equal(shipsFile("onnxruntime-node", "bin/napi-v6/win32/x64/DirectML.dll", linux), false);
  assert.equal(shipsFile("onnxruntime-node", "dist/index.js", linux), true);
  assert.equal(shipsFile("onnxruntime-node", "dist/index.js.map", linux), false);
  assert.equal(shipsFile("onnxruntime-node", "dist/index.d.ts", linux), false);
  assert.equal(shipsFile("onnxruntime-node", "script/install.js", linux), false, "install scripts never run from a VSIX");
  assert.equal(shipsFile("onnxruntime-node", "package.json", linux), true);
});

void test("the JavaScript packages ship their CommonJS build, package.json files and licences only", () => {
  assert.equal(shipsFile("onnxruntime-common", "dist/cjs/index.js", linux), true);
  assert.equal(shipsFile("onnxruntime-common", "dist/cjs/package.json", linux), true, "it marks the folder as CommonJS");
  assert.equal(shipsFile("onnxruntime-common", "dist/esm/index.js", linux), false);
  assert.equal(shipsFile("onnxruntime-common", "lib/index.ts", linux), false);
  assert.equal(shipsFile("sharp", "dist/index.cjs", linux), true);
  assert.equal(shipsFile("sharp", "dist/index.mjs", linux), false);
  assert.equal(shipsFile("sharp", "src/binding.gyp", linux), false);
  assert.equal(shipsFile("sharp", "install/build.js", linux), false);
  assert.equal(shipsFile("sharp", "LICENSE", linux), true);
  assert.equal(shipsFile("@huggingface/tokenizers", "dist/tokenizers.cjs", linux), true);
  assert.equal(shipsFile("@huggingface/tokenizers", "dist/tokenizers.min.mjs", linux), false);
  assert.equal(shipsFile("semver", "functions/coerce.js", linux), true);
  assert.equal(shipsFile("semver", "bin/semver.js", linux), false);
  assert.equal(shipsFile("detect-libc", "lib/detect-libc.js", linux), true);
  assert.equal(shipsFile("detect-libc", "README.md", linux), false);
  assert.equal(shipsFile("@img/sharp-libvips-linux-x64", "lib/libvips-cpp.so.8.18.7", linux), true);
  assert.equal(shipsFile("@img/sharp-libvips-linux-x64", "lib/glib-2.0/include/glibconfig.h", linux), false);
});

void test("each target ships the runtime packages and its own sharp binaries", () => {
  assert.deepEqual(
    VSIX_TARGETS.map((candidate) => candidate.name),
    ["linux-x64", "linux-arm64", "darwin-arm64", "win32-x64"],
  );
  assert.deepEqual(packagesFor(linux).slice(RUNTIME_PACKAGES.length), ["@img/sharp-linux-x64", "@img/sharp-libvips-linux-x64"]);
  assert.deepEqual(packagesFor(windows).slice(RUNTIME_PACKAGES.length), ["@img/sharp-win32-x64"], "libvips is inside sharp-win32-x64");
  for (const candidate of VSIX_TARGETS) {
    assert.ok(candidate.sharpPackages.every((name) => name.includes(`${candidate.platform}-${candidate.arch}`)), candidate.name);
  }
  assert.equal(findTarget("linux-armhf"), undefined);
});

void test("the VSIX manifest drops what only the repository needs", () => {
  const manifest = vsixManifest({ name: "molmo-vscode", version: "1.0.0", main: "./dist/extension.js", scripts: {}, dependencies: {}, devDependencies: {}, bin: {}, private: true, contributes: {} });
  assert.deepEqual(manifest, { name: "molmo-vscode", version: "1.0.0", main: "./dist/extension.js", contributes: {} });
});

void test("packager arguments: linux-x64 by default, several or all targets, an output folder", () => {
  assert.deepEqual(parsePackageArgs([], "/repo").targets.map((t) => t.name), ["linux-x64"]);
  assert.equal(parsePackageArgs([], "/repo").outDir, "/repo/dist/vsix");
  const two = parsePackageArgs(["--target", "linux-x64,win32-x64", "--out", "/tmp/v"], "/repo");
  assert.deepEqual(two.targets.map((t) => t.name), ["linux-x64", "win32-x64"]);
  assert.equal(two.outDir, "/tmp/v");
  assert.equal(parsePackageArgs(["--target", "all"], "/repo").targets.length, VSIX_TARGETS.length);
  assert.throws(() => parsePackageArgs(["--target", "solaris-sparc"], "/repo"), (error: unknown) => error instanceof PackagingError && error.code === "bad_target");
  assert.throws(() => parsePackageArgs(["--out"], "/repo"), /--out needs a value/);
  assert.throws(() => parsePackageArgs(["--verbose"], "/repo"), /unknown argument --verbose/);
});

void test("bundles: vscode stays external to the extension; native and createRequire'd packages to the server", () => {
  const byName = Object.fromEntries(BUNDLES.map((bundle) => [bundle.name, bundle]));
  assert.deepEqual(byName.extension?.external, ["vscode"]);
  assert.deepEqual(byName.client?.external, ["vscode"]);
  assert.deepEqual(byName.server?.external, ["onnxruntime-node", "sharp", "@huggingface/tokenizers"]);
  assert.equal(byName.backend?.outfile, "dist/backend.js", "the WebGPU probe child requires ./backend beside the server bundle");
});
