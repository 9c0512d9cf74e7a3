/**
 * Where a request's image may come from. Both protocols take an image as the user or agent wrote it — a path
 * relative to a Markdown file, an absolute path, a `file:` or `data:` URI, an `http(s)` URL — and this module
 * turns it into something the engine can read, or refuses it: paths must lie inside the allowed folders
 * (workspace folders for LSP, the client's roots or an allow-list for MCP) unless the user allowed otherwise,
 * and remote images are only fetched when allowed. Containment is checked on the real path (symlinks
 * resolved), so a link inside the workspace that points outside it is refused like the file it points to.
 */
import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { HostError } from "./host-errors";

/** What a request's image may be. */
export interface ImageAccessPolicy {
  /** Folders images may come from: workspace folders, MCP roots, an allow-list. */
  readonly roots: readonly string[];
  /** Read files outside {@link roots} too (an explicit user setting). */
  readonly allowOutsideRoots: boolean;
  /** Fetch `http(s)` images. */
  readonly allowRemote: boolean;
}

/** The image, resolved: a checked file, a data URI (decoded by the engine), or a URL allowed to be fetched. */
export type ResolvedImage =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "data"; readonly uri: string }
  | { readonly kind: "remote"; readonly url: string };

/** Longest reference accepted as text (a data URI of a large screenshot fits; a runaway string does not). */
const MAX_REFERENCE_CHARS = 64 * 1024 * 1024;

/**
 * Resolves an image reference.
 *
 * Relative paths are looked up in `baseDir` (the folder of the document that references the image) first,
 * then in each root, the first existing file winning — how a Markdown preview and a reader would find it.
 *
 * @throws {HostError} `bad_request` for an empty or malformed reference or an unsupported URI scheme;
 *   `remote_image_refused`; `image_not_found` naming where it looked; `outside_workspace`.
 */
export async function resolveImageReference(reference: string, policy: ImageAccessPolicy, baseDir?: string): Promise<ResolvedImage> {
  if (typeof reference !== "string" || reference.trim() === "") {
    throw new HostError("bad_request", "The image is missing: give a path, a file: URI or a data: URI.");
  }
  if (reference.length > MAX_REFERENCE_CHARS) {
    throw new HostError("bad_request", `The image reference is ${reference.length} characters long; give a path instead of inlining more than ${MAX_REFERENCE_CHARS / 1024 / 1024} MiB.`);
  }
  const ref = reference.trim();
  if (/^data:/i.test(ref)) {
    return { kind: "data", uri: ref };
  }
  if (/^https?:\/\//i.test(ref)) {
    if (!policy.allowRemote) {
      throw new HostError(
        "remote_image_refused",
        `Remote images are not fetched: ${shorten(ref)}. Download it into the workspace, or allow remote images (setting molmo.images.allowRemote / --allow-remote-images).`,
      );
    }
    return { kind: "remote", url: ref };
  }
  const path = toLocalPath(ref);
  const candidates = isAbsolute(path) ? [path] : unique([...(baseDir !== undefined ? [resolve(baseDir, path)] : []), ...policy.roots.map((root) => resolve(root, path))]);
  if (candidates.length === 0) {
    throw new HostError("image_not_found", `Cannot resolve the relative path '${path}': no document folder or workspace folder to resolve it against. Give an absolute path.`);
  }
  for (const candidate of candidates) {
    const real = await realpathOrUndefined(candidate);
    if (real === undefined) {
      continue;
    }
    await checkInsideRoots(real, candidate, policy);
    return { kind: "file", path: real };
  }
  const where = candidates.length === 1 ? candidates[0] : `any of: ${candidates.join(", ")}`;
  throw new HostError("image_not_found", `The image '${path}' does not exist (looked for ${where}).`);
}

/** Whether `path` is `root` or lies below it (both absolute, already real paths). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

async function checkInsideRoots(real: string, asGiven: string, policy: ImageAccessPolicy): Promise<void> {
  if (policy.allowOutsideRoots) {
    return;
  }
  for (const root of policy.roots) {
    const realRoot = (await realpathOrUndefined(root)) ?? resolve(root);
    if (isInside(real, realRoot)) {
      return;
    }
  }
  const target = real === asGiven ? real : `${asGiven} (which resolves to ${real})`;
  const allowed = policy.roots.length === 0 ? "no workspace folder is open" : `the allowed folders are ${policy.roots.join(", ")}`;
  throw new HostError(
    "outside_workspace",
    `The image ${target} is outside the workspace (${allowed}). Copy it into the workspace, or allow images from anywhere (setting molmo.images.allowOutsideWorkspace / --allow-outside-roots).`,
  );
}

function toLocalPath(ref: string): string {
  if (/^file:/i.test(ref)) {
    try {
      return fileURLToPath(ref);
    } catch (error) {
      throw new HostError("bad_request", `The file URI ${shorten(ref)} is not a local file: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  // A scheme of two or more letters (a drive letter like C: is one) names something this server cannot read.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(ref);
  if (scheme !== null) {
    throw new HostError("bad_request", `Images cannot be read from '${scheme[1]}:' URIs (${shorten(ref)}); give a path, a file: URI or a data: URI.`);
  }
  if (ref.includes("\0")) {
    throw new HostError("bad_request", "The image path contains a NUL character.");
  }
  return ref;
}

async function realpathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      return undefined;
    }
    throw new HostError("image_not_found", `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}

function shorten(text: string): string {
  return text.length <= 120 ? text : `${text.slice(0, 117)}...`;
}

