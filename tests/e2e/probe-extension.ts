/**
 * A tiny throwaway extension and two suites for it, written to a temporary folder: the harness's own
 * test subject (tests/e2e/harness.test.ts), independent of the Molmo extension. The extension contributes
 * one command that answers with facts only its extension host knows; the passing suite runs the command
 * and checks them, the failing suite rejects on purpose, the hanging one never settles.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { repoRoot } from "../helpers/repo-root";

/** The command the probe extension contributes. */
export const probeCommand = "molmoE2eProbe.whereAmI";

/** The probe's command that shows an image in a webview, from the palette or the explorer's context menu. */
export const probeShowImageTitle = "Molmo e2e probe: Show Image";

/** The explorer context-menu submenu that holds {@link probeShowImageTitle}. */
export const probeSubmenuLabel = "Molmo e2e probe";

/** Where the probe's webview draws its one marker, in percent of the image (x, y). */
export const probeMarkerPercent = { x: 25, y: 75 };

/** Paths of a written probe. */
export interface ProbeExtension {
  /** The extension folder (package.json + extension.js). */
  extensionPath: string;
  /** A suite whose run() resolves after checking the command's answer. */
  passingSuite: string;
  /** A suite whose run() rejects with "probe suite failed on purpose". */
  failingSuite: string;
  /** A suite whose run() prints its process id and never settles. */
  hangingSuite: string;
  /** A folder to open as the workspace, holding marker.txt. */
  workspace: string;
}

const manifest = {
  name: "e2e-probe",
  displayName: "Molmo e2e probe",
  publisher: "molmo-e2e",
  version: "0.0.1",
  engines: { vscode: "^1.100.0" },
  main: "./extension.js",
  activationEvents: [`onCommand:${probeCommand}`, "onCommand:molmoE2eProbe.showImage"],
  repository: "https://example.invalid/molmo-e2e-probe",
  license: "Apache-2.0",
  capabilities: { untrustedWorkspaces: { supported: true } },
  contributes: {
    commands: [
      { command: probeCommand, title: "Molmo e2e probe: where am I" },
      { command: "molmoE2eProbe.showImage", title: probeShowImageTitle },
    ],
    // A submenu, as the Molmo extension's explorer menu has: the harness must open it to reach the command.
    submenus: [{ id: "molmoE2eProbe.menu", label: probeSubmenuLabel }],
    menus: {
      "explorer/context": [{ submenu: "molmoE2eProbe.menu", when: "resourceExtname == .png", group: "probe@1" }],
      "molmoE2eProbe.menu": [{ command: "molmoE2eProbe.showImage" }],
    },
  },
};

// CommonJS source the extension host loads as is: the probe needs no build step.
const extensionSource = `
const vscode = require("vscode");
exports.activate = function activate(context) {
  context.subscriptions.push(vscode.commands.registerCommand("molmoE2eProbe.showImage", async (uri) => {
    // From the explorer the command gets the file; from the palette it takes the workspace's first PNG.
    const image = uri ?? (await vscode.workspace.findFiles("*.png", undefined, 1))[0];
    const panel = vscode.window.createWebviewPanel("molmoE2eProbe", "Probe image", vscode.ViewColumn.Beside, {
      enableScripts: false,
      localResourceRoots: [vscode.Uri.joinPath(image, "..")],
    });
    const from = uri === undefined ? "palette" : "explorer";
    panel.webview.html = \`<!DOCTYPE html><html><head><meta charset="utf-8"><style>
      body { margin: 0; } #frame { position: relative; display: inline-block; line-height: 0; }
      #image { display: block; width: 400px; }
      .marker { position: absolute; width: 10px; height: 10px; margin: -5px 0 0 -5px; border-radius: 50%; background: #00ff00;
        left: ${probeMarkerPercent.x}%; top: ${probeMarkerPercent.y}%; }
    </style></head><body>
      <div id="frame"><img id="image" src="\${panel.webview.asWebviewUri(image)}"><div class="marker"></div></div>
      <p id="answer">shown from the \${from}: \${image.path.split("/").pop()}</p>
    </body></html>\`;
  }));
  context.subscriptions.push(vscode.commands.registerCommand(${JSON.stringify(probeCommand)}, () => ({
    extensionHostPid: process.pid,
    folder: vscode.workspace.workspaceFolders?.[0]?.uri.path,
    trusted: vscode.workspace.isTrusted,
    vscodeVersion: vscode.version,
    marker: process.env.MOLMO_E2E_MARKER,
    greeting: vscode.workspace.getConfiguration("molmoE2eProbe").get("greeting"),
  })));
};
exports.deactivate = function deactivate() {};
`;

function passingSuiteSource(workspace: string): string {
  return `
const vscode = require("vscode");
exports.run = async function run() {
  const answer = await vscode.commands.executeCommand(${JSON.stringify(probeCommand)});
  console.log("probe answer: " + JSON.stringify(answer));
  const expectedFolder = ${JSON.stringify(workspace)};
  if (answer.folder !== expectedFolder) throw new Error("wrong workspace folder: " + answer.folder);
  if (answer.extensionHostPid !== process.pid) throw new Error("the command ran in another process");
  if (!/^1\\.100\\./.test(answer.vscodeVersion)) throw new Error("unexpected VS Code " + answer.vscodeVersion);
  const marker = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, "marker.txt"));
  if (Buffer.from(marker).toString("utf8") !== "probe workspace") throw new Error("marker.txt not read back");
  console.log("probe suite passed");
};
`;
}

const failingSuiteSource = `
exports.run = async function run() {
  console.log("probe suite about to fail");
  throw new Error("probe suite failed on purpose");
};
`;

const hangingSuiteSource = `
exports.run = function run() {
  console.log("probe suite hanging in extension host " + process.pid);
  return new Promise(() => undefined);
};
`;

/** Writes the probe extension, its two suites and a workspace into a fresh temporary folder. */
export function writeProbeExtension(): ProbeExtension {
  const root = mkdtempSync(join(tmpdir(), "molmo-e2e-probe-"));
  const extensionPath = join(root, "extension");
  const workspace = join(root, "workspace");
  mkdirSync(extensionPath);
  mkdirSync(workspace);
  writeFileSync(join(extensionPath, "package.json"), JSON.stringify(manifest, null, 2));
  writeFileSync(join(extensionPath, "extension.js"), extensionSource);
  writeFileSync(join(workspace, "marker.txt"), "probe workspace");
  const writeSuite = (name: string, source: string): string => {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, "index.js"), source);
    return join(root, name, "index.js");
  };
  return {
    extensionPath,
    passingSuite: writeSuite("suite-pass", passingSuiteSource(workspace)),
    failingSuite: writeSuite("suite-fail", failingSuiteSource),
    hangingSuite: writeSuite("suite-hang", hangingSuiteSource),
    workspace,
  };
}

/** Packs the probe extension into a VSIX with vsce (offline), next to its folder; returns the file. */
export function packProbeVsix(probe: ProbeExtension): string {
  const out = join(dirname(probe.extensionPath), "probe.vsix");
  const vsce = join(repoRoot(), "node_modules", "@vscode", "vsce", "vsce");
  const run = spawnSync(process.execPath, [vsce, "package", "--skip-license", "--allow-missing-repository", "--out", out], {
    cwd: probe.extensionPath,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`vsce package of the probe failed:\n${run.stdout}${run.stderr}`);
  return out;
}
