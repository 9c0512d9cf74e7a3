/**
 * Parsing the `molmo` settings: the shapes clients send, defaults from the command line, and bad values
 * replaced by defaults with a warning instead of breaking the server.
 */
import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_HOVER_BUDGET_MS, defaultSettings, engineSettingsChanged, parseSettings } from "../../server/lsp/settings";

void describe("parseSettings", () => {
  void it("gives the documented defaults for nothing", () => {
    const { settings, warnings } = parseSettings(undefined);
    assert.deepEqual(settings, {
      modelPath: undefined,
      executionProvider: "auto",
      maxCrops: undefined,
      hover: { enabled: true, budgetMs: DEFAULT_HOVER_BUDGET_MS },
      diagnostics: { missingAltText: false },
      images: { allowOutsideWorkspace: false, allowRemote: false },
    });
    assert.deepEqual(warnings, []);
    assert.equal(DEFAULT_HOVER_BUDGET_MS, 1500);
  });

  void it("reads the section itself, a { molmo } wrapper, and dotted keys alike", () => {
    const nested = { model: { path: "/models/tiny" }, hover: { enabled: false, budgetMs: 200 }, diagnostics: { missingAltText: true } };
    const dotted = { "model.path": "/models/tiny", "hover.enabled": false, "hover.budgetMs": 200, "diagnostics.missingAltText": true };
    const fullyDotted = { "molmo.model.path": "/models/tiny", "molmo.hover.enabled": false, "molmo.hover.budgetMs": 200, "molmo.diagnostics.missingAltText": true };
    const expected = parseSettings(nested).settings;
    assert.equal(expected.modelPath, "/models/tiny");
    assert.equal(expected.hover.enabled, false);
    assert.equal(expected.hover.budgetMs, 200);
    assert.equal(expected.diagnostics.missingAltText, true);
    assert.deepEqual(parseSettings({ molmo: nested }).settings, expected);
    assert.deepEqual(parseSettings(dotted).settings, expected);
    assert.deepEqual(parseSettings(fullyDotted).settings, expected);
  });

  void it("lets settings override the command line's defaults, and falls back to them when unset", () => {
    const defaults = { modelPath: "/cli/model", executionProvider: "cpu", allowOutsideWorkspace: true, allowRemote: true };
    assert.deepEqual(defaultSettings(defaults).images, { allowOutsideWorkspace: true, allowRemote: true });
    assert.equal(defaultSettings(defaults).modelPath, "/cli/model");
    assert.equal(defaultSettings(defaults).executionProvider, "cpu");
    const overridden = parseSettings({ model: { path: "/settings/model" }, executionProvider: "WebGPU", images: { allowRemote: false } }, defaults).settings;
    assert.equal(overridden.modelPath, "/settings/model");
    assert.equal(overridden.executionProvider, "webgpu");
    assert.deepEqual(overridden.images, { allowOutsideWorkspace: true, allowRemote: false });
    assert.equal(parseSettings({ model: { path: "  " } }, defaults).settings.modelPath, "/cli/model", "an empty path setting means: not set");
  });

  void it("resolves a relative model path against the workspace folder, and ~ against the home folder", () => {
    assert.equal(parseSettings({ model: { path: "models/tiny" } }, {}, "/work/space").settings.modelPath, resolve("/work/space/models/tiny"));
    assert.equal(parseSettings({ model: { path: "~/molmo" } }).settings.modelPath, join(homedir(), "molmo"));
  });

  void it("replaces values of the wrong type or range by defaults and says which", () => {
    const { settings, warnings } = parseSettings({
      model: { path: 42 },
      executionProvider: "tpu",
      maxCrops: 0,
      hover: { enabled: "yes", budgetMs: -5 },
      diagnostics: { missingAltText: 1 },
      images: "all",
    });
    assert.deepEqual(settings, defaultSettings());
    assert.equal(warnings.length, 6, warnings.join("\n"));
    assert.ok(warnings.some((warning) => /molmo\.executionProvider.*'tpu'/.test(warning)), warnings.join("\n"));
    assert.ok(warnings.some((warning) => /molmo\.hover\.budgetMs/.test(warning)));
    assert.deepEqual(parseSettings("nonsense").warnings.length, 1);
    assert.equal(parseSettings({ maxCrops: 6 }).settings.maxCrops, 6);
  });

  void it("says when the engine needs reconfiguring", () => {
    const base = defaultSettings({ modelPath: "/a" });
    assert.equal(engineSettingsChanged(base, parseSettings({ hover: { enabled: false } }, { modelPath: "/a" }).settings), false);
    assert.equal(engineSettingsChanged(base, parseSettings({ model: { path: "/b" } }).settings), true);
    assert.equal(engineSettingsChanged(base, parseSettings({ executionProvider: "cpu" }, { modelPath: "/a" }).settings), true);
  });
});
