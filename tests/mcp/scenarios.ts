/**
 * The MCP scenarios run over every transport (stdio and streamable HTTP), with the SDK's own Client on the tiny
 * model: the tool list and its schemas, every tool called, image access (roots, allow-list, escapes), a corrupt
 * and a deleted image, progress, cancellation, 20 concurrent calls, and a queue bound lower than the calls.
 * Each transport's test file supplies how to start a server and connect a client.
 */
import assert from "node:assert/strict";
import { basename, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ListRootsRequestSchema, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { assertValidOutput, errorCode, everyImageToolCall, fixtureImageDataUri, makeWorkspace, resultText, type Workspace } from "./mcp-fixtures";

/** How a server under test is configured. */
export interface ServerConfig {
  readonly allowDirs?: readonly string[];
  readonly maxQueue?: number;
}

/** A client connected to a server under test, and how to change its roots. */
export interface Connection {
  readonly client: Client;
  /** Replaces the client's roots and notifies the server. */
  setRoots(folders: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A transport under test. */
export interface TransportUnderTest {
  readonly name: string;
}

/** Builds the SDK client of the tests, answering roots/list with `roots` (when given). */
export function makeClient(roots: readonly string[] | undefined): { client: Client; setRoots: (folders: readonly string[]) => Promise<void> } {
  let current = roots ?? [];
  const client = new Client({ name: "molmo-mcp-test", version: "1.0.0" }, roots !== undefined ? { capabilities: { roots: { listChanged: true } } } : {});
  if (roots !== undefined) {
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: current.map((folder) => ({ uri: pathToFileURL(folder).href, name: basename(folder) })) }));
  }
  return {
    client,
    setRoots: async (folders) => {
      current = folders;
      await client.sendRootsListChanged();
    },
  };
}

/**
 * Connects a client (roots undefined: the client does not declare the roots capability) to a server with
 * `config`; the transport decides whether that is a new process or a new session of a shared server.
 */
export type Connector = (config: ServerConfig, roots: readonly string[] | undefined) => Promise<Connection>;

/** Every JSON Schema property below `schema` that has no description (paths like `options.seed`). */
function undocumented(schema: unknown, path = ""): string[] {
  const node = schema as { properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[] };
  const missing: string[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const where = path === "" ? name : `${path}.${name}`;
    if (typeof (child as { description?: unknown }).description !== "string") {
      missing.push(where);
    }
    missing.push(...undocumented(child, where));
  }
  if (node.items !== undefined) {
    missing.push(...undocumented(node.items, `${path}[]`));
  }
  for (const option of node.anyOf ?? []) {
    missing.push(...undocumented(option, path));
  }
  return missing;
}

