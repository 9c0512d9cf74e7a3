/**
 * Markdown: the commands find the image link under the cursor, molmo-server's hover describes an image, and
 * Generate Alt Text applies the server's code action to an image without alt text.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { MolmoAskResult } from "../../../server/protocol/molmo-protocol";
import { MolmoCommands } from "../../../extension/commands/command-ids";
import { ensureTinyModel, fixtureImage, molmoApi, workspaceFolder } from "./environment";
import { waitFor, type ExtensionSuite } from "./runner";

async function openMarkdown(name: string, text: string): Promise<vscode.TextEditor> {
  fixtureImage();
  const path = join(workspaceFolder().fsPath, name);
  writeFileSync(path, text);
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(path));
  return vscode.window.showTextDocument(document);
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((hover) => hover.contents)
    .map((content) => (typeof content === "string" ? content : content.value))
    .join("\n");
}

export const markdownSuite: ExtensionSuite = {
  name: "markdown",
  tests: [
    {
      name: "Describe Image on the image link under the cursor",
      body: async () => {
        await molmoApi();
        await ensureTinyModel();
        const editor = await openMarkdown("links.md", "# Shots\n\nThe form: ![login form](image.png) done.\n");
        const position = new vscode.Position(2, 14);
        editor.selection = new vscode.Selection(position, position);
        const result = await vscode.commands.executeCommand<MolmoAskResult | undefined>(MolmoCommands.describe, { options: { maxNewTokens: 2 } });
        assert.ok(result !== undefined, "an answer about the linked image");
        assert.equal(result.task, "caption");
        assert.ok(result.image.path?.endsWith("image.png"), result.image.path);
      },
    },
    {
      name: "hover on an image link shows Molmo's description",
      timeoutMs: 60_000,
      body: async () => {
        await ensureTinyModel();
        const editor = await openMarkdown("hover.md", "![chart](image.png)\n");
        const position = new vscode.Position(0, 4);
        const text = await waitFor(
          "Molmo's description in the hover",
          async () => {
            const hovers = (await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", editor.document.uri, position)) ?? [];
            const joined = hoverText(hovers);
            return /\*\*Molmo:\*\*/.test(joined) ? joined : undefined;
          },
          45_000,
        );
        assert.match(text, /cpu/);
      },
    },
    {
      name: "Generate Alt Text fills an empty alt through the server's code action",
      timeoutMs: 60_000,
      body: async () => {
        await ensureTinyModel();
        const editor = await openMarkdown("alt.md", "Intro\n\n![](image.png)\n");
        const position = new vscode.Position(2, 1);
        editor.selection = new vscode.Selection(position, position);
        await vscode.commands.executeCommand(MolmoCommands.altText);
        const line = editor.document.lineAt(2).text;
        assert.match(line, /^!\[[^\]]+\]\(image\.png\)$/, `alt text written: ${line}`);
        await vscode.commands.executeCommand("workbench.action.files.revert");
      },
    },
  ],
};
