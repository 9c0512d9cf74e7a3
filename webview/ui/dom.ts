/** Small DOM helpers shared by the webview's modules. */

/**
 * The element with this id, checked to be of the expected class. The shell (webview/html.ts) and the script
 * ship together, so a missing element is a build mistake: fail loudly at start-up instead of later.
 */
export function elementById<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`Molmo webview: #${id} is missing or is not a ${type.name}`);
  return element;
}

/** Creates an element with a class and, optionally, its text. */
export function createElement<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Base64 of some bytes, in chunks so a large image does not overflow the argument list of fromCharCode. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let start = 0; start < bytes.length; start += chunk) {
    binary += String.fromCharCode(...bytes.subarray(start, start + chunk));
  }
  return btoa(binary);
}
