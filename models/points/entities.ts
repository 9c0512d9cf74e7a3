const NAMED: Readonly<Record<string, string>> = { amp: "&", quot: '"', lt: "<", gt: ">", apos: "'", nbsp: "\u00a0" };
// Bounded alternatives only, so decoding is linear on any input.
const ENTITY = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,4}));/g;

/**
 * Decodes the HTML entities a model may write in an alt text or label: `&amp; &quot; &lt; &gt; &apos;
 * &nbsp;` and numeric references (`&#39;`, `&#x27;`). Unknown names and invalid code points are left as written.
 */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(ENTITY, (whole, decimal: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED[name.toLowerCase()] ?? whole;
    const code = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex!, 16);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : whole;
  });
}

/**
 * Escapes text for use inside SVG/XML character data or a double-quoted attribute, and drops the
 * control characters XML 1.0 forbids (they would make the whole SVG unparseable).
 */
export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML_CHAR, "")
    .replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

// Everything outside XML 1.0's Char production (tab, newline, return, and U+0020 upward minus
// surrogates and U+FFFE/U+FFFF); with the `u` flag, valid surrogate pairs count as one character.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;
const XML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
