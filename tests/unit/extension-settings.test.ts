/**
 * The extension's settings normalisation (extension/config/settings.ts): scopes, workspace trust, defaults,
 * bad values, restart detection, and the command lines built from the settings (LSP and MCP).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  changedSettingKeys,
  effectiveValue,
  lspServerArgs,
  needsRestart,
  readExtensionSettings,
  type SettingInspection,
  type SettingsEnvironment,
} from "../../extension/config/settings";
import { mcpLaunch } from "../../extension/mcp/mcp-server-args";

/** A settings source from per-key inspections; unknown keys have only VS Code's default (undefined here). */
function source(values: Record<string, SettingInspection>): { inspect(key: string): SettingInspection | undefined } {
  return { inspect: (key) => values[key] ?? {} };
}

const trusted: SettingsEnvironment = { trusted: true, homeDir: "/home/ada", workspaceFolder: "/work/project" };
const untrusted: SettingsEnvironment = { ...trusted, trusted: false };

void test("defaults fill every setting when nothing is set", () => {
  const settings = readExtensionSettings(source({}), trusted);
  assert.deepEqual(settings.server, {
    model: {},
    executionProvider: "auto",
    hover: { enabled: true, budgetMs: 1500 },
    diagnostics: { missingAltText: false },
    images: { allowOutsideWorkspace: false, allowRemote: false },
  });
  assert.deepEqual(settings.serverArgs, []);
  assert.equal(settings.logLevel, "info");
  assert.equal(settings.mcpEnabled, true);
  assert.deepEqual(settings.generation, {});
  assert.deepEqual(settings.notes, []);
});

void test("molmo.generation: valid options pass, bad ones are dropped with a note", () => {
  const read = (value: unknown): ReturnType<typeof readExtensionSettings> => readExtensionSettings(source({ generation: { workspaceValue: value } }), trusted);
  assert.deepEqual(read({ maxNewTokens: 8, temperature: 0.5, topK: 40, topP: 0.9, seed: 7, answerPrefix: "<point" }).generation, {
    maxNewTokens: 8,
    temperature: 0.5,
    topK: 40,
    topP: 0.9,
    seed: 7,
    answerPrefix: "<point",
  });
  const bad = read({ maxNewTokens: 0.5, topP: 2, answerPrefix: 3, beamWidth: 4 });
  assert.deepEqual(bad.generation, {});
  assert.equal(bad.notes.length, 4, bad.notes.join("\n"));
  assert.deepEqual(read("fast").generation, {});
  assert.deepEqual(read({ answerPrefix: "" }).generation, {});
});

void test("the most specific scope wins: folder, workspace, user, default", () => {
  assert.equal(effectiveValue("executionProvider", { defaultValue: "auto", globalValue: "cpu", workspaceValue: "webgpu" }, true), "webgpu");
  assert.equal(
    effectiveValue("executionProvider", { defaultValue: "auto", globalValue: "cpu", workspaceValue: "webgpu", workspaceFolderValue: "dml" }, true),
    "dml",
  );
  assert.equal(effectiveValue("executionProvider", { defaultValue: "auto", globalValue: "cpu" }, true), "cpu");
  assert.equal(effectiveValue("executionProvider", { defaultValue: "auto" }, true), "auto");
});

void test("an untrusted workspace cannot choose the model, the server's flags or widen image access", () => {
  const values = source({
    "model.path": { globalValue: "/models/user-bundle", workspaceValue: "/tmp/evil-bundle" },
    "server.args": { workspaceValue: ["--models-dir", "/tmp/evil"] },
    "images.allowOutsideWorkspace": { workspaceValue: true },
    "images.allowRemote": { workspaceFolderValue: true },
    executionProvider: { workspaceValue: "cpu" },
  });
  const settings = readExtensionSettings(values, untrusted);
  assert.equal(settings.server.model?.path, "/models/user-bundle");
  assert.deepEqual(settings.serverArgs, []);
  assert.equal(settings.server.images?.allowOutsideWorkspace, false);
  assert.equal(settings.server.images?.allowRemote, false);
  // Harmless settings still come from the workspace.
  assert.equal(settings.server.executionProvider, "cpu");
  assert.equal(settings.notes.filter((note) => note.includes("not trusted")).length, 4, settings.notes.join("\n"));

  const whenTrusted = readExtensionSettings(values, trusted);
  assert.equal(whenTrusted.server.model?.path, "/tmp/evil-bundle");
  assert.deepEqual(whenTrusted.serverArgs, ["--models-dir", "/tmp/evil"]);
  assert.equal(whenTrusted.server.images?.allowRemote, true);
});

void test("model paths: ~ expands, relative paths resolve against the workspace folder, blanks mean none", () => {
  const path = (value: unknown, environment = trusted): string | undefined =>
    readExtensionSettings(source({ "model.path": { globalValue: value } }), environment).server.model?.path;
  assert.equal(path("~/models/molmo"), "/home/ada/models/molmo");
  assert.equal(path("~"), "/home/ada");
  assert.equal(path("bundles/tiny"), "/work/project/bundles/tiny");
  assert.equal(path("  /abs/bundle  "), "/abs/bundle");
  assert.equal(path("   "), undefined);
  assert.equal(path(42), undefined);
  const noFolder = readExtensionSettings(source({ "model.path": { globalValue: "rel" } }), { trusted: true, homeDir: "/h" });
  assert.equal(noFolder.server.model?.path, undefined);
  assert.match(noFolder.notes.join("\n"), /relative and no folder is open/);
});

