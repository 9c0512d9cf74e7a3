/**
 * The hover/alt-text description cache on the tiny model: one generation shared by every waiter, cached by
 * image content, kept running past a hover's budget, and cancelled only when its last waiter cancels.
 *
 * The engine is the real one behind a gate the test opens, so the order of events is decided by the test.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { MolmoEngine, type AskRequest } from "../../models/engine/molmo-engine";
import { EngineHost, type EngineLoader, type HostEngine } from "../../server/host/engine-host";
import { HostError } from "../../server/host/host-errors";
import type { ResolvedImage } from "../../server/host/image-access";
import { ImageDescriptions, type DescriptionPrompt, type DescriptionPurpose } from "../../server/lsp/image-descriptions";
import { recordingLogger } from "../helpers/recording-logger";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const PROMPTS: Record<DescriptionPurpose, DescriptionPrompt> = {
  hover: { task: "caption", maxNewTokens: 4 },
  alt: { task: "ask", question: "Alt text?", maxNewTokens: 4 },
};

/** A host whose engine holds every answer at a gate; counts answers started and aborted. */
function gatedHost() {
  const gates: Array<() => void> = [];
  const record = { asks: 0, aborted: 0, failNext: undefined as Error | undefined };
  const loader: EngineLoader = async (dir, options) => {
    const engine = await MolmoEngine.load(dir, { ...options, intraOpNumThreads: 1 });
    const gated: HostEngine = {
      ep: engine.ep,
      loadMs: engine.loadMs,
      stats: () => engine.stats(),
      dispose: () => engine.dispose(),
      ask: async (request: AskRequest) => {
        record.asks += 1;
        await new Promise<void>((resolve, reject) => {
          gates.push(resolve);
          request.signal?.addEventListener("abort", () => {
            // An aborted answer leaves the queue of gates, so release() opens the next live one.
            const index = gates.indexOf(resolve);
            if (index >= 0) {
              gates.splice(index, 1);
              record.aborted += 1;
              reject(request.signal?.reason instanceof Error ? request.signal.reason : new Error("aborted"));
            }
          });
        });
        const failure = record.failNext;
        if (failure !== undefined) {
          record.failNext = undefined;
          throw failure;
        }
        return engine.ask(request);
      },
    };
    return gated;
  };
  const host = new EngineHost({ modelPath: makeTinyBundle(), loadEngine: loader });
  const release = async () => {
    while (gates.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    gates.shift()?.();
  };
  /** Waits until no answer runs or waits (a background generation has finished). */
  const idle = async () => {
    while (host.status().state !== "ready" || host.status().queue.waiting > 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return { host, release, idle, record };
}

const folder = mkdtempSync(join(tmpdir(), "molmo-descriptions-"));
after(() => rmSync(folder, { recursive: true, force: true }));

/** A file image with content of its own (the fixture plus a marker after the PNG's end). */
function imageWithContent(name: string, marker: string): ResolvedImage {
  const path = join(folder, name);
  writeFileSync(path, Buffer.concat([readFileSync(join(tinyMolmoDir(), "image.png")), Buffer.from(marker)]));
  return { kind: "file", path };
}

async function rejectsCancelled(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof HostError && error.code === "cancelled");
}

void describe("ImageDescriptions", { timeout: 30_000 }, () => {
  const { host, release, idle, record } = gatedHost();
  const logger = recordingLogger();
  const descriptions = new ImageDescriptions(host, PROMPTS, logger);
  after(() => host.dispose());

  void it("shares one generation among waiters and serves the result from the cache by content, under any file name", async () => {
    const image = imageWithContent("a.png", "a");
    const first = descriptions.describe(image, "hover");
    const second = descriptions.describe(image, "hover");
    await release();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a !== undefined && a === b, "both waiters get the same description");
    assert.equal(a.truncated, true);
    assert.equal(a.ep, "cpu");
    assert.equal(record.asks, 1);
    const copy: ResolvedImage = { kind: "file", path: join(folder, "a-copy.png") };
    copyFileSync(image.kind === "file" ? image.path : "", copy.path);
    assert.equal(await descriptions.describe(copy, "hover"), a, "the same bytes under another name are a hit");
    assert.equal(record.asks, 1);
    const alt = descriptions.describe(image, "alt");
    await release();
    assert.notEqual(await alt, a, "another purpose is another entry");
    assert.equal(record.asks, 2);
    writeFileSync(copy.path, Buffer.concat([readFileSync(copy.path), Buffer.from("edited")]));
    const edited = descriptions.describe(copy, "hover");
    await release();
    await edited;
    assert.equal(record.asks, 3, "an edited file is a miss");
  });

  void it("keeps generating when one of two waiters cancels, and stops when the last one does", async () => {
    const image = imageWithContent("b.png", "b");
    const leaving = new AbortController();
    const first = descriptions.describe(image, "hover", { signal: leaving.signal });
    const second = descriptions.describe(image, "hover");
    await new Promise((resolve) => setTimeout(resolve, 20));
    leaving.abort();
    await rejectsCancelled(first);
    assert.equal(record.aborted, 0, "the other waiter still waits");
    await release();
    assert.ok((await second) !== undefined);

    const lone = imageWithContent("c.png", "c");
    const only = new AbortController();
    const asksBefore = record.asks;
    const waiting = descriptions.describe(lone, "hover", { signal: only.signal });
    while (record.asks === asksBefore) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    only.abort();
    await rejectsCancelled(waiting);
    await idle();
    assert.equal(record.aborted, 1, "the generation nobody waits for is aborted");
    assert.ok(logger.at("debug").some((line) => /Stopped describing .*c\.png \(hover\)/.test(line)));
  });

  void it("answers undefined when the budget runs out, keeps generating for the next request, even past a later cancel", async () => {
    const image = imageWithContent("d.png", "d");
    assert.equal(await descriptions.describe(image, "hover", { budgetMs: 10 }), undefined);
    const impatient = new AbortController();
    const later = descriptions.describe(image, "hover", { signal: impatient.signal });
    impatient.abort();
    await rejectsCancelled(later);
    const abortedBefore = record.aborted;
    await release();
    await idle();
    assert.equal(record.aborted, abortedBefore, "a kept generation is not aborted");
    const asks = record.asks;
    const found = await descriptions.describe(image, "hover", { budgetMs: 10 });
    assert.ok(found !== undefined, "the next request finds the finished description");
    assert.equal(record.asks, asks);
  });

  void it("reports a background failure once, to the next request, then tries again", async () => {
    const image = imageWithContent("e.png", "e");
    record.failNext = new Error("the GPU caught fire");
    assert.equal(await descriptions.describe(image, "hover", { budgetMs: 5 }), undefined);
    await release();
    await idle();
    await assert.rejects(descriptions.describe(image, "hover"), (error: unknown) => error instanceof HostError && error.code === "engine_failed" && /caught fire/.test(error.message));
    const retry = descriptions.describe(image, "hover");
    await release();
    assert.ok((await retry) !== undefined);
  });

  void it("fails clearly for a file that disappeared", async () => {
    await assert.rejects(descriptions.describe({ kind: "file", path: join(folder, "nope.png") }, "hover"), (error: unknown) => error instanceof HostError && error.code === "image_not_found");
  });
});
