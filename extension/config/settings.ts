/**
 * The `molmo.*` settings, read once per change and normalised at the edge (vscode-eslint's `sanitize()`):
 * whatever a user or a workspace wrote, the rest of the extension and the server get well-typed values
 * with defaults filled in, and a list of what was dropped and why (logged).
 *
 * Workspace trust is applied here as well as by VS Code's `restrictedConfigurations` (package.json): in an
 * untrusted workspace the settings in {@link TRUST_RESTRICTED_SETTINGS} only come from the user's own
 * settings. Doing it twice costs nothing and keeps the rule testable without a VS Code.
 *
 * Pure: no `vscode` import. The caller passes a {@link SettingsSource} over `WorkspaceConfiguration.inspect`.
 */
import { isAbsolute, join, resolve } from "node:path";
import type { MolmoGenerationOptions, MolmoSettings } from "../../server/protocol/molmo-protocol";

/** The scopes VS Code reports for one setting (`WorkspaceConfiguration.inspect`), reduced to what is used. */
export interface SettingInspection {
  readonly defaultValue?: unknown;
  readonly globalValue?: unknown;
  readonly workspaceValue?: unknown;
  readonly workspaceFolderValue?: unknown;
}

/** Reads one key of the `molmo` section (e.g. `model.path`) in every scope. */
export interface SettingsSource {
  inspect(key: string): SettingInspection | undefined;
}

/** Where the settings are read: trust, and what `~` and relative paths mean. */
export interface SettingsEnvironment {
  readonly trusted: boolean;
  readonly homeDir: string;
  /** The first workspace folder's path; relative model paths are resolved against it. */
  readonly workspaceFolder?: string;
}

/** Log levels molmo-server's `--log-level` accepts. */
export type ServerLogLevel = "error" | "warn" | "info" | "debug";

/** Execution providers the server knows (`molmo.executionProvider`). */
export const EXECUTION_PROVIDERS = ["auto", "cpu", "webgpu", "cuda", "dml", "coreml"] as const;

const LOG_LEVELS: readonly ServerLogLevel[] = ["error", "warn", "info", "debug"];

/**
 * Settings a workspace may not set unless it is trusted: they choose what runs (the model's files, the
 * server's flags) or widen what the server may read (files outside the workspace, remote images).
 */
export const TRUST_RESTRICTED_SETTINGS = ["model.path", "server.args", "images.allowOutsideWorkspace", "images.allowRemote"] as const;

/** Settings the running server cannot take on the fly: changing one asks the user to restart it. */
export const RESTART_REQUIRED_SETTINGS = ["server.args", "server.logLevel"] as const;

/**
 * Flags that choose molmo-server's transport. The language client adds its own (`--stdio`); the user's
 * `molmo.server.args` may not switch the server into another mode behind its back.
 */
const TRANSPORT_FLAGS = ["--stdio", "--node-ipc", "--socket", "--pipe", "--mcp", "--mcp-http", "--clientProcessId", "--help", "-h", "--version", "-v"];

/** Bounds of `molmo.hover.budgetMs`. */
export const HOVER_BUDGET_BOUNDS = { min: 100, max: 30_000, default: 1500 } as const;

/** Bounds of `molmo.maxCrops` (the released models use 12; more costs time and memory for little gain). */
export const MAX_CROPS_BOUNDS = { min: 1, max: 64 } as const;

/** Everything the extension uses, normalised. */
export interface ExtensionSettings {
  /** What the server gets (initializationOptions, didChangeConfiguration, workspace/configuration). */
  readonly server: MolmoSettings;
  /** Extra command-line flags for molmo-server. */
  readonly serverArgs: readonly string[];
  readonly logLevel: ServerLogLevel;
  /** Whether the MCP server definition is offered to VS Code's agents. */
  readonly mcpEnabled: boolean;
  /** Generation options of questions asked from the editor (commands, the panel); a command's own win. */
  readonly generation: MolmoGenerationOptions;
  /** Values that were set but not used, each with the reason, for the log. */
  readonly notes: readonly string[];
}

/**
 * Reads and normalises the `molmo` section.
 *
 * Values are taken from the most specific scope that sets them (folder, workspace, user, default), except
 * that in an untrusted workspace the {@link TRUST_RESTRICTED_SETTINGS} skip the workspace scopes.
 */