void test("an untrusted workspace cannot choose the model through the user's relative model path either", () => {
  // The user's own setting, but resolved against the untrusted folder it would load whatever that folder holds.
  const settings = readExtensionSettings(source({ "model.path": { globalValue: "bundles/tiny" } }), untrusted);
  assert.equal(settings.server.model?.path, undefined);
  assert.match(settings.notes.join("\n"), /relative and the workspace is not trusted/);
  // Absolute and ~ paths do not depend on the folder and still apply.
  const absolute = readExtensionSettings(source({ "model.path": { globalValue: "~/models/molmo" } }), untrusted);
  assert.equal(absolute.server.model?.path, "/home/ada/models/molmo");
});

void test("bad values fall back to defaults with a note saying why", () => {
  const settings = readExtensionSettings(
    source({
      executionProvider: { globalValue: "tpu" },
      maxCrops: { globalValue: 2.5 },
      "hover.enabled": { globalValue: "yes" },
      "hover.budgetMs": { globalValue: 10 },
      "server.logLevel": { globalValue: "verbose" },
      "mcp.enabled": { globalValue: 0 },
    }),
    trusted,
  );
  assert.equal(settings.server.executionProvider, "auto");
  assert.equal(settings.server.maxCrops, undefined);
  assert.equal(settings.server.hover?.enabled, true);
  assert.equal(settings.server.hover?.budgetMs, 100, "clamped to the minimum");
  assert.equal(settings.logLevel, "info");
  assert.equal(settings.mcpEnabled, true);
  assert.equal(settings.notes.length, 6, settings.notes.join("\n"));
  assert.match(settings.notes.join("\n"), /molmo\.executionProvider "tpu" is not one of auto, cpu/);

  const clamped = readExtensionSettings(source({ maxCrops: { globalValue: 500 } }), trusted);
  assert.equal(clamped.server.maxCrops, 64);
  assert.equal(readExtensionSettings(source({ maxCrops: { globalValue: 6 } }), trusted).server.maxCrops, 6);
});

void test("server args: strings only, and no transport flags (the client picks the transport)", () => {
  const settings = readExtensionSettings(
    source({ "server.args": { globalValue: ["--max-queue", "4", 7, "--mcp", "--socket=9000", "--stdio", "--eager"] } }),
    trusted,
  );
  assert.deepEqual(settings.serverArgs, ["--max-queue", "4", "--eager"]);
  assert.equal(settings.notes.length, 4);
  assert.deepEqual(readExtensionSettings(source({ "server.args": { globalValue: "--eager" } }), trusted).serverArgs, []);
  // The short forms of help and version make the server print and exit, which the client would see as crashes.
  const short = readExtensionSettings(source({ "server.args": { globalValue: ["-h", "--eager", "-v"] } }), trusted);
  assert.deepEqual(short.serverArgs, ["--eager"]);
});

void test("changed keys and which of them need a server restart", () => {
  const before = readExtensionSettings(source({}), trusted);
  const after = readExtensionSettings(
    source({ "model.path": { globalValue: "/m" }, "hover.budgetMs": { globalValue: 900 }, "server.logLevel": { globalValue: "debug" } }),
    trusted,
  );
  const changed = changedSettingKeys(before, after);
  assert.deepEqual(changed.sort(), ["hover.budgetMs", "model.path", "server.logLevel"]);
  assert.equal(needsRestart(changed), true);
  assert.equal(needsRestart(["model.path", "hover.budgetMs"]), false, "the server takes these on the fly");
  assert.deepEqual(changedSettingKeys(before, readExtensionSettings(source({}), trusted)), []);
});

void test("the LSP and MCP command lines carry the settings", () => {
  const settings = readExtensionSettings(
    source({
      "model.path": { globalValue: "/models/molmo-7b-d" },
      executionProvider: { globalValue: "webgpu" },
      maxCrops: { globalValue: 6 },
      "images.allowRemote": { globalValue: true },
      "server.logLevel": { globalValue: "debug" },
      "server.args": { globalValue: ["--max-queue", "2"] },
    }),
    trusted,
  );
  assert.deepEqual(lspServerArgs(settings), ["--log-level", "debug", "--max-queue", "2"]);
  const launch = mcpLaunch("/usr/bin/code", "/ext/dist/server.js", settings);
  assert.equal(launch.command, "/usr/bin/code");
  assert.deepEqual(launch.args, [
    "/ext/dist/server.js",
    "--mcp",
    "--log-level",
    "debug",
    "--model",
    "/models/molmo-7b-d",
    "--ep",
    "webgpu",
    "--max-crops",
    "6",
    "--allow-remote-images",
    "--max-queue",
    "2",
  ]);
  assert.deepEqual(launch.env, { ELECTRON_RUN_AS_NODE: "1" });
  const bare = mcpLaunch("node", "s.js", readExtensionSettings(source({}), trusted));
  assert.deepEqual(bare.args, ["s.js", "--mcp", "--log-level", "info", "--ep", "auto"]);
});
