/**
 * The one place the LSP server keeps its settings. They come from, in order: the command line (defaults),
 * `initializationOptions`, and then either `workspace/configuration` (section `molmo`, pulled at `initialized`
 * and on every `workspace/didChangeConfiguration`) when the client supports it, or the settings a
 * `didChangeConfiguration` notification pushes. Every source replaces the previous one as a whole, so a
 * setting the user removed goes back to its default.
 *
 * Listeners hear of every change with the settings before and after; the server reconfigures the engine,
 * refreshes diagnostics and so on from there.
 */
import type { Logger } from "../../models/engine/logger";
import { defaultSettings, parseSettings, type ResolvedSettings, type SettingsDefaults } from "./settings";

type Listener = (after: ResolvedSettings, before: ResolvedSettings) => void | Promise<void>;

/** The current settings and their change listeners. */
export class SettingsStore {
  private settings: ResolvedSettings;
  private readonly listeners: Listener[] = [];

  constructor(
    private readonly defaults: SettingsDefaults,
    private readonly logger: Logger,
    /** The first workspace folder, where a relative model path is resolved. */
    private readonly baseDir: () => string | undefined,
  ) {
    this.settings = defaultSettings(defaults);
  }

  /** The settings now. */
  get current(): ResolvedSettings {
    return this.settings;
  }

  /** Calls `listener` after each change. */
  onDidChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /**
   * Replaces the settings by those in `raw` (anything a client sends: see settings.ts); logs what was ignored.
   * Resolves once every listener has run.
   */
  async update(raw: unknown, source: string): Promise<void> {
    const { settings, warnings } = parseSettings(raw, this.defaults, this.baseDir());
    for (const warning of warnings) {
      this.logger.warn(`${warning} (from ${source})`);
    }
    const before = this.settings;
    this.settings = settings;
    if (JSON.stringify(before) === JSON.stringify(settings)) {
      return;
    }
    this.logger.info(`Settings from ${source}: ${JSON.stringify(settings)}`);
    for (const listener of this.listeners) {
      try {
        await listener(settings, before);
      } catch (error) {
        this.logger.error(`Applying the settings failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