export function readExtensionSettings(source: SettingsSource, environment: SettingsEnvironment): ExtensionSettings {
  const notes: string[] = [];
  const read = (key: string): unknown => effectiveValue(key, source.inspect(key), environment.trusted, notes);

  const modelPath = sanitizeModelPath(read("model.path"), environment, notes);
  const executionProvider = sanitizeEnum(read("executionProvider"), EXECUTION_PROVIDERS, "auto", "executionProvider", notes);
  const maxCrops = sanitizeInteger(read("maxCrops"), MAX_CROPS_BOUNDS.min, MAX_CROPS_BOUNDS.max, "maxCrops", notes);
  const hoverBudget =
    sanitizeInteger(read("hover.budgetMs"), HOVER_BUDGET_BOUNDS.min, HOVER_BUDGET_BOUNDS.max, "hover.budgetMs", notes) ??
    HOVER_BUDGET_BOUNDS.default;

  const server: MolmoSettings = {
    model: modelPath !== undefined ? { path: modelPath } : {},
    executionProvider,
    ...(maxCrops !== undefined ? { maxCrops } : {}),
    hover: { enabled: sanitizeBoolean(read("hover.enabled"), true, "hover.enabled", notes), budgetMs: hoverBudget },
    diagnostics: { missingAltText: sanitizeBoolean(read("diagnostics.missingAltText"), false, "diagnostics.missingAltText", notes) },
    images: {
      allowOutsideWorkspace: sanitizeBoolean(read("images.allowOutsideWorkspace"), false, "images.allowOutsideWorkspace", notes),
      allowRemote: sanitizeBoolean(read("images.allowRemote"), false, "images.allowRemote", notes),
    },
  };
  return {
    server,
    serverArgs: sanitizeServerArgs(read("server.args"), notes),
    logLevel: sanitizeEnum(read("server.logLevel"), LOG_LEVELS, "info", "server.logLevel", notes),
    mcpEnabled: sanitizeBoolean(read("mcp.enabled"), true, "mcp.enabled", notes),
    generation: sanitizeGeneration(read("generation"), notes),
    notes,
  };
}

/** The value of one key after scopes and trust; a note when a workspace value was ignored for trust. */
export function effectiveValue(key: string, inspection: SettingInspection | undefined, trusted: boolean, notes: string[] = []): unknown {
  if (inspection === undefined) {
    return undefined;
  }
  const restricted = (TRUST_RESTRICTED_SETTINGS as readonly string[]).includes(key);
  const workspaceValue = inspection.workspaceFolderValue ?? inspection.workspaceValue;
  if (workspaceValue !== undefined) {
    if (trusted || !restricted) {
      return workspaceValue;
    }
    notes.push(`molmo.${key} from the workspace settings is ignored: the workspace is not trusted`);
  }
  return inspection.globalValue ?? inspection.defaultValue;
}

function sanitizeModelPath(value: unknown, environment: SettingsEnvironment, notes: string[]): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== "string") {
    notes.push(`molmo.model.path is not a string (${typeof value}); no model is configured`);
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed === "") {
    return undefined;
  }
  // Users write `~/models/molmo` in settings as they would in a shell.
  const expanded = trimmed === "~" ? environment.homeDir : trimmed.startsWith("~/") ? join(environment.homeDir, trimmed.slice(2)) : trimmed;
  if (isAbsolute(expanded)) {
    return expanded;
  }
  if (environment.workspaceFolder !== undefined) {
    if (!environment.trusted) {
      // Resolved against an untrusted folder, the user's own relative path would let that folder's content
      // choose which model runs, which Restricted Mode promises it cannot.
      notes.push(`molmo.model.path "${trimmed}" is relative and the workspace is not trusted; no model is configured (use an absolute path)`);
      return undefined;
    }
    return resolve(environment.workspaceFolder, expanded);
  }
  notes.push(`molmo.model.path "${trimmed}" is relative and no folder is open to resolve it against; no model is configured`);
  return undefined;
}

function sanitizeEnum<T extends string>(value: unknown, allowed: readonly T[], fallback: T, key: string, notes: string[]): T {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  notes.push(`molmo.${key} ${JSON.stringify(value)} is not one of ${allowed.join(", ")}; using "${fallback}"`);
  return fallback;
}

function sanitizeBoolean(value: unknown, fallback: boolean, key: string, notes: string[]): boolean {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value === "boolean") {
    return value;
  }
  notes.push(`molmo.${key} ${JSON.stringify(value)} is not true or false; using ${String(fallback)}`);
  return fallback;
}

function sanitizeInteger(value: unknown, min: number, max: number, key: string, notes: string[]): number | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== "number" || !Number.isInteger(value)) {
    notes.push(`molmo.${key} ${JSON.stringify(value)} is not a whole number; using the default`);
    return undefined;
  }
  if (value < min || value > max) {
    const clamped = Math.min(max, Math.max(min, value));
    notes.push(`molmo.${key} ${value} is outside ${min}–${max}; using ${clamped}`);
    return clamped;
  }
  return value;
}

