/**
 * `npm run package` for linux-x64, checked from the outside: the VSIX holds only what runs (the bundles, the
 * webview's two assets, one platform's native binaries, no sources, maps or type declarations), stays under
 * the 40 MB target, and the molmo-server inside it — unpacked, away from the repository's node_modules —
 * answers `molmo/ask` over LSP on the tiny model with the point of the answer prefix.
 *
 * Needs the build (`npm run build`, which the test script runs first); ~15 s.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { ProgressType, StreamMessageReader, StreamMessageWriter, createProtocolConnection } from "vscode-languageserver-protocol/node";
import { packageTarget } from "../../extension/packaging/package-vsix";
import { EXTENSION_FILES, findTarget } from "../../extension/packaging/vsix-targets";
import type { MolmoAskPartialResult, MolmoAskResult } from "../../server/protocol/molmo-protocol";
import { unzipTo } from "../extension/zip-archive";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const TARGET_MB = 40;
const POINT_PREFIX = '<point x="20.0" y="50.0" alt="red circle">red circle</point>';

void test("the linux-x64 VSIX holds only what runs, under 40 MB, and its molmo-server answers", { timeout: 120_000 }, async (t) => {
  const root = repoRoot();
  const missing = EXTENSION_FILES.filter((file) => !existsSync(join(root, file)));
  assert.deepEqual(missing, [], `not built: ${missing.join(", ")} — run npm run build first`);
  const target = findTarget("linux-x64");
  assert.ok(target !== undefined);

  const work = mkdtempSync(join(tmpdir(), "molmo-vsix-test-"));
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const started = performance.now();
    const vsix = packageTarget(root, target, join(work, "out"), process.env.MOLMO_VSIX_CACHE ?? join(homedir(), ".cache", "molmo-vsix"));
    const megabytes = vsix.bytes / 1024 / 1024;
    t.diagnostic(`${vsix.file}: ${megabytes.toFixed(1)} MB, ${vsix.files} files, ${(vsix.stagedBytes / 1024 / 1024).toFixed(1)} MB unpacked, packed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(megabytes < TARGET_MB, `${megabytes.toFixed(1)} MB is over the ${TARGET_MB} MB target`);

    const unpacked = join(work, "unpacked");
    const names = unzipTo(vsix.file, unpacked).map((entry) => entry.name);
    const files = names.filter((name) => name.startsWith("extension/")).map((name) => name.slice("extension/".length));
    // vsce stores README.md as readme.md and LICENSE as LICENSE.txt.
    const packed = new Set(files.map((file) => file.toLowerCase().replace(/^license\.txt$/, "license")));
    for (const file of EXTENSION_FILES) assert.ok(packed.has(file.toLowerCase()), `${file} is in the VSIX`);
    assert.deepEqual(files.filter((file) => /\.(ts|map|md)$/.test(file) && !/(^readme|\/license)\.md$/i.test(file)), [], "no sources, maps or docs (licences stay)");
    assert.deepEqual(files.filter((file) => /^(src|tests?|models|server|extension|webview)\//.test(file)), [], "no repository folders");
    const natives = files.filter((file) => /\.(node|so(\.\d+)*|dll|dylib)$/.test(file));
    assert.ok(natives.length >= 4, natives.join("\n"));
    for (const native of natives) {
      assert.match(native, /linux[-/]x64|linux-x64/, `${native} is a linux-x64 binary`);
    }
    assert.ok(files.includes("dist/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node"));
    assert.ok(files.some((file) => file.startsWith("dist/node_modules/@img/sharp-libvips-linux-x64/lib/libvips")));

    // The server of the VSIX, run from the unpacked copy (its own dist/node_modules, nothing of the repository's).
    const serverJs = join(unpacked, "extension", "dist", "server.js");
    const workspace = mkdtempSync(join(work, "ws-"));
    const image = join(workspace, "image.png");
    copyFileSync(join(tinyMolmoDir(), "image.png"), image);
    server = spawn(process.execPath, [serverJs, "--stdio", "--model", makeTinyBundle(), "--ep", "cpu"], { cwd: work, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    server.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const connection = createProtocolConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
    connection.listen();
    const folder = pathToFileURL(workspace).href;
    await connection.sendRequest("initialize", { processId: process.pid, rootUri: folder, workspaceFolders: [{ uri: folder, name: "ws" }], capabilities: {} });
    await connection.sendNotification("initialized", {});
    const partials: MolmoAskPartialResult[] = [];
    connection.onProgress(new ProgressType<MolmoAskPartialResult>(), "vsix-partial", (partial) => {
      partials.push(partial);
    });
    const answer: MolmoAskResult = await connection.sendRequest("molmo/ask", {
      image,
      task: "point",
      question: "red circle",
      options: { maxNewTokens: 2, answerPrefix: POINT_PREFIX },
      partialResultToken: "vsix-partial",
    });
    assert.equal(answer.points.length, 1, `${answer.text}\n${stderr}`);
    assert.deepEqual([answer.points[0]?.x, answer.points[0]?.y], [100, 150]);
    assert.ok(partials.length > 0, "partial results streamed");
    await connection.sendRequest("shutdown");
    await connection.sendNotification("exit");
    connection.dispose();
  } finally {
    server?.kill();
    rmSync(work, { recursive: true, force: true });
  }
});
