/**
 * The MCP tools in process (SDK Client and McpServer over InMemoryTransport) on the tiny model with scripted
 * answers, for what the random model cannot show: points turned into clicks, counts and annotated images; plus
 * the settings that change results (annotated images off, no model, remote images, no roots).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import { createMolmoMcpServer, type McpServeOptions } from "../../mcp/index";
import { ANNOTATED_IMAGE_MAX_SIDE } from "../../mcp/tool-results";
import { EngineHost } from "../../server/host/engine-host";
import { recordingLogger } from "../helpers/recording-logger";
import { makeTinyBundle } from "../helpers/tiny-bundle";
import { assertValidOutput, errorCode, makeWorkspace, resultText, scriptedLoader, type Workspace } from "../mcp/mcp-fixtures";

/** Scripted answers by prompt (see models/prompt/templates.ts for the prompts). */
function script(prompt: string): string | undefined {
  if (prompt.startsWith("Point to the save button")) {
    return '<point x="25.3" y="40.1" alt="the save button">the save button</point>';
  }
  if (prompt.startsWith("Point to circles")) {
    return '<points x1="10.0" y1="20.0" x2="30.0" y2="40.0" alt="circles">circles</points>';
  }
  if (prompt.startsWith("Point to and count the circles")) {
    return 'Counting the <points x1="10.0" y1="20.0" x2="30.0" y2="40.0" alt="circles">circles</points> shows a total of 2.';
  }
  if (prompt.startsWith("Point to and count the squares")) {
    return '<points x1="50.0" y1="50.0" x2="60.0" y2="60.0" x3="70.0" y3="70.0" alt="squares">squares</points>';
  }
  if (prompt.startsWith("Point to the missing button")) {
    return "There are none.";
  }
  return undefined;
}

interface InProcess {
  readonly client: Client;
  readonly host: EngineHost;
  close(): Promise<void>;
}

/** How often the test clients were asked for their roots. */
let rootsRequests = 0;

async function connect(overrides: Partial<McpServeOptions> & { fallbackDir?: string; roots?: string[] | "fail"; model?: boolean } = {}): Promise<InProcess> {
  const host = overrides.host ?? new EngineHost(overrides.model === false ? {} : { modelPath: bundle, loadEngine: scriptedLoader(script) });
  const logger = overrides.logger ?? recordingLogger();
  const server = createMolmoMcpServer(
    {
      host,
      logger,
      version: "1.2.3",
      allowedDirs: overrides.allowedDirs ?? [],
      allowOutsideRoots: overrides.allowOutsideRoots ?? false,
      allowRemote: overrides.allowRemote ?? false,
      annotatedImages: overrides.annotatedImages ?? true,
    },
    overrides.fallbackDir,
  );
  const roots = overrides.roots;
  const client = new Client({ name: "unit", version: "1" }, roots !== undefined ? { capabilities: { roots: {} } } : {});
  if (roots !== undefined) {
    client.setRequestHandler(ListRootsRequestSchema, () => {
      rootsRequests += 1;
      if (roots === "fail") {
        throw new Error("roots are not available");
      }
      return { roots: roots.map((root) => ({ uri: `file://${root}` })) };
    });
  }
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  return {
    client,
    host,
    close: async () => {
      await client.close();
      await host.dispose();
    },
  };
}

const bundle = makeTinyBundle();

/** The image content blocks of a result. */
function images(result: object): { data: string; mimeType: string }[] {
  const content = (result as { content: { type: string; data?: string; mimeType?: string }[] }).content;
  return content.filter((block) => block.type === "image").map((block) => ({ data: block.data!, mimeType: block.mimeType! }));
}