/** Bounds of each `molmo.generation` number (those molmo-server accepts). */
const GENERATION_BOUNDS = {
  maxNewTokens: { min: 1, max: 2048, integer: true },
  temperature: { min: 0, max: 10, integer: false },
  topK: { min: 0, max: 1_000_000, integer: true },
  topP: { min: 0, max: 1, integer: false },
  seed: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
} as const;

/** Longest `molmo.generation.answerPrefix` (a few tags, not a document). */
const MAX_ANSWER_PREFIX = 4000;

function sanitizeGeneration(value: unknown, notes: string[]): MolmoGenerationOptions {
  if (value === undefined || value === null) {
    return {};
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    notes.push("molmo.generation is not an object; ignored");
    return {};
  }
  const raw = value as Record<string, unknown>;
  const options: { -readonly [K in keyof MolmoGenerationOptions]: MolmoGenerationOptions[K] } = {};
  for (const [key, bounds] of Object.entries(GENERATION_BOUNDS) as [keyof typeof GENERATION_BOUNDS, (typeof GENERATION_BOUNDS)[keyof typeof GENERATION_BOUNDS]][]) {
    const number = raw[key];
    if (number === undefined || number === null) continue;
    if (typeof number === "number" && Number.isFinite(number) && number >= bounds.min && number <= bounds.max && (!bounds.integer || Number.isInteger(number))) {
      options[key] = number;
    } else {
      notes.push(`molmo.generation.${key} ${JSON.stringify(number)} is not ${bounds.integer ? "a whole number" : "a number"} in ${bounds.min}–${bounds.max}; ignored`);
    }
  }
  const prefix = raw.answerPrefix;
  if (typeof prefix === "string" && prefix.length <= MAX_ANSWER_PREFIX) {
    if (prefix !== "") options.answerPrefix = prefix;
  } else if (prefix !== undefined && prefix !== null) {
    notes.push(`molmo.generation.answerPrefix is not a string of at most ${MAX_ANSWER_PREFIX} characters; ignored`);
  }
  const unknown = Object.keys(raw).filter((key) => !(key in GENERATION_BOUNDS) && key !== "answerPrefix");
  if (unknown.length > 0) notes.push(`molmo.generation: unknown ${unknown.join(", ")}; ignored`);
  return options;
}

function sanitizeServerArgs(value: unknown, notes: string[]): string[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    notes.push("molmo.server.args is not a list of strings; ignored");
    return [];
  }
  const args: string[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== "string") {
      notes.push(`molmo.server.args: ${JSON.stringify(item)} is not a string; dropped`);
      continue;
    }
    const flag = item.split("=", 1)[0] ?? item;
    if (TRANSPORT_FLAGS.includes(flag)) {
      notes.push(`molmo.server.args: ${item} is chosen by the extension, not by settings; dropped`);
      continue;
    }
    args.push(item);
  }
  return args;
}

/** The keys (without the `molmo.` prefix) whose normalised value differs between two readings. */
export function changedSettingKeys(before: ExtensionSettings, after: ExtensionSettings): string[] {
  const flatten = (settings: ExtensionSettings): Record<string, string> => ({
    "model.path": JSON.stringify(settings.server.model?.path),
    executionProvider: JSON.stringify(settings.server.executionProvider),
    maxCrops: JSON.stringify(settings.server.maxCrops),
    "hover.enabled": JSON.stringify(settings.server.hover?.enabled),
    "hover.budgetMs": JSON.stringify(settings.server.hover?.budgetMs),
    "diagnostics.missingAltText": JSON.stringify(settings.server.diagnostics?.missingAltText),
    "images.allowOutsideWorkspace": JSON.stringify(settings.server.images?.allowOutsideWorkspace),
    "images.allowRemote": JSON.stringify(settings.server.images?.allowRemote),
    "server.args": JSON.stringify(settings.serverArgs),
    "server.logLevel": JSON.stringify(settings.logLevel),
    "mcp.enabled": JSON.stringify(settings.mcpEnabled),
    generation: JSON.stringify(settings.generation),
  });
  const a = flatten(before);
  const b = flatten(after);
  return Object.keys(a).filter((key) => a[key] !== b[key]);
}

/** Whether any of the changed keys needs a server restart to take effect. */
export function needsRestart(changedKeys: readonly string[]): boolean {
  return changedKeys.some((key) => (RESTART_REQUIRED_SETTINGS as readonly string[]).includes(key));
}

/** The command-line arguments of the LSP server process (the client adds the transport flag itself). */
export function lspServerArgs(settings: ExtensionSettings): string[] {
  return ["--log-level", settings.logLevel, ...settings.serverArgs];
}
