/**
 * Settings from initializationOptions survive a client that supports workspace/configuration but has no
 * `molmo` section to give (Neovim, Helix and others answer null for a section they were not configured with).
 * Replacing the settings by the defaults then would silently undo what the user passed at start.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Hover } from "vscode-languageserver-protocol/node";
import { assertNoInternalErrors, startSession, type LspSession } from "./lsp-harness";

void describe("LSP settings sources", { timeout: 60_000 }, () => {
  let session: LspSession;
  let configurationAsked = 0;
  before(async () => {
    session = startSession({ withModel: false });
    await session.initialize({
      initializationOptions: { hover: { enabled: false } },
      configuration: () => {
        configurationAsked += 1;
        return null;
      },
    });
  });
  after(() => {
    session.kill();
    assertNoInternalErrors(session);
  });

  void it("keeps initializationOptions when workspace/configuration answers null for the molmo section", async () => {
    const uri = session.open("docs/a.md", "# A\n\n![](../images/shot.png)\n");
    const deadline = Date.now() + 10_000;
    while (configurationAsked === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(configurationAsked > 0, "the server pulled the settings");
    // A request answered after the pull's answer arrived: the server has applied (or ignored) it by then.
    await session.connection.sendRequest("molmo/status");
    const hover = await session.connection.sendRequest<Hover | null>("textDocument/hover", { textDocument: { uri }, position: { line: 2, character: 5 } });
    assert.equal(hover, null, "hovers stay off, as initializationOptions said");
  });
});
