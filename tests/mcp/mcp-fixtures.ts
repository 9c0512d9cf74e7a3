/**
 * Fixtures of the MCP tests: a workspace folder with the tiny model's image, a corrupt image and a symlink that
 * leads out of it; an engine loader whose answers are scripted (the tiny random model never points, and the
 * tools that turn points into clicks and counts need answers that do); the calls that exercise every tool; and
 * a check of structured content against the tools' zod output schemas.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import type { z } from "zod";
import { MolmoEngine, type AskRequest, type AskResult, type MolmoEngineOptions } from "../../models/engine/molmo-engine";
import { parsePoints } from "../../models/points/parse";
import type { EngineLoader, HostEngine } from "../../server/host/engine-host";
import { askResultOutput, countResultOutput, listModelsOutput, locateResultOutput } from "../../mcp/schemas";
import { tinyMolmoDir } from "../helpers/tiny-bundle";

/** A temporary workspace for image-access tests. */
export interface Workspace {
  /** The folder the client declares as its root (or the server allows). */
  readonly root: string;
  /** A folder outside the root with an image in it. */
  readonly outside: string;
  /** `root/shots/image.png`: the tiny model's fixture image. */
  readonly image: string;
  /** `root/corrupt.png`: a PNG signature followed by garbage. */
  readonly corrupt: string;
  /** `root/escape.png`: a symlink to `outside/secret.png`. */
  readonly escapeLink: string;
  /** `outside/secret.png`. */
  readonly outsideImage: string;
  /** Removes both folders. */
  dispose(): void;
}

/** Makes a workspace (removed by `dispose`, and at exit). */
export function makeWorkspace(): Workspace {
  const base = mkdtempSync(join(tmpdir(), "molmo-mcp-"));
  const root = join(base, "workspace");
  const outside = join(base, "outside");
  mkdirSync(join(root, "shots"), { recursive: true });
  mkdirSync(outside);
  const image = join(root, "shots", "image.png");
  copyFileSync(fixtureImage(), image);
  const corrupt = join(root, "corrupt.png");
  writeFileSync(corrupt, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("this is not the rest of a PNG file")]));
  const outsideImage = join(outside, "secret.png");
  copyFileSync(fixtureImage(), outsideImage);
  const escapeLink = join(root, "escape.png");
  symlinkSync(outsideImage, escapeLink);
  const dispose = () => rmSync(base, { recursive: true, force: true });
  process.on("exit", dispose);
  return { root, outside, image, corrupt, escapeLink, outsideImage, dispose };
}

/** The tiny model's fixture image (500 x 300). */
export function fixtureImage(): string {
  return join(tinyMolmoDir(), "image.png");
}

/** The fixture image as a data: URI. */
export function fixtureImageDataUri(): string {
  return `data:image/png;base64,${readFileSync(fixtureImage()).toString("base64")}`;
}

/**
 * A loader whose engines run the real tiny model (image decoding, errors and timings are real) but answer with
 * `script(prompt)` when it returns text: the text is streamed and parsed for points like a real answer.
 */
export function scriptedLoader(script: (prompt: string) => string | undefined): EngineLoader {
  return async (dir: string, options: MolmoEngineOptions) => {
    const engine = await MolmoEngine.load(dir, { ...options, intraOpNumThreads: 1 });
    const wrapped: HostEngine = {
      ep: engine.ep,
      loadMs: engine.loadMs,
      stats: () => engine.stats(),
      dispose: () => engine.dispose(),
      ask: async (request: AskRequest): Promise<AskResult> => {
        const real = await engine.ask({ ...request, maxNewTokens: 2, onText: undefined, onPoints: undefined });
        const text = script(real.prompt);
        if (text === undefined) {
          return real;
        }
        request.onText?.(text);
        const parsed = parsePoints(text, real.imageSize);
        return { ...real, text, points: parsed.points, count: parsed.count, parsed, stopReason: "stop_token" };
      },
    };
    return wrapped;
  };
}

/** A call of each image tool on `image`, short answers. */
export function everyImageToolCall(image: string): { name: string; arguments: Record<string, unknown> }[] {
  const options = { maxNewTokens: 4 };
  return [
    { name: "ask_image", arguments: { image, question: "What shapes are there?", options } },
    { name: "point_at", arguments: { image, what: "red circle", options } },
    { name: "count", arguments: { image, what: "circles", options } },
    { name: "describe_image", arguments: { image, detail: "short", options } },
    { name: "describe_image", arguments: { image, options } },
    { name: "locate_ui_element", arguments: { screenshot: image, element: "the blue rectangle", options } },
  ];
}

const OUTPUT_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  ask_image: askResultOutput,
  point_at: askResultOutput,
  describe_image: askResultOutput,
  count: countResultOutput,
  locate_ui_element: locateResultOutput,
  list_models: listModelsOutput,
};

/** Asserts that `structured` is valid output of `tool` (the zod schema the server advertises). */
export function assertValidOutput(tool: string, structured: unknown): void {
  const schema = OUTPUT_SCHEMAS[tool];
  assert.ok(schema !== undefined, `no output schema for ${tool}`);
  const parsed = schema.safeParse(structured);
  assert.ok(parsed.success, `${tool}: structured content does not match its output schema: ${parsed.success ? "" : parsed.error.message}`);
}

/** The text of a tool result's first content block. */
export function resultText(result: object): string {
  const content = (result as { content?: unknown }).content as { type: string; text?: string }[] | undefined;
  const first = content?.[0];
  assert.ok(first !== undefined && first.type === "text", `expected text content, got ${JSON.stringify(content)?.slice(0, 200)}`);
  return first.text ?? "";
}

/** The `_meta` error code of an error result (undefined for a success). */
export function errorCode(result: object): string | undefined {
  const { isError, _meta } = result as { isError?: unknown; _meta?: unknown };
  if (isError !== true) {
    return undefined;
  }
  return (_meta as Record<string, unknown> | undefined)?.["molmo/errorCode"] as string | undefined;
}
