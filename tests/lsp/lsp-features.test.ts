/**
 * The editor features over a real LSP connection on the tiny model: hover on images in a fixture Markdown
 * file (budgeted, then cached), hover settings, the alt-text code action's edit (resolved lazily and eagerly),
 * missing-alt-text diagnostics driven by workspace/configuration, and a cancelled hover.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CodeAction, Diagnostic, Hover, MarkupContent, PublishDiagnosticsParams, TextEdit, WorkspaceEdit } from "vscode-languageserver-protocol/node";
import { ResponseError } from "vscode-languageserver-protocol/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { MolmoStatus } from "../../server/protocol/molmo-protocol";
import { findImageReferences } from "../../server/lsp/image-references";
import { assertNoInternalErrors, cancellable, startSession, type LspSession } from "./lsp-harness";

const MARKDOWN = [
  "# Screens",
  "",
  "No alt: ![](images/shot.png) here.",
  "",
  'With alt: ![The login form](images/shot.png "Login").',
  "",
  "Plain text line.",
  "",
].join("\n");

function hoverText(hover: Hover | null): string {
  assert.ok(hover !== null, "expected a hover");
  return (hover.contents as MarkupContent).value;
}

function hoverAt(session: LspSession, uri: string, line: number, character: number, token?: ReturnType<typeof cancellable>["token"]): Promise<Hover | null> {
  const params = { textDocument: { uri }, position: { line, character } };
  // Passing an undefined token would send the parameters by position.
  return token === undefined ? session.connection.sendRequest<Hover | null>("textDocument/hover", params) : session.connection.sendRequest<Hover | null>("textDocument/hover", params, token);
}

/** Waits until the engine is idle again (the background generation a budgeted hover left running is done). */
async function waitUntilIdle(session: LspSession): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const status = await session.connection.sendRequest<MolmoStatus>("molmo/status");
    if (status.state === "ready" && status.queue.waiting === 0) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail("the engine did not become idle");
}

function applyEdits(text: string, edits: TextEdit[]): string {
  const document = TextDocument.create("file:///x.md", "markdown", 1, text);
  return TextDocument.applyEdits(document, edits);
}

