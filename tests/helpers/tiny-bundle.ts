/**
 * A usable copy of the committed tiny Molmo bundle (tests/fixtures/tiny-molmo/bundle) in a temporary
 * folder: every committed file is symlinked (nothing large is copied) and the tokenizer.json the bundle
 * leaves out is written beside them from tests/helpers/molmo-tokenizer-fixture.ts.
 *
 * Tests that break a bundle on purpose use {@link replaceBundleFile} / {@link removeBundleFile}, which
 * unlink the symlink first, so the committed fixture is never written through.
 *
 * Run as a script it writes a standalone copy, for trying `molmo ask` on the tiny model by hand:
 *
 *   npx tsc -p . && node dist/tests/helpers/tiny-bundle.js /tmp/tiny-molmo
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { molmoTokenizerJsonPath } from "./molmo-tokenizer-fixture";
import { repoRoot } from "./repo-root";

/** The committed fixture folder (bundle/, image.png, reference.json, ...). */
export function tinyMolmoDir(): string {
  return join(repoRoot(), "tests", "fixtures", "tiny-molmo");
}

/** The committed bundle (without tokenizer.json). */
export function committedTinyBundleDir(): string {
  return join(tinyMolmoDir(), "bundle");
}

const made: string[] = [];
let cleanupRegistered = false;

/** A fresh temporary bundle folder with the fixture's files and a tokenizer.json; removed at exit. */
export function makeTinyBundle(options: { withTokenizer?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "molmo-tiny-bundle-"));
  made.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on("exit", () => made.forEach((path) => rmSync(path, { recursive: true, force: true })));
  }
  linkTree(committedTinyBundleDir(), dir);
  if (options.withTokenizer !== false) {
    copyFileSync(molmoTokenizerJsonPath(), join(dir, "tokenizer.json"));
  }
  return dir;
}

function linkTree(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const target = join(to, name);
    if (statSync(source).isDirectory()) {
      mkdirSync(target);
      linkTree(source, target);
    } else {
      symlinkSync(source, target);
    }
  }
}

/** Replaces one file of a temporary bundle (never the committed file behind its symlink). */
export function replaceBundleFile(bundleDir: string, relative: string, content: string | Uint8Array): void {
  const path = join(bundleDir, relative);
  rmSync(path, { force: true });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Removes one file of a temporary bundle. */
export function removeBundleFile(bundleDir: string, relative: string): void {
  unlinkSync(join(bundleDir, relative));
}

/** Writes a standalone copy of the tiny bundle (files copied, tokenizer.json added) to `outDir`, which must not exist. */
export function writeTinyBundle(outDir: string): void {
  if (existsSync(outDir)) {
    throw new Error(`${outDir} already exists; give a new folder`);
  }
  cpSync(committedTinyBundleDir(), outDir, { recursive: true });
  copyFileSync(molmoTokenizerJsonPath(), join(outDir, "tokenizer.json"));
}

if (require.main === module) {
  const outDir = process.argv[2];
  if (outDir === undefined) {
    process.stderr.write("usage: node dist/tests/helpers/tiny-bundle.js <new-bundle-dir>\n");
    process.exit(2);
  }
  writeTinyBundle(outDir);
  process.stdout.write(`wrote the tiny Molmo bundle with its tokenizer.json to ${outDir}\n`);
}