void describe("MCP tools (scripted answers)", () => {
  let ws: Workspace;
  let server: InProcess;
  before(async () => {
    ws = makeWorkspace();
    server = await connect({ roots: [ws.root] });
  });
  after(async () => {
    await server.close();
    ws.dispose();
  });

  void it("locate_ui_element gives the rounded pixel to click, the image size, every candidate and the annotated screenshot", async () => {
    const result = await server.client.callTool({ name: "locate_ui_element", arguments: { screenshot: ws.image, element: "the save button" } });
    assert.notEqual(result.isError, true, resultText(result));
    assertValidOutput("locate_ui_element", result.structuredContent);
    const structured = result.structuredContent as { click: { x: number; y: number }; image: { width: number; height: number }; candidates: { x: number; xPercent: number }[]; element: string };
    // 25.3 % of 500 px = 126.5 px, 40.1 % of 300 px = 120.3 px.
    assert.deepEqual(structured.click, { x: 127, y: 120 });
    assert.deepEqual(structured.image, { width: 500, height: 300, path: ws.image });
    assert.equal(structured.candidates.length, 1);
    assert.ok(Math.abs(structured.candidates[0].x - 126.5) < 1e-9);
    assert.equal(structured.candidates[0].xPercent, 25.3);
    assert.equal(structured.element, "the save button");
    assert.match(resultText(result), /Click at \(127, 120\) in the 500x300 screenshot/);
    const [png] = images(result);
    assert.equal(png?.mimeType, "image/png");
    const meta = await sharp(Buffer.from(png.data, "base64")).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 500, 300]);
  });

  void it("locate_ui_element without a point is a tool error saying what to change", async () => {
    const result = await server.client.callTool({ name: "locate_ui_element", arguments: { screenshot: ws.image, element: "the missing button" } });
    assert.equal(result.isError, true);
    assert.equal(errorCode(result), "element_not_found");
    assert.match(resultText(result), /found no "the missing button" in the 500x300 screenshot.*There are none.*Describe the element differently/s);
  });

  void it("point_at returns points in pixels and percent, listed in the text", async () => {
    const result = await server.client.callTool({ name: "point_at", arguments: { image: ws.image, what: "circles" } });
    assertValidOutput("point_at", result.structuredContent);
    const points = (result.structuredContent as { points: { index: number; x: number; y: number; xPercent: number; yPercent: number; label: string }[] }).points;
    assert.deepEqual(
      points.map((p) => [p.index, p.x, p.y, p.xPercent, p.yPercent, p.label]),
      [
        [1, 50, 60, 10, 20, "circles"],
        [2, 150, 120, 30, 40, "circles"],
      ],
    );
    assert.match(resultText(result), /pointed at 2 place\(s\) for "circles" in the 500x300 image:\n1\. \(50, 60\) px circles\n2\. \(150, 120\) px circles/);
    assert.equal(images(result).length, 1);
  });

  void it("count returns the stated total, or the number of points when Molmo states none", async () => {
    const stated = await server.client.callTool({ name: "count", arguments: { image: ws.image, what: "circles" } });
    assertValidOutput("count", stated.structuredContent);
    assert.equal((stated.structuredContent as { count: number }).count, 2);
    assert.match(resultText(stated), /^Molmo counted 2 circles:/);
    const implied = await server.client.callTool({ name: "count", arguments: { image: ws.image, what: "squares" } });
    assertValidOutput("count", implied.structuredContent);
    assert.equal((implied.structuredContent as { count: number }).count, 3);
  });

  void it("leaves the annotated image out when the call asks, when there are no points, and when the server is started without them", async () => {
    const asked = await server.client.callTool({ name: "point_at", arguments: { image: ws.image, what: "circles", annotate: false } });
    assert.equal(images(asked).length, 0);
    const pointless = await server.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "What is it?", options: { maxNewTokens: 2 } } });
    assert.notEqual(pointless.isError, true);
    assert.equal(images(pointless).length, 0);
    const off = await connect({ roots: [ws.root], annotatedImages: false });
    try {
      const result = await off.client.callTool({ name: "point_at", arguments: { image: ws.image, what: "circles" } });
      assert.equal(images(result).length, 0);
      assert.equal((result.structuredContent as { points: unknown[] }).points.length, 2);
    } finally {
      await off.close();
    }
  });

  void it("scales a large annotated image down, keeping the points in the original's pixels", async () => {
    const big = join(ws.root, "big.png");
    await sharp({ create: { width: 3000, height: 2000, channels: 3, background: "#336699" } }).png().toFile(big);
    const result = await server.client.callTool({ name: "point_at", arguments: { image: big, what: "circles" } });
    const points = (result.structuredContent as { points: { x: number }[] }).points;
    assert.equal(points[0].x, 300);
    const meta = await sharp(Buffer.from(images(result)[0].data, "base64")).metadata();
    assert.deepEqual([meta.width, meta.height], [ANNOTATED_IMAGE_MAX_SIDE, Math.round((ANNOTATED_IMAGE_MAX_SIDE * 2000) / 3000)]);
  });
});

