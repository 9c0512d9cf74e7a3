import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { renderWebviewHtml, WebviewHtmlError } from "../../webview/html";

const OPTIONS = {
  cspSource: "https://*.vscode-cdn.net",
  nonce: randomBytes(16).toString("base64"),
  scriptUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/main.js",
  styleUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/main.css",
};

function csp(html: string): string {
  const match = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html);
  assert.ok(match, "the page has a CSP meta tag");
  return match[1].replace(/&#39;/g, "'");
}

void describe("renderWebviewHtml", () => {
  void test("has a strict CSP: nothing by default, the nonce for the one script", () => {
    const html = renderWebviewHtml(OPTIONS);
    assert.deepEqual(csp(html).split("; "), [
      "default-src 'none'",
      `img-src ${OPTIONS.cspSource} data: blob:`,
      `style-src ${OPTIONS.cspSource}`,
      `font-src ${OPTIONS.cspSource}`,
      `script-src 'nonce-${OPTIONS.nonce}'`,
    ]);
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((match) => match[0]);
    assert.deepEqual(scripts, [`<script nonce="${OPTIONS.nonce}" src="${OPTIONS.scriptUri}">`]);
    assert.ok(html.includes(`<link rel="stylesheet" href="${OPTIONS.styleUri}">`));
    assert.ok(!/\sstyle=/.test(html), "no inline style attributes (the CSP would block them)");
  });

  void test("escapes the title", () => {
    const html = renderWebviewHtml({ ...OPTIONS, title: "<img src=x onerror=alert(1)>" });
    assert.ok(html.includes("<title>&#60;img src=x onerror=alert(1)&#62;</title>"));
  });

  void test("takes the source list VS Code on the web gives ('self' and a host)", () => {
    const html = renderWebviewHtml({ ...OPTIONS, cspSource: "'self' https://*.vscode-cdn.net" });
    assert.ok(csp(html).includes("img-src 'self' https://*.vscode-cdn.net data: blob:"));
  });

  void test("refuses a weak nonce, a CSP-breaking source and relative URIs", () => {
    const cases: [Partial<typeof OPTIONS>, string][] = [
      [{ nonce: "abc" }, "bad_nonce"],
      [{ nonce: "abcdefghijklmnop' 'unsafe-inline" }, "bad_nonce"],
      [{ cspSource: "https://x; script-src *" }, "bad_csp_source"],
      [{ cspSource: "" }, "bad_csp_source"],
      [{ cspSource: "'unsafe-inline' https://x" }, "bad_csp_source"],
      [{ cspSource: "'self" }, "bad_csp_source"],
      [{ cspSource: "'self' 'nonce-x\"" }, "bad_csp_source"],
      [{ scriptUri: "main.js" }, "bad_uri"],
      [{ styleUri: "javascript:alert(1)" }, "bad_uri"],
    ];
    for (const [override, code] of cases) {
      assert.throws(() => renderWebviewHtml({ ...OPTIONS, ...override }), (error: unknown) => {
        assert.ok(error instanceof WebviewHtmlError);
        assert.equal(error.code, code);
        return true;
      });
    }
  });
});
