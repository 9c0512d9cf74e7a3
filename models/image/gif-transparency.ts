/**
 * The palette colour that a GIF's first frame uses for its transparent pixels, or undefined when the first
 * frame declares no transparency (or the stream cannot be walked that far).
 *
 * Why: PIL opens a GIF's first frame as a palette ("P") image, and `convert("RGB")` maps every pixel,
 * transparent ones included, through the palette, so transparent pixels come out as whatever colour the
 * palette stores at the transparent index. libvips instead decodes transparent pixels to RGBA (0, 0, 0, 0).
 * To match the reference, the loader repaints pixels with alpha 0 in this colour.
 *
 * Reads only the header, the colour tables and the extension blocks before the first image descriptor,
 * never pixel data. See the GIF89a specification, sections 18 (logical screen), 23 (graphic control
 * extension) and 20 (image descriptor).
 */
export function gifFirstFrameTransparentColour(bytes: Uint8Array): [number, number, number] | undefined {
  if (bytes.length < 13) return undefined;
  const screenFlags = bytes[10];
  let offset = 13;
  let globalTable: Uint8Array | undefined;
  if (screenFlags & 0x80) {
    const size = 3 * (1 << ((screenFlags & 0x07) + 1));
    globalTable = bytes.subarray(offset, offset + size);
    offset += size;
  }
  let transparentIndex: number | undefined;
  while (offset < bytes.length) {
    const introducer = bytes[offset];
    if (introducer === 0x21) {
      // Extension: label, then data sub-blocks (length byte + data) until a zero-length block.
      const label = bytes[offset + 1];
      offset += 2;
      if (label === 0xf9 && bytes[offset] === 4 && offset + 4 < bytes.length) {
        const flags = bytes[offset + 1];
        transparentIndex = flags & 0x01 ? bytes[offset + 4] : undefined;
      }
      while (offset < bytes.length && bytes[offset] !== 0) offset += bytes[offset] + 1;
      offset += 1;
    } else if (introducer === 0x2c) {
      if (transparentIndex === undefined || offset + 10 > bytes.length) return undefined;
      const imageFlags = bytes[offset + 9];
      const table =
        imageFlags & 0x80
          ? bytes.subarray(offset + 10, offset + 10 + 3 * (1 << ((imageFlags & 0x07) + 1)))
          : globalTable;
      const entry = 3 * transparentIndex;
      if (table === undefined || entry + 3 > table.length) return undefined;
      return [table[entry], table[entry + 1], table[entry + 2]];
    } else {
      // Trailer (0x3b) or garbage: no image, nothing to say.
      return undefined;
    }
  }
  return undefined;
}
