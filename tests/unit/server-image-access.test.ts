/**
 * Where request images may come from: relative paths found beside the document then in the workspace folders,
 * files outside the allowed folders refused (symlinks judged by what they point to), remote images only when
 * allowed, URIs of other schemes refused with a message that says what to pass instead.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { HostError, type HostErrorCode } from "../../server/host/host-errors";
import { isInside, resolveImageReference, type ImageAccessPolicy } from "../../server/host/image-access";

const base = realpathSync(mkdtempSync(join(tmpdir(), "molmo-access-")));
const workspace = join(base, "workspace");
const docs = join(workspace, "docs");
const other = join(base, "other");
for (const dir of [workspace, docs, join(workspace, "img"), other]) {
  mkdirSync(dir, { recursive: true });
}
writeFileSync(join(docs, "beside.png"), "png");
writeFileSync(join(workspace, "img", "shot.png"), "png");
writeFileSync(join(workspace, "top.png"), "png");
writeFileSync(join(other, "secret.png"), "png");
symlinkSync(join(other, "secret.png"), join(workspace, "escape.png"));
symlinkSync(join(workspace, "img", "shot.png"), join(other, "link-in.png"));
after(() => rmSync(base, { recursive: true, force: true }));

const strict: ImageAccessPolicy = { roots: [workspace], allowOutsideRoots: false, allowRemote: false };

async function refused(reference: string, code: HostErrorCode, message: RegExp, policy = strict, baseDir?: string): Promise<void> {
  await assert.rejects(resolveImageReference(reference, policy, baseDir), (error: unknown) => {
    assert.ok(error instanceof HostError);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

void describe("resolveImageReference", () => {
  void it("finds a relative path beside the document first, then in the workspace folders", async () => {
    assert.deepEqual(await resolveImageReference("beside.png", strict, docs), { kind: "file", path: join(docs, "beside.png") });
    assert.deepEqual(await resolveImageReference("img/shot.png", strict, docs), { kind: "file", path: join(workspace, "img", "shot.png") });
    assert.deepEqual(await resolveImageReference("../top.png", strict, docs), { kind: "file", path: join(workspace, "top.png") });
    assert.deepEqual(await resolveImageReference("  top.png  ", strict), { kind: "file", path: join(workspace, "top.png") });
  });

  void it("takes absolute paths and file: URIs", async () => {
    const shot = join(workspace, "img", "shot.png");
    assert.deepEqual(await resolveImageReference(shot, strict), { kind: "file", path: shot });
    assert.deepEqual(await resolveImageReference(pathToFileURL(shot).href, strict), { kind: "file", path: shot });
  });

  void it("says where it looked when the image is not there", async () => {
    await refused("missing.png", "image_not_found", new RegExp(`${join(docs, "missing.png")}.*${join(workspace, "missing.png")}`), strict, docs);
    await refused("missing.png", "image_not_found", /no document folder or workspace folder/, { ...strict, roots: [] });
  });

  void it("refuses files outside the allowed folders, also through a symlink, unless allowed", async () => {
    await refused(join(other, "secret.png"), "outside_workspace", /outside the workspace.*molmo\.images\.allowOutsideWorkspace/);
    await refused("../other/secret.png", "outside_workspace", /outside the workspace/, strict, workspace);
    await refused("escape.png", "outside_workspace", /escape\.png \(which resolves to .*secret\.png\)/);
    await refused(join(other, "secret.png"), "outside_workspace", /no workspace folder is open/, { ...strict, roots: [] });
    const open = { ...strict, allowOutsideRoots: true };
    assert.deepEqual(await resolveImageReference(join(other, "secret.png"), open), { kind: "file", path: join(other, "secret.png") });
    // A link from outside into the workspace is judged by its target, which is inside.
    assert.deepEqual(await resolveImageReference(join(other, "link-in.png"), strict), { kind: "file", path: join(workspace, "img", "shot.png") });
  });

  void it("passes data: URIs on and fetches http(s) only when allowed", async () => {
    assert.deepEqual(await resolveImageReference("data:image/png;base64,AAAA", strict), { kind: "data", uri: "data:image/png;base64,AAAA" });
    await refused("https://example.com/a.png", "remote_image_refused", /molmo\.images\.allowRemote/);
    assert.deepEqual(await resolveImageReference("https://example.com/a.png", { ...strict, allowRemote: true }), { kind: "remote", url: "https://example.com/a.png" });
  });

  void it("refuses empty references, other URI schemes and NUL bytes with what to pass instead", async () => {
    await refused("   ", "bad_request", /give a path/);
    await refused("ftp://host/a.png", "bad_request", /'ftp:' URIs/);
    await refused("vscode-resource:/a.png", "bad_request", /'vscode-resource:' URIs/);
    await refused("file://otherhost/a.png", "bad_request", /not a local file/);
    await refused("a\0.png", "bad_request", /NUL/);
  });
});

void describe("isInside", () => {
  void it("compares whole path segments", () => {
    assert.ok(isInside("/w/a/b.png", "/w"));
    assert.ok(isInside("/w", "/w"));
    assert.ok(!isInside("/workspace2/b.png", "/workspace"));
    assert.ok(!isInside("/w/../x.png", "/w/sub"));
    assert.ok(isInside("/w/..hidden/x.png", "/w"));
  });
});
