/**
 * Loads the built points webview in Debian's Chromium through playwright-core, the way VS Code hosts it:
 * the shell from `renderWebviewHtml` (with its real CSP and nonce) on one origin, the script, stylesheet
 * and image on a second "resource" origin that answers with `Access-Control-Allow-Origin: *` like VS Code's
 * resource service worker, and a stub `acquireVsCodeApi` that records what the webview posts and keeps its
 * state in sessionStorage (so a reload plays the panel being hidden and shown).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import sharp from "sharp";
import { renderWebviewHtml } from "../../webview/html";
import type { ViewToHostMessage } from "../../webview/protocol";

/** Debian's Chromium (apt package `chromium`). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Why the browser tests cannot run here, or undefined when they can. Without Chromium they are skipped on
 * a developer machine but fail in CI (CI installs it, so its absence there is a broken set-up).
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  if (process.env.CI) throw new Error(`${CHROMIUM_PATH} is missing in CI: install the Debian package chromium`);
  return `${CHROMIUM_PATH} is not installed (apt-get install chromium); the webview browser tests are skipped`;
}

/** Launches Chromium headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
}

const WEBVIEW_ORIGIN = "https://webview.test";
const RESOURCE_ORIGIN = "https://resource.test";

/** The URI the webview gets for the test image (as `asWebviewUri` would give it). */
export const IMAGE_URI = `${RESOURCE_ORIGIN}/images/screenshot.png`;

// Installed before any page script: the VS Code API stub and a recorder of CSP violations and errors.
const INIT_SCRIPT = `
(() => {
  const posted = [];
  const problems = [];
  let acquired = false;
  window.__molmoPosted = posted;
  window.__molmoProblems = problems;
  window.acquireVsCodeApi = () => {
    // VS Code allows one call per page; a second would throw there too.
    if (acquired) throw new Error("acquireVsCodeApi called twice");
    acquired = true;
    return {
      postMessage: (message) => posted.push(JSON.parse(JSON.stringify(message))),
      getState: () => {
        const saved = sessionStorage.getItem("molmo-state");
        return saved === null ? undefined : JSON.parse(saved);
      },
      setState: (state) => sessionStorage.setItem("molmo-state", JSON.stringify(state)),
    };
  };
  document.addEventListener("securitypolicyviolation", (event) => {
    problems.push("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
  });
})();
`;

/** The files the webview is served from. */
export interface WebviewAssets {
  readonly script: string;
  readonly style: string;
  readonly imagePng: Buffer;
}

