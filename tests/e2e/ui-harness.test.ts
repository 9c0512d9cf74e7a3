/**
 * The UI half of the end-to-end harness tested on itself, with the throwaway probe extension
 * (tests/e2e/probe-extension.ts) packed as a VSIX: it installs into a fresh server, its explorer
 * context-menu item (in a submenu) and palette command run, and the webview's content is reached through the two nested
 * iframes, with its marker where the page's pixels say it is; a missing command fails by name. The Molmo UI test (ui.test.ts) relies on
 * exactly these steps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { testArtifactsDir } from "./artifacts";
import { launchBrowser } from "./browser";
import { e2eSkipReason } from "./code-server-install";
import { packProbeVsix, probeMarkerPercent, probeShowImageTitle, probeSubmenuLabel, writeProbeExtension } from "./probe-extension";
import { decodeScreenshot } from "./screenshot-pixels";
import { startVsCodeServer } from "./vscode-server";
import { openWorkbench, runCommandFromPalette, runExplorerContextMenu, webviewContent } from "./workbench";
import { tinyMolmoDir } from "../helpers/tiny-bundle";

const skip = e2eSkipReason();

void test("a VSIX installs, its explorer menu item and palette command run, and its webview is reachable", { skip, timeout: 60_000 }, async () => {
  const probe = writeProbeExtension();
  copyFileSync(join(tinyMolmoDir(), "image.png"), join(probe.workspace, "image.png"));
  const server = await startVsCodeServer({ vsixFiles: [packProbeVsix(probe)] });
  const browser = await launchBrowser(join(server.dirs.home, "chromium"));
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  try {
    await openWorkbench(page, server, probe.workspace);

    await runExplorerContextMenu(page, "image.png", [probeSubmenuLabel, probeShowImageTitle]);
    const webview = webviewContent(page);
    await assert.doesNotReject(webview.locator("#answer", { hasText: "shown from the explorer: image.png" }).waitFor({ timeout: 15_000 }));

    // The marker is drawn at 25 % / 75 % of the image: its centre must be there on the page, and the page's
    // pixel there must be the marker's green, read back from a screenshot.
    const image = await webview.locator("#image").boundingBox();
    const marker = await webview.locator(".marker").boundingBox();
    assert.ok(image !== null && marker !== null, "the image and its marker are laid out");
    assert.ok(image.width > 100, `the image is shown (${image.width} px wide)`);
    const expected = { x: image.x + (image.width * probeMarkerPercent.x) / 100, y: image.y + (image.height * probeMarkerPercent.y) / 100 };
    assert.ok(Math.abs(marker.x + marker.width / 2 - expected.x) < 1.5, `marker x ${marker.x + marker.width / 2} vs ${expected.x}`);
    assert.ok(Math.abs(marker.y + marker.height / 2 - expected.y) < 1.5, `marker y ${marker.y + marker.height / 2} vs ${expected.y}`);
    const screenshot = await page.screenshot();
    writeFileSync(join(testArtifactsDir("e2e-ui-harness"), "probe-webview.png"), screenshot);
    const [r, g, b] = (await decodeScreenshot(screenshot)).rgbAt(expected.x, expected.y);
    assert.ok(r < 60 && g > 200 && b < 60, `the pixel under the marker is green, got rgb(${r}, ${g}, ${b})`);

    await runCommandFromPalette(page, "View: Close All Editors");
    await webview.locator("#answer").waitFor({ state: "detached", timeout: 10_000 });
    await runCommandFromPalette(page, probeShowImageTitle);
    await assert.doesNotReject(webview.locator("#answer", { hasText: "shown from the palette: image.png" }).waitFor({ timeout: 15_000 }));

    // A command the palette does not list fails by name (the Molmo UI test relies on that message).
    await assert.rejects(runCommandFromPalette(page, "Molmo e2e probe: No Such Command", 2_000), /does not list "Molmo e2e probe: No Such Command"/);
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dirname(probe.extensionPath), { recursive: true, force: true });
  }
});
