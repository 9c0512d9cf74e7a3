/**
 * The `molmo` settings (`MolmoSettings` in server/protocol/molmo-protocol.ts) as the server uses them: parsed from whatever a client sends (VS Code's nested
 * object, a `{ molmo: {...} }` wrapper, or dotted keys like `"hover.enabled"` that some editors' configs
 * produce), every value checked, and anything unknown or of the wrong type replaced by its default with a
 * warning, so a typo in a user's settings never breaks the server.
 *
 * The command line gives the defaults the settings override: `--model`, `--ep`, `--allow-outside-roots`,
 * `--allow-remote-images`.
 */
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";

/** Settings with every value present. */
export interface ResolvedSettings {
  /** The model bundle, absolute (a relative setting is resolved against the first workspace folder, else the working directory). */
  readonly modelPath: string | undefined;
  readonly executionProvider: string;
  /** Most crops per image; undefined leaves the bundle's preprocessor_config in charge. */
  readonly maxCrops: number | undefined;
  readonly hover: { readonly enabled: boolean; readonly budgetMs: number };
  readonly diagnostics: { readonly missingAltText: boolean };
  readonly images: { readonly allowOutsideWorkspace: boolean; readonly allowRemote: boolean };
}

/** What the command line sets before any client setting arrives. */
export interface SettingsDefaults {
  readonly modelPath?: string;
  readonly executionProvider?: string;
  readonly allowOutsideWorkspace?: boolean;
  readonly allowRemote?: boolean;
}

/** Parsed settings and what was wrong with the input. */
export interface ParsedSettings {
  readonly settings: ResolvedSettings;
  /** One sentence per ignored value, for the log. */
  readonly warnings: string[];
}

export const DEFAULT_HOVER_BUDGET_MS = 1500;
const MAX_HOVER_BUDGET_MS = 60_000;
const EXECUTION_PROVIDERS = ["auto", "cpu", "webgpu", "cuda", "dml", "coreml"];

/** The defaults alone (no client settings yet). */
export function defaultSettings(defaults: SettingsDefaults = {}): ResolvedSettings {
  return parseSettings(undefined, defaults).settings;
}

/**
 * Parses a settings object.
 *
 * @param raw what the client sent (undefined or null: the defaults)
 * @param defaults the command line's values
 * @param baseDir where a relative model path is resolved (the first workspace folder)
 */
export function parseSettings(raw: unknown, defaults: SettingsDefaults = {}, baseDir?: string): ParsedSettings {
  const warnings: string[] = [];
  const section = sectionOf(raw, warnings);
  const read = <T>(path: string, check: (value: unknown) => value is T, expected: string): T | undefined => {
    const value = lookup(section, path);
    if (value === undefined || value === null) {
      return undefined;
    }
    if (!check(value)) {
      warnings.push(`Ignored molmo.${path}: expected ${expected}, got ${JSON.stringify(value)}.`);
      return undefined;
    }
    return value;
  };
  const modelPath = read("model.path", isString, "a folder path");
  const ep = read("executionProvider", isString, `one of ${EXECUTION_PROVIDERS.join(", ")}`);
  if (ep !== undefined && ep.trim() !== "" && !EXECUTION_PROVIDERS.includes(ep.trim().toLowerCase())) {
    warnings.push(`Ignored molmo.executionProvider: '${ep}' is not one of ${EXECUTION_PROVIDERS.join(", ")}.`);
  }
  const maxCrops = read("maxCrops", isPositiveInteger, "a whole number of 1 or more");
  const budgetMs = read("hover.budgetMs", isBudget, `a number of milliseconds from 0 to ${MAX_HOVER_BUDGET_MS}`);
  const settings: ResolvedSettings = {
    modelPath: resolveModelPath(modelPath !== undefined && modelPath.trim() !== "" ? modelPath.trim() : defaults.modelPath, baseDir),
    executionProvider: ep !== undefined && EXECUTION_PROVIDERS.includes(ep.trim().toLowerCase()) ? ep.trim().toLowerCase() : (defaults.executionProvider ?? "auto"),
    maxCrops,
    hover: {
      enabled: read("hover.enabled", isBoolean, "true or false") ?? true,
      budgetMs: budgetMs ?? DEFAULT_HOVER_BUDGET_MS,
    },
    diagnostics: { missingAltText: read("diagnostics.missingAltText", isBoolean, "true or false") ?? false },
    images: {
      allowOutsideWorkspace: read("images.allowOutsideWorkspace", isBoolean, "true or false") ?? defaults.allowOutsideWorkspace ?? false,
      allowRemote: read("images.allowRemote", isBoolean, "true or false") ?? defaults.allowRemote ?? false,
    },
  };
  return { settings, warnings };
}

/** Whether the engine must be reconfigured: the model or execution provider changed. */
export function engineSettingsChanged(before: ResolvedSettings, after: ResolvedSettings): boolean {
  return before.modelPath !== after.modelPath || before.executionProvider !== after.executionProvider;
}

/**
 * The `molmo` section of what a client sent: `{ molmo: {...} }` (didChangeConfiguration from VS Code),
 * the section itself (initializationOptions, workspace/configuration), with dotted keys expanded.
 */
function sectionOf(raw: unknown, warnings: string[]): Record<string, unknown> {
  if (raw === undefined || raw === null) {
    return {};
  }
  if (!isRecord(raw)) {
    warnings.push(`Ignored the molmo settings: expected an object, got ${JSON.stringify(raw)}.`);
    return {};
  }
  const expanded = expandDottedKeys(raw);
  const wrapped = expanded.molmo;
  return isRecord(wrapped) ? wrapped : expanded;
}

/** `{ "hover.enabled": false }` → `{ hover: { enabled: false } }` (nested objects win over dotted duplicates). */
function expandDottedKeys(object: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const dotted: Array<[string[], unknown]> = [];
  for (const [key, value] of Object.entries(object)) {
    if (key.includes(".")) {
      dotted.push([key.split("."), value]);
    } else {
      result[key] = isRecord(value) ? expandDottedKeys(value) : value;
    }
  }
  for (const [parts, value] of dotted) {
    let target = result;
    for (const part of parts.slice(0, -1)) {
      const next = target[part];
      if (!isRecord(next)) {
        target[part] = {};
      }
      target = target[part] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1];
    if (!(last in target)) {
      target[last] = value;
    }
  }
  return result;
}

function lookup(section: Record<string, unknown>, path: string): unknown {
  let value: unknown = section;
  for (const part of path.split(".")) {
    if (!isRecord(value)) {
      return undefined;
    }
    value = value[part];
  }
  return value;
}

function resolveModelPath(path: string | undefined, baseDir: string | undefined): string | undefined {
  if (path === undefined) {
    return undefined;
  }
  const expanded = path === "~" ? homedir() : path.startsWith("~/") ? resolve(homedir(), path.slice(2)) : path;
  if (isAbsolute(expanded)) {
    return resolve(expanded);
  }
  return baseDir !== undefined ? resolve(baseDir, expanded) : resolve(expanded);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}

function isBudget(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= MAX_HOVER_BUDGET_MS;
}
