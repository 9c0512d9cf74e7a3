/**
 * Debian's chromium, driven by playwright-core, with a throwaway profile: the browser side of the
 * end-to-end tests. Playwright refuses `--user-data-dir` in args, hence launchPersistentContext.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { chromiumPath } from "./code-server-install";

/** A browser with its own profile folder; close() also removes the folder. */
export interface E2eBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Flags that keep chromium quiet and offline apart from the page it is sent to. */
const chromiumArgs = [
  "--no-sandbox", // CI runs as root, where chromium's sandbox refuses to start.
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/**
 * Launches chromium headless. `home` becomes its HOME (it writes crash reports there); the profile goes
 * into a fresh folder under it.
 */
export async function launchBrowser(home: string, viewport = { width: 1400, height: 900 }): Promise<E2eBrowser> {
  mkdirSync(home, { recursive: true });
  const profile = mkdtempSync(join(home, "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    env: { ...process.env, HOME: home },
    viewport,
    timeout: 30_000,
  });
  let closed = false;
  return {
    context,
    close: async () => {
      if (closed) return;
      closed = true;
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
