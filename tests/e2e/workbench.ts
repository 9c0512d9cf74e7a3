/**
 * Driving the VS Code workbench in chromium like a user: open a folder, run a command from the palette,
 * pick an item of the explorer's context menu, reach a webview's content. Selectors are those of VS Code
 * 1.100's web workbench (the one code-server 4.100.3 carries).
 */
import type { FrameLocator, Page } from "playwright-core";
import { E2eHarnessError } from "./e2e-error";
import type { VsCodeServer } from "./vscode-server";

/** Opens `folder` in the workbench and waits until its explorer lists files. */
export async function openWorkbench(page: Page, server: VsCodeServer, folder: string, timeoutMs = 30_000): Promise<void> {
  await page.goto(`${server.origin}/?folder=${encodeURIComponent(folder)}`, { waitUntil: "domcontentloaded", timeout: timeoutMs });
  try {
    await page.locator(".monaco-workbench").waitFor({ timeout: timeoutMs });
    await explorerTree(page).locator(".monaco-list-row").first().waitFor({ timeout: timeoutMs });
  } catch (error) {
    throw new E2eHarnessError("WORKBENCH_TIMEOUT", `the workbench did not show ${folder} within ${timeoutMs} ms: ${String(error)}`);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function explorerTree(page: Page) {
  return page.locator('.monaco-list[aria-label="Files Explorer"]');
}

/**
 * Retries `attempt` until it returns true or `timeoutMs` passes. The workbench shows the window before the
 * remote extension host has registered the extensions' commands and menus, and a palette or context menu
 * lists what was registered when it opened, so each attempt opens it afresh.
 */
async function retryUntil(timeoutMs: number, attempt: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    if (await attempt()) return true;
  } while (Date.now() < deadline);
  return false;
}

/**
 * Runs a command by its palette title (F1, type, Enter). Waits until the palette lists exactly that title,
 * so a command that is missing (not contributed, or hidden by a `when` clause) fails here, by name.
 */
export async function runCommandFromPalette(page: Page, title: string, timeoutMs = 15_000): Promise<void> {
  const input = page.locator(".quick-input-widget input");
  const row = page
    .locator(".quick-input-widget .monaco-list-row")
    .filter({ has: page.locator(".label-name", { hasText: title }) })
    .first();
  const found = await retryUntil(timeoutMs, async () => {
    await page.keyboard.press("Escape");
    await page.keyboard.press("F1");
    await input.waitFor({ timeout: 5_000 });
    await input.fill(`>${title}`);
    return row.waitFor({ timeout: 1_000 }).then(
      () => true,
      () => false,
    );
  });
  if (!found) {
    await page.keyboard.press("Escape");
    throw new E2eHarnessError("WORKBENCH_TIMEOUT", `the command palette does not list "${title}" (waited ${timeoutMs} ms)`);
  }
  await row.click();
}

/**
 * Right-clicks a file of the explorer's root folder and clicks a context-menu item. `itemPath` is the item's
 * label, or the labels of the submenus leading to it and then its own (e.g. `["Molmo", "Ask Molmo about Image…"]`).
 */
export async function runExplorerContextMenu(page: Page, fileName: string, itemPath: string | readonly string[], timeoutMs = 15_000): Promise<void> {
  const labels = typeof itemPath === "string" ? [itemPath] : itemPath;
  const row = explorerTree(page).locator(`.monaco-list-row[aria-label="${fileName}"]`);
  await row.waitFor({ timeout: timeoutMs });
  const menuLabels = page.locator(".context-view .monaco-menu .action-label");
  // The label itself, matched whole: a submenu's item holds its submenu's items in its own DOM, and
  // "Molmo" is part of "Ask Molmo about Image…".
  const menuItem = (label: string) => menuLabels.filter({ hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }).first();
  let shown: string[] = [];
  let missing = labels[0];
  const found = await retryUntil(timeoutMs, async () => {
    // Two Escapes: one closes an open submenu, the next its parent menu.
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    await row.click({ button: "right" });
    await menuLabels.first().waitFor({ timeout: 5_000 });
    for (const [depth, label] of labels.entries()) {
      const item = menuItem(label);
      // A submenu opens a moment after its parent item is hovered or clicked.
      const visible = await item.waitFor({ timeout: depth === 0 ? 250 : 2_000 }).then(
        () => true,
        () => false,
      );
      if (!visible) {
        missing = label;
        shown = await menuLabels.allInnerTexts();
        await page.waitForTimeout(500);
        return false;
      }
      if (depth < labels.length - 1) await item.click();
    }
    return true;
  });
  if (!found) {
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    throw new E2eHarnessError(
      "WORKBENCH_TIMEOUT",
      `the explorer's context menu on ${fileName} has no "${missing}" (path ${labels.join(" > ")}, waited ${timeoutMs} ms); it shows: ${shown.filter((text) => text !== "").join(" | ")}`,
    );
  }
  await menuItem(labels[labels.length - 1]).click();
  // Now and then VS Code's menu only highlights an item that is clicked while its submenu is still settling,
  // and stays open without running it. The menu closes as soon as an item runs, so a menu still open after a
  // second means the click was lost: Enter runs the highlighted item instead.
  const closed = await page
    .locator(".context-view .monaco-menu")
    .first()
    .waitFor({ state: "hidden", timeout: 1_000 })
    .then(
      () => true,
      () => false,
    );
  if (!closed) {
    await page.keyboard.press("Enter");
  }
}

/**
 * The content of the first ready webview: VS Code puts it two iframes deep (the webview host frame, then
 * the extension's document in #active-frame).
 */
export function webviewContent(page: Page): FrameLocator {
  return page.frameLocator("iframe.webview.ready").first().frameLocator("#active-frame");
}

/** The texts of the notification toasts on screen (an extension's error message shows there), for failure messages. */
export async function visibleNotifications(page: Page): Promise<string[]> {
  return page
    .locator(".notifications-toasts .notification-list-item-message")
    .allInnerTexts()
    .catch(() => []);
}