/** One loaded webview page and the means to talk to it as the extension does. */
export interface WebviewPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Posts a message to the webview as the host would (no checks: malformed ones are sent as they are). */
  send(message: unknown): Promise<void>;
  /** Everything the webview posted so far, oldest first. */
  posted(): Promise<ViewToHostMessage[]>;
  /** Waits until the webview has posted a message of this type, and returns the latest such. */
  waitForPosted<T extends ViewToHostMessage["type"]>(type: T): Promise<Extract<ViewToHostMessage, { type: T }>>;
  /** Console warnings the page logged (the webview logs the reason for every message it ignores). */
  readonly warnings: string[];
  /** Page errors, CSP violations and failed requests: none are expected. */
  problems(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Waits until a JavaScript expression is truthy in the page. Polled from here with `page.evaluate` (run
 * through the DevTools protocol) because `page.waitForFunction` with a string evals inside the page, which
 * the webview's CSP (rightly) forbids.
 */
export async function waitForExpression(page: Page, expression: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(`Boolean(${expression})`)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Options of one page. */
export interface PageOptions {
  readonly width: number;
  readonly height: number;
  /** The device pixel ratio: 2 plays a zoomed-in VS Code (or a HiDPI screen). */
  readonly deviceScaleFactor?: number;
}

/** Opens the webview in a fresh browser context and waits for its `ready`. */
export async function openWebview(browser: Browser, assets: WebviewAssets, options: PageOptions): Promise<WebviewPage> {
  const context = await browser.newContext({
    viewport: { width: options.width, height: options.height },
    deviceScaleFactor: options.deviceScaleFactor ?? 1,
  });
  const pageErrors: string[] = [];
  const warnings: string[] = [];
  try {
    const nonce = randomBytes(16).toString("base64");
    const html = renderWebviewHtml({
      cspSource: RESOURCE_ORIGIN,
      nonce,
      scriptUri: `${RESOURCE_ORIGIN}/dist/webview/main.js`,
      styleUri: `${RESOURCE_ORIGIN}/dist/webview/main.css`,
    });
    await context.route(`${WEBVIEW_ORIGIN}/**`, (route) =>
      route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }),
    );
    const resources: Record<string, { contentType: string; body: Buffer }> = {
      "/dist/webview/main.js": { contentType: "text/javascript", body: readFileSync(assets.script) },
      "/dist/webview/main.css": { contentType: "text/css", body: readFileSync(assets.style) },
      "/images/screenshot.png": { contentType: "image/png", body: assets.imagePng },
    };
    await context.route(`${RESOURCE_ORIGIN}/**`, (route) => {
      const resource = resources[new URL(route.request().url()).pathname];
      if (resource === undefined) return route.fulfill({ status: 404, body: "not found" });
      return route.fulfill({
        status: 200,
        contentType: resource.contentType,
        headers: { "Access-Control-Allow-Origin": "*" },
        body: resource.body,
      });
    });
    await context.addInitScript(INIT_SCRIPT);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) => pageErrors.push(`request failed: ${request.url()}`));
    page.on("console", (message) => {
      if (message.type() === "warning") warnings.push(message.text());
      if (message.type() === "error") pageErrors.push(`console error: ${message.text()}`);
    });
    await page.goto(`${WEBVIEW_ORIGIN}/index.html`);

    const posted = (): Promise<ViewToHostMessage[]> => page.evaluate<ViewToHostMessage[]>("window.__molmoPosted");
    const waitForPosted = async <T extends ViewToHostMessage["type"]>(type: T): Promise<Extract<ViewToHostMessage, { type: T }>> => {
      await waitForExpression(page, `window.__molmoPosted.some((m) => m.type === ${JSON.stringify(type)})`);
      const all = await posted();
      return all.filter((message) => message.type === type).at(-1) as Extract<ViewToHostMessage, { type: T }>;
    };
    await waitForPosted("ready");
    return {
      page,
      context,
      warnings,
      send: async (message) => {
        await page.evaluate(`window.postMessage(${JSON.stringify(message)}, "*")`);
        // postMessage delivers in a later task; a zero timeout queued after it runs once it was handled.
        await page.evaluate("new Promise((resolve) => setTimeout(resolve, 0))");
      },
      posted,
      waitForPosted,
      problems: async () => [...pageErrors, ...(await page.evaluate<string[]>("window.__molmoProblems"))],
      close: () => context.close(),
    };
  } catch (error) {
    await context.close();
    throw error;
  }
}

/** An RGB colour. */
export type Rgb = readonly [number, number, number];

/** Reads the colour of one device pixel of a screenshot. */
export async function pixelAt(png: Buffer, x: number, y: number): Promise<Rgb> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const px = Math.round(x);
  const py = Math.round(y);
  if (px < 0 || py < 0 || px >= info.width || py >= info.height) {
    throw new Error(`pixel (${px}, ${py}) is outside the ${info.width}x${info.height} screenshot`);
  }
  const offset = (py * info.width + px) * info.channels;
  return [data[offset], data[offset + 1], data[offset + 2]];
}

/** Whether two colours are within `tolerance` on every channel. */
export function closeTo(actual: Rgb, expected: Rgb, tolerance = 24): boolean {
  return actual.every((value, channel) => Math.abs(value - expected[channel]) <= tolerance);
}

/** A test image of a known size: a flat colour, so marker pixels stand out unambiguously. */
export function makeFlatPng(width: number, height: number, colour: Rgb): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } })
    .png()
    .toBuffer();
}