void describe("MCP tools (settings)", () => {
  let ws: Workspace;
  before(() => {
    ws = makeWorkspace();
  });
  after(() => ws.dispose());

  void it("without a model: image tools say no_model and how to set one, list_models still answers", async () => {
    const server = await connect({ roots: [ws.root], model: false });
    try {
      const result = await server.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?" } });
      assert.equal(errorCode(result), "no_model");
      assert.match(resultText(result), /--model/);
      const models = await server.client.callTool({ name: "list_models", arguments: {} });
      assertValidOutput("list_models", models.structuredContent);
      assert.deepEqual((models.structuredContent as { models: unknown[] }).models, []);
      assert.match(resultText(models), /No model bundles/);
    } finally {
      await server.close();
    }
  });

  void it("refuses remote images unless allowed, and then marks the tools open-world", async () => {
    const closed = await connect({ roots: [ws.root] });
    try {
      const result = await closed.client.callTool({ name: "describe_image", arguments: { image: "https://example.com/cat.png" } });
      assert.equal(errorCode(result), "remote_image_refused");
      assert.match(resultText(result), /--allow-remote-images/);
      assert.match(resultText(result), /data:image/);
    } finally {
      await closed.close();
    }
    const open = await connect({ roots: [ws.root], allowRemote: true, model: false });
    try {
      const { tools } = await open.client.listTools();
      assert.equal(tools.find((tool) => tool.name === "ask_image")?.annotations?.openWorldHint, true);
      assert.equal(tools.find((tool) => tool.name === "list_models")?.annotations?.openWorldHint, false);
    } finally {
      await open.close();
    }
  });

  void it("without roots or --allow-dir reads only the working directory", async () => {
    const server = await connect({ fallbackDir: ws.root });
    try {
      const inside = await server.client.callTool({ name: "ask_image", arguments: { image: "shots/image.png", question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(inside.isError, true, resultText(inside));
      const outside = await server.client.callTool({ name: "ask_image", arguments: { image: ws.outsideImage, question: "?" } });
      assert.equal(errorCode(outside), "outside_workspace");
      assert.match(resultText(outside), /server's working directory/);
    } finally {
      await server.close();
    }
  });

  void it("a client whose roots/list fails falls back to the allow-list, with a warning, and is not asked on every call", async () => {
    const logger = recordingLogger();
    const server = await connect({ roots: "fail", allowedDirs: [ws.root], logger });
    try {
      const before = rootsRequests;
      const result = await server.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(result.isError, true, resultText(result));
      assert.ok(logger.at("warn").some((line) => /did not list its roots/.test(line)), logger.at("warn").join("\n"));
      const again = await server.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(again.isError, true, resultText(again));
      assert.equal(rootsRequests - before, 1, "the failure is remembered");
    } finally {
      await server.close();
    }
  });

  void it("--allow-outside-roots reads any file", async () => {
    const server = await connect({ roots: [ws.root], allowOutsideRoots: true });
    try {
      const result = await server.client.callTool({ name: "ask_image", arguments: { image: ws.outsideImage, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(result.isError, true, resultText(result));
    } finally {
      await server.close();
    }
  });
});