void describe("LSP hover", { timeout: 120_000 }, () => {
  let session: LspSession;
  let uri: string;
  before(async () => {
    session = startSession();
    // A client without workspace/configuration: settings come from initializationOptions and didChangeConfiguration.
    await session.initialize({ initializationOptions: { hover: { budgetMs: 0 } } });
    uri = session.open("docs/screens.md", MARKDOWN);
  });
  after(() => {
    session.kill();
    assertNoInternalErrors(session);
  });

  void it("says Molmo is still looking when the budget runs out, and shows the cached description on the next hover", async () => {
    const first = await hoverAt(session, uri, 2, 12);
    assert.match(hoverText(first), /^Molmo is still looking at ` images\/shot\.png `…/);
    assert.deepEqual(first?.range, { start: { line: 2, character: 8 }, end: { line: 2, character: 28 } });
    await waitUntilIdle(session);
    const started = Date.now();
    const second = hoverText(await hoverAt(session, uri, 4, 20));
    assert.match(second, /^\*\*Molmo:\*\* \S/);
    assert.match(second, /_\S+ on cpu, \d+ ms_$/);
    assert.ok(Date.now() - started < 1000, "a cached description comes at once");
    assert.equal(hoverText(await hoverAt(session, uri, 2, 10)), second, "the same image content gives the same description");
  });

  void it("answers null off images, and nothing once hovers are turned off by didChangeConfiguration", async () => {
    assert.equal(await hoverAt(session, uri, 6, 3), null);
    assert.equal(await hoverAt(session, uri, 2, 2), null);
    await session.connection.sendNotification("workspace/didChangeConfiguration", { settings: { molmo: { hover: { enabled: false } } } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await hoverAt(session, uri, 2, 12), null);
    await session.connection.sendNotification("workspace/didChangeConfiguration", { settings: { molmo: { hover: { enabled: true, budgetMs: 30_000 } } } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(hoverText(await hoverAt(session, uri, 2, 12)), /^\*\*Molmo:\*\*/);
  });

  void it("stops the generation of a hover the client cancels, and serves the next hover", async () => {
    // New image content (bytes after the PNG's end are ignored by decoders) is a cache miss, so a generation starts.
    const copy = join(session.workspace, "images", "copy.png");
    writeFileSync(copy, Buffer.concat([readFileSync(session.imagePath), Buffer.from("different content")]));
    const doc = session.open("docs/copy.md", "![](../images/copy.png)\n");
    const source = cancellable();
    const since = session.notifications.length;
    const pending = hoverAt(session, doc, 0, 5, source.token);
    await session.waitForNotification<MolmoStatus>("molmo/statusChanged", (status) => status.state === "busy", { since });
    source.cancel();
    const outcome = await pending.then(
      () => "answered",
      (error: unknown) => error,
    );
    assert.ok(outcome instanceof ResponseError, `expected the hover to be cancelled, got ${String(outcome)}`);
    assert.equal(outcome.code, -32800);
    await waitUntilIdle(session);
    assert.match(session.stderr(), /Stopped describing \S*copy\.png \(hover\): no request waits for it/);
    assert.match(hoverText(await hoverAt(session, doc, 0, 5)), /^\*\*Molmo:\*\*/);
  });
});

void describe("LSP alt text", { timeout: 120_000 }, () => {
  let session: LspSession;
  let settings: Record<string, unknown> = { diagnostics: { missingAltText: true } };
  before(async () => {
    session = startSession();
    await session.initialize({
      configuration: () => settings,
      capabilities: {
        textDocument: { codeAction: { resolveSupport: { properties: ["edit"] } } },
        workspace: { workspaceEdit: { documentChanges: true } },
      },
    });
  });
  after(() => {
    session.kill();
    assertNoInternalErrors(session);
  });

  void it("offers the quick fix only on images without alt text, and resolves it to a versioned edit that writes escaped alt text", async () => {
    const uri = session.open("docs/screens.md", MARKDOWN);
    const onMissing = await session.connection.sendRequest<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: { start: { line: 2, character: 12 }, end: { line: 2, character: 12 } },
      context: { diagnostics: [] },
    });
    assert.equal(onMissing.length, 1);
    assert.equal(onMissing[0].title, "Generate alt text with Molmo");
    assert.equal(onMissing[0].kind, "quickfix");
    assert.equal(onMissing[0].edit, undefined, "the edit is generated on resolve");
    const onPresent = await session.connection.sendRequest<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: { start: { line: 4, character: 12 }, end: { line: 4, character: 12 } },
      context: { diagnostics: [] },
    });
    assert.deepEqual(onPresent, []);
    const resolved = await session.connection.sendRequest<CodeAction>("codeAction/resolve", onMissing[0]);
    const change = (resolved.edit as WorkspaceEdit).documentChanges?.[0];
    assert.ok(change !== undefined && "textDocument" in change);
    assert.deepEqual(change.textDocument, { uri, version: 1 });
    assert.equal(change.edits.length, 1);
    const edit = change.edits[0] as TextEdit;
    assert.deepEqual(edit.range, { start: { line: 2, character: 10 }, end: { line: 2, character: 10 } }, "inserted between the empty brackets");
    assert.ok(edit.newText.trim().length > 0);
    const edited = applyEdits(MARKDOWN, [edit]);
    const images = findImageReferences(edited, "markdown");
    assert.equal(images.length, 2, "the edit leaves both images intact");
    assert.equal(images[0].target, "images/shot.png");
    assert.equal(images[0].alt, edit.newText);
    assert.ok(!/(^|[^\\])[[\]]/.test(edit.newText), `brackets in the alt text are escaped: ${edit.newText}`);
  });

  void it("publishes missing-alt-text diagnostics from workspace/configuration, and clears them when the setting goes off", async () => {
    const uri = session.open("docs/diag.md", MARKDOWN);
    const published = await session.waitForNotification<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (params) => params.uri === uri);
    assert.equal(published.diagnostics.length, 1);
    const diagnostic: Diagnostic = published.diagnostics[0];
    assert.equal(diagnostic.severity, 3, "Information");
    assert.equal(diagnostic.source, "molmo");
    assert.equal(diagnostic.code, "missing-alt-text");
    assert.deepEqual(diagnostic.range.start, { line: 2, character: 8 });
    const actions = await session.connection.sendRequest<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri },
      range: diagnostic.range,
      context: { diagnostics: [diagnostic], only: ["quickfix"] },
    });
    assert.equal(actions.length, 1);
    assert.deepEqual(actions[0].diagnostics, [diagnostic]);
    settings = { diagnostics: { missingAltText: false } };
    await session.connection.sendNotification("workspace/didChangeConfiguration", { settings: null });
    const cleared = await session.waitForNotification<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (params) => params.uri === uri && params.diagnostics.length === 0);
    assert.deepEqual(cleared.diagnostics, []);
  });

  void it("generates the edit eagerly for clients without resolve support, inserting an escaped alt attribute into HTML", async () => {
    const eager = startSession();
    try {
      await eager.initialize();
      const html = '<p><img src="../images/shot.png" width="40"></p>\n';
      const uri = eager.open("site/index.html", html, "html");
      const actions = await eager.connection.sendRequest<CodeAction[]>("textDocument/codeAction", {
        textDocument: { uri },
        range: { start: { line: 0, character: 8 }, end: { line: 0, character: 8 } },
        context: { diagnostics: [] },
      });
      assert.equal(actions.length, 1);
      const edits = (actions[0].edit as WorkspaceEdit).changes?.[uri];
      assert.ok(edits !== undefined && edits.length === 1);
      assert.match(edits[0].newText, /^ alt="[^"<>]+"$/);
      const [image] = findImageReferences(applyEdits(html, edits), "html");
      assert.equal(image.target, "../images/shot.png");
      assert.ok((image.alt ?? "").length > 0);
    } finally {
      eager.kill();
    }
  });
});
