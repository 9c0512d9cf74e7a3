/**
 * Where an MCP tool's image may come from, and the messages an agent gets when it may not.
 *
 * The allowed folders are the client's roots plus the server's allow-list (`--allow-dir`). With neither, the
 * server's working directory is the allow-list: a client started in a project folder can pass images of that
 * project and nothing else, which is what a user who added the server without configuring it expects.
 * `--allow-outside-roots` lifts the check; `data:` URIs are always accepted (the client already holds the bytes).
 * Remote `http(s)` images are fetched here, once, only with `--allow-remote-images`, so the answer and the
 * annotated image come from the same bytes.
 */
import { resolve } from "node:path";
import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../models/engine/logger";
import type { ImageSource } from "../models/image/source";
import { HostError } from "../server/host/host-errors";
import { resolveImageReference, type ResolvedImage } from "../server/host/image-access";
import { fetchRemoteImage } from "../server/host/remote-image";
import type { ClientRoots } from "./client-roots";

/** The image access settings of a server (from the command line). */
export interface ImageAccessSettings {
  /** `--allow-dir`: folders allowed besides (or without) the client's roots. */
  readonly allowedDirs: readonly string[];
  /** `--allow-outside-roots`. */
  readonly allowOutsideRoots: boolean;
  /** `--allow-remote-images`. */
  readonly allowRemote: boolean;
  /** The folder used as the allow-list when there are no roots and no `--allow-dir` (the process's cwd). */
  readonly fallbackDir?: string;
}

/** An image ready for the engine host, plus the same bytes' source for drawing the annotated image. */
export interface ToolImage {
  readonly resolved: ResolvedImage;
  readonly source: ImageSource;
}

/** Where the allowed folders came from, for messages. */
interface AllowedFolders {
  readonly folders: string[];
  readonly origin: string;
}

/** Resolves the images of one client connection. */
export class ToolImageResolver {
  constructor(
    private readonly roots: ClientRoots,
    private readonly settings: ImageAccessSettings,
    private readonly logger: Logger,
  ) {}

  /**
   * Resolves `reference` against the allowed folders.
   *
   * @throws {HostError} with a message for an agent: what was wrong, which folders are allowed, what to pass.
   */
  async resolve(reference: string, call: { signal?: AbortSignal; requestId?: RequestId } = {}): Promise<ToolImage> {
    const { signal } = call;
    const allowed = await this.allowedFolders(call.requestId);
    let resolved: ResolvedImage;
    try {
      resolved = await resolveImageReference(reference, {
        roots: allowed.folders,
        allowOutsideRoots: this.settings.allowOutsideRoots,
        allowRemote: this.settings.allowRemote,
      });
    } catch (error) {
      throw this.explain(error, allowed);
    }
    switch (resolved.kind) {
      case "file":
        return { resolved, source: { path: resolved.path } };
      case "data":
        return { resolved, source: resolved.uri };
      case "remote": {
        this.logger.debug(`Fetching the remote image ${resolved.url}.`);
        const bytes = await fetchRemoteImage(resolved.url, signal !== undefined ? { signal } : {});
        const uri = `data:application/octet-stream;base64,${Buffer.from(bytes).toString("base64")}`;
        return { resolved: { kind: "data", uri }, source: { bytes, name: resolved.url } };
      }
    }
  }

  /** The folders images may come from now (`requestId`: the tool call asking, see {@link ClientRoots.folders}). */
  async allowedFolders(requestId?: RequestId): Promise<AllowedFolders> {
    const roots = await this.roots.folders(requestId);
    const dirs = this.settings.allowedDirs.map((dir) => resolve(dir));
    if (roots.length === 0 && dirs.length === 0) {
      return { folders: [this.settings.fallbackDir ?? process.cwd()], origin: "the server's working directory (the client lists no roots and the server has no --allow-dir)" };
    }
    const origin = [roots.length > 0 ? "the client's roots" : "", dirs.length > 0 ? "the server's --allow-dir folders" : ""].filter((part) => part !== "").join(" and ");
    return { folders: [...new Set([...roots, ...dirs])], origin };
  }

  /** Rewrites the host's refusals (worded for editor settings) for an agent calling a tool. */
  private explain(error: unknown, allowed: AllowedFolders): unknown {
    if (!(error instanceof HostError)) {
      return error;
    }
    const folders = allowed.folders.join(", ");
    switch (error.code) {
      case "outside_workspace": {
        const what = /^The image (.*) is outside the workspace/.exec(error.message)?.[1] ?? "The image";
        return new HostError(
          "outside_workspace",
          `The image ${what} lies outside the folders this server may read: ${folders} (${allowed.origin}). ` +
            "Pass a file inside one of them, or the image inline as a data:image/...;base64 URI; the user can also add the folder as a root " +
            "or start the server with --allow-dir <folder> (or --allow-outside-roots).",
          { cause: error },
        );
      }
      case "image_not_found":
        return new HostError(
          "image_not_found",
          `${error.message} Relative paths are resolved against ${folders} (${allowed.origin}); pass an absolute path or a file: URI.`,
          { cause: error },
        );
      case "remote_image_refused":
        return new HostError(
          "remote_image_refused",
          "This server does not fetch http(s) images. Download the image and pass its path (inside " +
            `${folders}), or pass it inline as a data:image/...;base64 URI; the user can start the server with --allow-remote-images.`,
          { cause: error },
        );
      default:
        return error;
    }
  }
}
