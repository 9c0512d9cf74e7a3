/**
 * package.json as the extension manifest agrees with the code: every command is declared and registered
 * under the same id with the palette titles, every `MolmoSettings` field has a setting whose
 * default the sanitiser keeps, the trust restrictions match, activation is on commands and Markdown only,
 * menus only name known commands and image types, and `main` is the bundle that bundle.ts builds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { MolmoCommands } from "../../extension/commands/command-ids";
import { IMAGE_EXTENSIONS } from "../../extension/commands/image-link";
import { EXECUTION_PROVIDERS, TRUST_RESTRICTED_SETTINGS, readExtensionSettings, type SettingInspection } from "../../extension/config/settings";
import { MCP_PROVIDER_ID } from "../../extension/mcp/mcp-server-args";
import { BUNDLES } from "../../extension/packaging/bundle";
import type { MolmoSettings } from "../../server/protocol/molmo-protocol";
import { repoRoot } from "../helpers/repo-root";

interface Manifest {
  main: string;
  activationEvents: string[];
  extensionKind: string[];
  capabilities: { untrustedWorkspaces: { supported: string; description: string; restrictedConfigurations: string[] } };
  contributes: {
    commands: { command: string; title: string; category: string }[];
    menus: Record<string, { command?: string; submenu?: string; when?: string }[]>;
    submenus: { id: string }[];
    configuration: { properties: Record<string, { default?: unknown; enum?: string[]; markdownDescription?: string; description?: string }> };
    mcpServerDefinitionProviders: { id: string; label: string }[];
  };
}

const manifest = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as Manifest;

type DeepRequired<T> = { [K in keyof T]-?: NonNullable<T[K]> extends object ? DeepRequired<NonNullable<T[K]>> : NonNullable<T[K]> };

/** Every MolmoSettings field: adding one to the protocol breaks this object until the manifest follows. */
const everySetting: DeepRequired<MolmoSettings> = {
  model: { path: "" },
  executionProvider: "",
  maxCrops: 0,
  hover: { enabled: true, budgetMs: 0 },
  diagnostics: { missingAltText: true },
  images: { allowOutsideWorkspace: true, allowRemote: true },
};

function settingKeys(value: object, prefix = "molmo"): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    typeof child === "object" && child !== null ? settingKeys(child as object, `${prefix}.${key}`) : [`${prefix}.${key}`],
  );
}

void test("every command is declared with the issue's palette title, in the Molmo category", () => {
  const declared = new Map(manifest.contributes.commands.map((command) => [command.command, command]));
  assert.deepEqual([...declared.keys()].sort(), Object.values(MolmoCommands).sort());
  const titles = Object.fromEntries(manifest.contributes.commands.map((command) => [command.command, command.title]));
  assert.deepEqual(
    [MolmoCommands.ask, MolmoCommands.pointAt, MolmoCommands.count, MolmoCommands.describe, MolmoCommands.altText, MolmoCommands.selectModel, MolmoCommands.restartServer, MolmoCommands.showLog].map((id) => titles[id]),
    ["Ask Molmo about Image…", "Point at…", "Count…", "Describe Image", "Generate Alt Text", "Select Model…", "Restart Server", "Show Log"],
  );
  assert.ok(manifest.contributes.commands.every((command) => command.category === "Molmo"));
});

void test("menus name known commands; image menus use the image extensions the extension reads", () => {
  const known = new Set<string>([...Object.values(MolmoCommands), ...manifest.contributes.submenus.map((submenu) => submenu.id)]);
  for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
    for (const item of items) {
      assert.ok(known.has(item.command ?? item.submenu ?? ""), `${menu}: ${JSON.stringify(item)}`);
    }
  }
  const imageWhen = manifest.contributes.menus["explorer/context"]?.[0]?.when ?? "";
  const regex = /resourceExtname =~ \/(.*)\/i/.exec(imageWhen)?.[1];
  assert.ok(regex !== undefined, imageWhen);
  const matcher = new RegExp(regex, "i");
  for (const extension of IMAGE_EXTENSIONS) assert.ok(matcher.test(`.${extension}`), extension);
  for (const other of [".md", ".pngx", ".svg", "png"]) assert.ok(!matcher.test(other), other);
  assert.ok(manifest.contributes.menus["editor/context"]?.every((item) => item.when === "editorLangId == markdown && molmo.onImageLink"));
  assert.deepEqual(manifest.contributes.menus.commandPalette, [{ command: MolmoCommands.statusMenu, when: "false" }]);
});

void test("a setting for every MolmoSettings field and the extension's own, each described", () => {
  const properties = manifest.contributes.configuration.properties;
  const expected = [...settingKeys(everySetting), "molmo.server.args", "molmo.server.logLevel", "molmo.mcp.enabled", "molmo.trace.server", "molmo.generation"];
  assert.deepEqual(Object.keys(properties).sort(), expected.sort());
  for (const [key, property] of Object.entries(properties)) {
    assert.ok((property.markdownDescription ?? property.description ?? "").length > 20, `${key} has a description`);
  }
  assert.deepEqual(properties["molmo.executionProvider"]?.enum, [...EXECUTION_PROVIDERS]);
  assert.match(properties["molmo.model.path"]?.markdownDescription ?? "", /ignored unless the workspace is trusted/);
});

void test("the declared defaults are what the extension uses when nothing is set", () => {
  const properties = manifest.contributes.configuration.properties;
  const fromDefaults = readExtensionSettings(
    { inspect: (key): SettingInspection => ({ defaultValue: properties[`molmo.${key}`]?.default }) },
    { trusted: true, homeDir: "/h" },
  );
  const fromNothing = readExtensionSettings({ inspect: () => undefined }, { trusted: true, homeDir: "/h" });
  assert.deepEqual(fromDefaults, fromNothing);
});

void test("workspace trust: limited support, with the restricted settings the sanitiser also enforces", () => {
  const trust = manifest.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, "limited");
  assert.ok(trust.description.length > 40);
  assert.deepEqual(trust.restrictedConfigurations, TRUST_RESTRICTED_SETTINGS.map((key) => `molmo.${key}`));
});

void test("activation on Markdown (commands and the MCP provider activate implicitly); main is the bundle", () => {
  assert.deepEqual(manifest.activationEvents, ["onLanguage:markdown"]);
  assert.deepEqual(manifest.extensionKind, ["workspace"]);
  assert.equal(manifest.main, `./${BUNDLES.find((bundle) => bundle.name === "extension")?.outfile}`);
  assert.deepEqual(manifest.contributes.mcpServerDefinitionProviders, [{ id: MCP_PROVIDER_ID, label: "Molmo" }]);
});
