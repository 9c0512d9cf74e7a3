/**
 * The points webview's HTML shell, as a pure function the extension calls when it creates (or revives) the
 * panel. The shell carries the static markup; dist/webview/main.js fills it in and wires it to the host.
 *
 * Security (the webview-sample's rules, tightened): a Content Security Policy that loads nothing by
 * default, images only from the extension's resource origin (`cspSource`) or from `data:`/`blob:` URIs
 * (pasted images), the stylesheet only from `cspSource`, and the one script only when it carries this
 * render's nonce. No inline styles or scripts: the script positions markers through the CSSOM, which a CSP
 * without 'unsafe-inline' allows.
 */

/** What the extension passes to {@link renderWebviewHtml}. */
export interface WebviewHtmlOptions {
  /** `webview.cspSource`: the origin the webview may load images and styles from. */
  readonly cspSource: string;
  /**
   * A fresh random nonce per render, e.g. `crypto.randomBytes(16).toString("base64")`: letters, digits,
   * `+`, `/`, `-`, `_` and `=` padding, at least 16 characters.
   */
  readonly nonce: string;
  /** `webview.asWebviewUri(<extension>/dist/webview/main.js)`, as a string. */
  readonly scriptUri: string;
  /** `webview.asWebviewUri(<extension>/dist/webview/main.css)`, as a string. */
  readonly styleUri: string;
  /** The document title (the panel's title is set by the extension; this one is for assistive technology). */
  readonly title?: string;
}

/** Why {@link renderWebviewHtml} refused its options. */
export type WebviewHtmlErrorCode = "bad_nonce" | "bad_csp_source" | "bad_uri";

/** Thrown by {@link renderWebviewHtml} for options that would weaken or break the page. */
export class WebviewHtmlError extends Error {
  override readonly name = "WebviewHtmlError";
  constructor(readonly code: WebviewHtmlErrorCode, message: string) {
    super(message);
  }
}

// A nonce is spliced into the CSP and an attribute, so only base64/base64url characters are allowed, and
// it must be long enough not to be guessed.
const NONCE = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;
// A CSP source list is space-separated sources: host sources, or the keyword 'self' (VS Code on the web gives
// "'self' https://*.vscode-cdn.net"). Other keywords ('unsafe-inline', ...) would weaken the policy, and other
// quotes, semicolons and commas would end or change it.
const CSP_ONE_SOURCE = String.raw`(?:'self'|[^\s;,'"]+)`;
const CSP_SOURCE = new RegExp(`^${CSP_ONE_SOURCE}(\\s+${CSP_ONE_SOURCE})*$`);

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function checkUri(name: string, uri: string): void {
  // The URIs come from asWebviewUri (https://…vscode-cdn.net/… in VS Code); a relative or `javascript:`
  // URI here would be a bug in the caller, so refuse it rather than render a page that silently fails.
  if (!/^(https?|vscode-webview|vscode-resource|file):/i.test(uri)) {
    throw new WebviewHtmlError("bad_uri", `${name} must be an absolute webview URI, got ${JSON.stringify(uri)}`);
  }
}

/** The Content-Security-Policy of the webview, for a given resource origin and nonce. */
export function webviewContentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");
}

/**
 * Renders the webview's HTML document.
 *
 * @throws {WebviewHtmlError} when the nonce is too short or has unsafe characters, when `cspSource` would
 *   break out of its CSP directive, or when a URI is not absolute.
 */
export function renderWebviewHtml(options: WebviewHtmlOptions): string {
  const { cspSource, nonce, scriptUri, styleUri } = options;
  if (!NONCE.test(nonce)) {
    throw new WebviewHtmlError("bad_nonce", "the nonce must be at least 16 base64 characters (use crypto.randomBytes)");
  }
  if (!CSP_SOURCE.test(cspSource)) {
    throw new WebviewHtmlError("bad_csp_source", `cspSource ${JSON.stringify(cspSource)} is not a CSP source list`);
  }
  checkUri("scriptUri", scriptUri);
  checkUri("styleUri", styleUri);
  const title = escapeHtml(options.title ?? "Molmo");
  const csp = escapeHtml(webviewContentSecurityPolicy(cspSource, nonce));

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${escapeHtml(styleUri)}">
<title>${title}</title>
</head>
<body>
<header class="toolbar">
  <h1 id="file-name" class="file-name">No image</h1>
  <span id="engine-status" class="engine-status" role="status"></span>
</header>
<main>
  <section id="stage" class="stage" aria-label="Image and points">
    <div id="frame" class="frame" hidden>
      <img id="image" class="image" alt="">
      <div id="overlay" class="overlay" role="group" aria-label="Points on the image"></div>
    </div>
    <p id="drop-hint" class="drop-hint">Paste an image (Ctrl+V) or drop one here.</p>
  </section>
  <form id="ask-form" class="ask-form" aria-label="Ask Molmo">
    <label for="task" class="visually-hidden">Task</label>
    <select id="task" class="task">
      <option value="ask">Ask</option>
      <option value="point">Point at</option>
      <option value="count">Count</option>
      <option value="caption">Describe</option>
      <option value="clock">Read clock</option>
    </select>
    <label for="question" class="visually-hidden">Question</label>
    <input id="question" class="question" type="text" autocomplete="off" placeholder="Ask about the image">
    <button id="ask" class="button" type="submit">Ask</button>
    <button id="cancel" class="button secondary" type="button" disabled>Cancel</button>
  </form>
  <p id="notice" class="notice" role="alert" hidden></p>
  <section class="answer-section" aria-labelledby="answer-heading">
    <h2 id="answer-heading" class="visually-hidden">Answer</h2>
    <p id="answer-status" class="answer-status"></p>
    <div id="answer" class="answer" aria-live="polite"></div>
  </section>
  <section class="points-section" aria-labelledby="points-heading">
    <div class="points-header">
      <h2 id="points-heading">Points</h2>
      <span id="count-badge" class="badge" aria-label="0 points">0</span>
      <span class="spacer"></span>
      <button id="copy-points" class="button secondary" type="button" disabled>Copy JSON</button>
      <button id="save-png" class="button secondary" type="button" disabled>Save annotated PNG</button>
    </div>
    <ol id="points-list" class="points-list"></ol>
  </section>
</main>
<script nonce="${escapeHtml(nonce)}" src="${escapeHtml(scriptUri)}"></script>
</body>
</html>
`;
}