/** Registers the shared scenarios for one transport. */
export function describeMcpScenarios(transport: TransportUnderTest, connect: Connector): void {
  void describe(`MCP over ${transport.name}`, () => {
    let ws: Workspace;
    let main: Connection;

    before(async () => {
      ws = makeWorkspace();
      main = await connect({ maxQueue: 32 }, [ws.root]);
    });
    after(async () => {
      await main?.close();
      ws?.dispose();
    });

    void it("initializes as 'molmo' with instructions and lists six tools with documented input and output schemas and read-only annotations", async () => {
      const info = main.client.getServerVersion();
      assert.equal(info?.name, "molmo");
      assert.match(main.client.getInstructions() ?? "", /locate_ui_element/);
      const { tools } = await main.client.listTools();
      assert.deepEqual(tools.map((tool) => tool.name).sort(), ["ask_image", "count", "describe_image", "list_models", "locate_ui_element", "point_at"]);
      for (const tool of tools) {
        assert.ok((tool.description ?? "").length > 80, `${tool.name} has a description an agent can act on`);
        assert.ok(tool.title !== undefined && tool.title !== "", `${tool.name} has a title`);
        assert.equal(tool.inputSchema.type, "object");
        assert.equal(tool.outputSchema?.type, "object", `${tool.name} has an output schema`);
        assert.deepEqual(undocumented(tool.inputSchema), [], `${tool.name}: input properties without description`);
        assert.deepEqual(undocumented(tool.outputSchema), [], `${tool.name}: output properties without description`);
        assert.equal(tool.annotations?.readOnlyHint, true, `${tool.name} is read-only`);
        assert.equal(tool.annotations?.idempotentHint, true);
        assert.equal(tool.annotations?.openWorldHint, false, "remote images are off, so no tool reaches outside");
      }
      const ask = tools.find((tool) => tool.name === "ask_image");
      assert.deepEqual(ask?.inputSchema.required, ["image", "question"]);
    });

    void it("answers every tool on an image inside the client's root, with structured content valid against the output schema", async () => {
      for (const call of everyImageToolCall(relative(ws.root, ws.image))) {
        const result = await main.client.callTool(call);
        const text = resultText(result);
        if (call.name === "locate_ui_element" && result.isError === true) {
          // The tiny random model never points: the tool must then say so as a tool error an agent can act on.
          assert.equal(errorCode(result), "element_not_found", text);
          assert.match(text, /Describe the element differently/);
          continue;
        }
        assert.notEqual(result.isError, true, `${call.name}: ${text}`);
        assertValidOutput(call.name, result.structuredContent);
        const structured = result.structuredContent as { image?: { width: number; height: number; path?: string } };
        assert.deepEqual(structured.image, { width: 500, height: 300, path: ws.image });
      }
      const models = await main.client.callTool({ name: "list_models", arguments: {} });
      assert.notEqual(models.isError, true, resultText(models));
      assertValidOutput("list_models", models.structuredContent);
      const listed = models.structuredContent as { models: { path: string; selected: boolean; loaded: boolean }[]; status: { state: string; ep?: string } };
      assert.equal(listed.models.length, 1);
      assert.equal(listed.models[0].selected, true);
      assert.equal(listed.models[0].loaded, true);
      assert.equal(listed.status.state, "ready");
      assert.equal(listed.status.ep, "cpu");
    });

    void it("accepts a data: URI and a file: URI", async () => {
      const inline = await main.client.callTool({ name: "ask_image", arguments: { image: fixtureImageDataUri(), question: "What?", options: { maxNewTokens: 2 } } });
      assert.notEqual(inline.isError, true, resultText(inline));
      assert.deepEqual((inline.structuredContent as { image: unknown }).image, { width: 500, height: 300 });
      const uri = await main.client.callTool({ name: "ask_image", arguments: { image: pathToFileURL(ws.image).href, question: "What?", options: { maxNewTokens: 2 } } });
      assert.notEqual(uri.isError, true, resultText(uri));
    });

    void it("streams progress with the partial answer when the client sends a progress token", async () => {
      const seen: Progress[] = [];
      const result = await main.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "Describe it.", options: { maxNewTokens: 6 } } }, undefined, {
        onprogress: (progress) => seen.push(progress),
      });
      assert.notEqual(result.isError, true, resultText(result));
      const answer = (result.structuredContent as { text: string }).text;
      assert.ok(seen.length >= 2, `progress notifications: ${JSON.stringify(seen)}`);
      assert.ok(seen.some((p) => p.message === "Molmo is looking at the image."), JSON.stringify(seen));
      const texts = seen.map((p) => p.message ?? "").filter((m) => m !== "" && answer.startsWith(m));
      assert.ok(texts.length >= 1, `a progress message carries the partial answer: ${JSON.stringify(seen)} vs ${JSON.stringify(answer)}`);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i].progress > seen[i - 1].progress, "progress increases");
      }
    });

    void it("refuses path escapes (../, an absolute path, a symlink out of the root) with a message naming the allowed folders", async () => {
      const deep = `${"../".repeat(ws.root.split("/").length + 2)}etc/passwd`;
      for (const image of ["../../etc/passwd", deep, "/etc/passwd", ws.outsideImage, pathToFileURL(ws.outsideImage).href, ws.escapeLink, "escape.png"]) {
        const result = await main.client.callTool({ name: "ask_image", arguments: { image, question: "What is written here?" } });
        const text = resultText(result);
        assert.equal(result.isError, true, `${image} must be refused: ${text}`);
        const code = errorCode(result);
        assert.ok(code === "outside_workspace" || (image === "../../etc/passwd" && code === "image_not_found"), `${image}: ${code}: ${text}`);
        assert.ok(text.includes(ws.root), `the message names the allowed folder: ${text}`);
        assert.doesNotMatch(text, /root:x:0:0/, "nothing of the file leaks");
      }
      const viaLink = await main.client.callTool({ name: "point_at", arguments: { image: ws.escapeLink, what: "secret" } });
      assert.match(resultText(viaLink), /resolves to/);
      assert.match(resultText(viaLink), /--allow-dir/);
    });

    void it("answers a corrupt image and a deleted one with clear tool errors, and keeps serving", async () => {
      const corrupt = await main.client.callTool({ name: "describe_image", arguments: { image: ws.corrupt } });
      assert.equal(corrupt.isError, true);
      assert.equal(errorCode(corrupt), "bad_image", resultText(corrupt));
      assert.match(resultText(corrupt), /corrupt\.png/);
      const gone = join(ws.root, "gone.png");
      const deleted = await main.client.callTool({ name: "ask_image", arguments: { image: gone, question: "?" } });
      assert.equal(errorCode(deleted), "image_not_found", resultText(deleted));
      assert.match(resultText(deleted), /gone\.png/);
      const bad = await main.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 0 } } });
      assert.equal(bad.isError, true, "an out-of-range option is a tool error");
      assert.match(resultText(bad), /maxNewTokens/);
      const typo = await main.client.callTool({ name: "ask_image", arguments: { image: ws.image, prompt: "?" } });
      assert.equal(typo.isError, true, "an unknown argument is a tool error naming it");
      assert.match(resultText(typo), /prompt|question/);
      const fine = await main.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(fine.isError, true, resultText(fine));
    });

    void it("cancels a call mid-generation (notifications/cancelled) and answers the next one at once", async () => {
      const controller = new AbortController();
      let generating = false;
      const long = main.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "Tell me everything.", options: { maxNewTokens: 2048 } } }, undefined, {
        signal: controller.signal,
        onprogress: (progress) => {
          if (!generating && progress.message !== undefined && !progress.message.startsWith("Molmo is") && !progress.message.startsWith("Waiting") && !progress.message.startsWith("Loading")) {
            generating = true;
            controller.abort(new Error("the test cancels"));
          }
        },
      });
      await assert.rejects(long, /cancel/);
      assert.ok(generating, "the call was cancelled after its first tokens");
      // 2048 tokens take the tiny model about ten seconds; a cancelled generation frees the engine within a token.
      const deadline = Date.now() + 3000;
      let status: { queue: { running: number; waiting: number } } | undefined;
      while (Date.now() < deadline) {
        const models = await main.client.callTool({ name: "list_models", arguments: {} });
        status = (models.structuredContent as { status: { queue: { running: number; waiting: number } } }).status;
        if (status.queue.running === 0) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status?.queue.running, 0, "the cancelled generation stopped");
      const next = await main.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(next.isError, true, resultText(next));
    });

    void it("answers 20 concurrent calls, queued, none lost", async () => {
      const calls = Array.from({ length: 20 }, (_, i) =>
        main.client.callTool({ name: i % 2 === 0 ? "ask_image" : "point_at", arguments: i % 2 === 0 ? { image: ws.image, question: `Question ${i}?`, options: { maxNewTokens: 3 } } : { image: ws.image, what: `thing ${i}`, options: { maxNewTokens: 3 } } }),
      );
      const results = await Promise.all(calls);
      assert.equal(results.length, 20);
      results.forEach((result, i) => {
        assert.notEqual(result.isError, true, `call ${i}: ${resultText(result)}`);
        assertValidOutput(i % 2 === 0 ? "ask_image" : "point_at", result.structuredContent);
        assert.equal((result.structuredContent as { prompt: string }).prompt.includes(i % 2 === 0 ? `Question ${i}?` : `thing ${i}`), true, `call ${i} got its own answer`);
      });
      const queued = results.filter((result) => (result.structuredContent as { timings: { queuedMs: number } }).timings.queuedMs > 0);
      assert.ok(queued.length > 0, "some calls waited in the queue");
    });

    void it("follows the client's roots when they change", async () => {
      await main.setRoots([ws.outside]);
      const nowAllowed = await main.client.callTool({ name: "ask_image", arguments: { image: ws.outsideImage, question: "?", options: { maxNewTokens: 2 } } });
      assert.notEqual(nowAllowed.isError, true, resultText(nowAllowed));
      const nowRefused = await main.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: "?", options: { maxNewTokens: 2 } } });
      assert.equal(errorCode(nowRefused), "outside_workspace", resultText(nowRefused));
      await main.setRoots([ws.root]);
    });

    void it("with a queue bound below the calls, answers every call: the rest with a clear busy error; --allow-dir adds to the roots", async () => {
      const small = await connect({ maxQueue: 2, allowDirs: [ws.outside] }, [ws.root]);
      try {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => small.client.callTool({ name: "ask_image", arguments: { image: ws.image, question: `Q${i}?`, options: { maxNewTokens: 3 } } })),
        );
        const answered = results.filter((result) => result.isError !== true);
        const busy = results.filter((result) => errorCode(result) === "busy");
        assert.equal(answered.length + busy.length, 20, "every call got an answer or a busy error");
        assert.ok(answered.length >= 3, `at least the running call and the queue's bound are answered (${answered.length})`);
        assert.ok(busy.length >= 1, "calls past the bound are refused");
        assert.match(resultText(busy[0]), /busy.*--max-queue/s);

        const allowed = await small.client.callTool({ name: "ask_image", arguments: { image: ws.outsideImage, question: "?", options: { maxNewTokens: 2 } } });
        assert.notEqual(allowed.isError, true, `the --allow-dir folder is allowed besides the roots: ${resultText(allowed)}`);
        const relative = await small.client.callTool({ name: "ask_image", arguments: { image: "secret.png", question: "?", options: { maxNewTokens: 2 } } });
        assert.notEqual(relative.isError, true, `a relative path is looked up in every allowed folder: ${resultText(relative)}`);
        const refused = await small.client.callTool({ name: "ask_image", arguments: { image: "/etc/passwd", question: "?" } });
        assert.equal(errorCode(refused), "outside_workspace");
        assert.match(resultText(refused), /the client's roots and the server's --allow-dir folders/);
      } finally {
        await small.close();
      }
    });
  });
}
