/**
 * Loads client-kit.ts when the language client is first needed. In tsc's output the kit sits beside this
 * file; in the bundle, esbuild's build maps `./client-kit` to the separate bundle dist/client.js
 * (extension/packaging/bundle.ts), so this `require` stays a runtime require in both.
 */
export type ClientKit = typeof import("./client-kit");

let kit: ClientKit | undefined;

/** The client kit, loaded once. */
export function loadClientKit(): ClientKit {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deliberate lazy load, see above.
  kit ??= require("./client-kit") as ClientKit;
  return kit;
}
