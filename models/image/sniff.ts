/**
 * Names the container format of encoded image bytes from their signature, so that a file the decoder
 * cannot read gets a message naming what it is ("BMP images are not supported") instead of libvips's
 * generic "unsupported image format". Returns undefined when the signature is not recognised.
 */
export function sniffContainer(bytes: Uint8Array): string | undefined {
  const ascii = (start: number, end: number): string => String.fromCharCode(...bytes.subarray(start, end));
  const startsWith = (...signature: number[]): boolean => signature.every((value, i) => bytes[i] === value);

  if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "PNG";
  if (startsWith(0xff, 0xd8, 0xff)) return "JPEG";
  if (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a") return "GIF";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "WebP";
  if (startsWith(0x49, 0x49, 0x2a, 0x00) || startsWith(0x4d, 0x4d, 0x00, 0x2a)) return "TIFF";
  if (startsWith(0x49, 0x49, 0x2b, 0x00) || startsWith(0x4d, 0x4d, 0x00, 0x2b)) return "TIFF";
  if (ascii(4, 8) === "ftyp") return isoMediaBrand(ascii(8, 12));
  if (ascii(0, 2) === "BM" && bytes.length >= 26) return "BMP";
  if (startsWith(0x00, 0x00, 0x01, 0x00) || startsWith(0x00, 0x00, 0x02, 0x00)) return "ICO";
  if (ascii(0, 4) === "8BPS") return "PSD";
  if (startsWith(0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20) || startsWith(0xff, 0x4f, 0xff, 0x51)) {
    return "JPEG 2000";
  }
  if (startsWith(0xff, 0x0a) || startsWith(0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20)) return "JPEG XL";
  if (ascii(0, 5) === "%PDF-") return "PDF";
  if (ascii(0, 4) === "qoif") return "QOI";
  if (startsWith(0x76, 0x2f, 0x31, 0x01)) return "OpenEXR";
  if (ascii(0, 10) === "#?RADIANCE" || ascii(0, 6) === "#?RGBE") return "Radiance HDR";
  if (/^P[1-7]\s$/.test(ascii(0, 3))) return "PNM";
  if (startsWith(0x1f, 0x8b)) return "gzip (compressed SVG?)";
  if (looksLikeSvg(bytes)) return "SVG";
  return undefined;
}

/**
 * The key in `sharp.format` of the libvips loader that reads each container, so the loader can tell "this
 * build has no decoder for it" (a clear unsupported_format naming the format) from "the data is damaged".
 * The prebuilt libvips that sharp ships has no ImageMagick ("magick"), so BMP, ICO, PSD... are unreadable
 * there; a custom libvips build that has these loaders is used automatically.
 */
export const LOADER_FOR_CONTAINER: Readonly<Record<string, string>> = {
  PNG: "png",
  JPEG: "jpeg",
  GIF: "gif",
  WebP: "webp",
  TIFF: "tiff",
  AVIF: "heif",
  HEIF: "heif",
  HEIC: "heif",
  SVG: "svg",
  "gzip (compressed SVG?)": "svg",
  BMP: "magick",
  ICO: "magick",
  PSD: "magick",
  QOI: "magick",
  OpenEXR: "magick",
  "JPEG 2000": "jp2",
  "JPEG XL": "jxl",
  PDF: "pdf",
  PNM: "ppm",
  "Radiance HDR": "rad",
};

/** HEIF-family brands: AVIF is decodable here; HEVC-coded HEIC is not (the prebuilt libheif lacks it). */
function isoMediaBrand(brand: string): string {
  if (brand === "avif" || brand === "avis") return "AVIF";
  if (["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"].includes(brand)) return "HEIC";
  // "mif1"/"msf1" may hold AV1 or HEVC; the decoder's metadata tells which.
  return "HEIF";
}

function looksLikeSvg(bytes: Uint8Array): boolean {
  // An SVG's root element appears early; skip a UTF-8 BOM, the XML declaration, comments and DOCTYPE.
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 4096)).toString("utf8");
  return /^\uFEFF?\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*|<!DOCTYPE[^>[]*(\[[\s\S]*?\])?\s*>\s*)*<svg[\s>]/i.test(head);
}
