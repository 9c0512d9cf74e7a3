/**
 * The extension's command ids, in one place: package.json declares the same ids (a unit test checks that
 * both agree), menus refer to them, and the registration table in register-commands.ts maps each to its
 * handler. Fine-tuning commands will be added here with the fine-tuning work.
 */
export const MolmoCommands = {
  /** Ask Molmo about Image… (a free question). */
  ask: "molmo.ask",
  /** Point at… (Molmo answers with points). */
  pointAt: "molmo.pointAt",
  /** Count… (a number and a point per item). */
  count: "molmo.count",
  /** Describe Image (Molmo's caption task). */
  describe: "molmo.describeImage",
  /** Generate Alt Text (Markdown image link: the server's code action; image file: a caption to copy). */
  altText: "molmo.generateAltText",
  /** Select Model… (a bundle from molmo/models, or a folder). */
  selectModel: "molmo.selectModel",
  restartServer: "molmo.restartServer",
  showLog: "molmo.showLog",
  /** The status bar item's quick pick of the commands above (not in the palette). */
  statusMenu: "molmo.statusMenu",
} as const;

/** Any of the extension's command ids. */
export type MolmoCommandId = (typeof MolmoCommands)[keyof typeof MolmoCommands];

/** The commands that ask about an image and open the points panel. */
export type ImageCommandId = typeof MolmoCommands.ask | typeof MolmoCommands.pointAt | typeof MolmoCommands.count | typeof MolmoCommands.describe;

/** Context key: the cursor of the active Markdown editor is on an image link (editor/context menu). */
export const CONTEXT_ON_IMAGE_LINK = "molmo.onImageLink";
