/**
 * Activation: the extension activates without starting molmo-server, registers every command of its manifest,
 * and shows its status bar item's state through the API. How fast it activates is a benchmark's business
 * (tests/bench/extension-activation.bench.ts reads the line this suite prints), not a test's.
 */
import assert from "node:assert/strict";
import * as vscode from "vscode";
import { MolmoCommands } from "../../../extension/commands/command-ids";
import { molmoExtension } from "./environment";
import type { ExtensionSuite } from "./runner";

export const activationSuite: ExtensionSuite = {
  name: "activation",
  tests: [
    {
      name: "activates without starting molmo-server on its own",
      body: async () => {
        const extension = molmoExtension();
        const markdownOpen = vscode.workspace.textDocuments.some((document) => document.languageId === "markdown");
        const wasActive = extension.isActive;
        const started = performance.now();
        const api = await extension.activate();
        const wallMs = performance.now() - started;
        console.log(
          `  activation: activate() ${api.activationMs.toFixed(1)} ms` +
            (wasActive ? " (already active before the suite)" : `; module load + activate() ${wallMs.toFixed(1)} ms as seen by the suite`),
        );
        assert.ok(Number.isFinite(api.activationMs) && api.activationMs > 0, "the API reports how long activate() took");
        assert.equal(api.apiVersion, 1);
        if (!markdownOpen) {
          assert.equal(api.testing.clientPhase(), "idle", "no server before the first question");
          assert.equal(api.status(), undefined);
        }
      },
    },
    {
      name: "registers every command of the manifest",
      body: async () => {
        const registered = new Set(await vscode.commands.getCommands(true));
        const declared = (molmoExtension().packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((command) => command.command);
        assert.deepEqual(declared.sort(), Object.values(MolmoCommands).sort());
        const missing = declared.filter((command) => !registered.has(command));
        assert.deepEqual(missing, [], `commands declared but not registered: ${missing.join(", ")}`);
      },
    },
    {
      name: "runs the server module of this checkout",
      body: async () => {
        const api = await molmoExtension().activate();
        const module = api.testing.serverModule();
        assert.match(module, /dist[\\/](server[\\/]cli[\\/]molmo-server|server)\.js$/);
      },
    },
  ],
};
