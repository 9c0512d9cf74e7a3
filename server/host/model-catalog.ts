/**
 * The model bundles the server knows of: the configured one and any found in the model folders. A bundle is
 * described from its config.json alone (no graph is opened, no tokenizer read), so listing is cheap.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parseManifest } from "../../models/bundle/manifest";
import type { MolmoModelRef } from "../protocol/molmo-protocol";
import { HostError } from "./host-errors";

/** A bundle described by its manifest. */
export interface BundleSummary extends MolmoModelRef {
  /** Bytes of the files its manifest records (graphs and weights). */
  readonly bytes: number;
}

/**
 * Reads a bundle's description.
 *
 * @throws {HostError} `model_load_failed` when the folder is not an exported Molmo bundle (no config.json, no
 *   molmo_onnx section, malformed), with the reason.
 */
export async function describeBundle(dir: string): Promise<BundleSummary> {
  const path = resolve(dir);
  const configPath = join(path, "config.json");
  let text: string;
  try {
    text = await readFile(configPath, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ENOTDIR" ? "it has no config.json" : (error as Error).message;
    throw new HostError("model_load_failed", `${path} is not a Molmo model bundle: ${why}. Make one with \`molmo export <hf-checkpoint> <bundle-dir>\`.`, { cause: error });
  }
  try {
    const manifest = parseManifest(JSON.parse(text) as unknown, configPath);
    const bytes = Object.values(manifest.files).reduce((sum, file) => sum + file.bytes, 0);
    return { name: basename(path), path, variant: manifest.variant, dtype: manifest.dtype, bytes };
  } catch (error) {
    throw new HostError("model_load_failed", `${path} is not a usable Molmo model bundle: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * The bundles directly inside each folder (a folder may itself be a bundle). Folders that do not exist or
 * entries that are not bundles are skipped: a models folder may hold other things.
 */
export async function findBundles(folders: readonly string[]): Promise<BundleSummary[]> {
  const found = new Map<string, BundleSummary>();
  for (const folder of folders) {
    for (const candidate of [folder, ...(await subfolders(folder))]) {
      try {
        const summary = await describeBundle(candidate);
        found.set(summary.path, summary);
      } catch {
        // Not a bundle: skipped on purpose (see above).
      }
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

async function subfolders(folder: string): Promise<string[]> {
  try {
    if (!(await stat(folder)).isDirectory()) {
      return [];
    }
    const entries = await readdir(folder, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory() || entry.isSymbolicLink()).map((entry) => join(folder, entry.name));
  } catch {
    return [];
  }
}
