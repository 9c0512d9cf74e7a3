/**
 * Reads a ZIP archive (a VSIX) without a dependency: the central directory lists the entries, and each entry
 * is stored or deflated (the two methods vsce writes). Enough to check what a VSIX holds and to unpack it
 * for a smoke test; not a general ZIP reader (no ZIP64, no encryption).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { inflateRawSync } from "node:zlib";

/** One file of the archive. */
export interface ZipEntry {
  readonly name: string;
  readonly compressedSize: number;
  readonly size: number;
  readonly method: number;
  readonly localHeaderOffset: number;
}

/** Thrown for an archive this reader cannot read. */
export class ZipFormatError extends Error {
  override readonly name = "ZipFormatError";
  readonly code = "bad_zip";
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

/** The entries listed in the archive's central directory. */
export function zipEntries(archive: Buffer): ZipEntry[] {
  // The end record is at least 22 bytes from the end, followed by a comment of at most 64 KB.
  let end = -1;
  for (let offset = archive.length - 22; offset >= Math.max(0, archive.length - 22 - 0xffff); offset -= 1) {
    if (archive.readUInt32LE(offset) === END_OF_CENTRAL_DIRECTORY) {
      end = offset;
      break;
    }
  }
  if (end < 0) throw new ZipFormatError("no end-of-central-directory record: not a ZIP archive");
  const count = archive.readUInt16LE(end + 10);
  let offset = archive.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i += 1) {
    if (archive.readUInt32LE(offset) !== CENTRAL_FILE_HEADER) throw new ZipFormatError(`bad central directory entry ${i}`);
    const nameLength = archive.readUInt16LE(offset + 28);
    const extraLength = archive.readUInt16LE(offset + 30);
    const commentLength = archive.readUInt16LE(offset + 32);
    entries.push({
      method: archive.readUInt16LE(offset + 10),
      compressedSize: archive.readUInt32LE(offset + 20),
      size: archive.readUInt32LE(offset + 24),
      localHeaderOffset: archive.readUInt32LE(offset + 42),
      name: archive.toString("utf8", offset + 46, offset + 46 + nameLength),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The bytes of one entry. */
export function zipEntryData(archive: Buffer, entry: ZipEntry): Buffer {
  const offset = entry.localHeaderOffset;
  if (archive.readUInt32LE(offset) !== LOCAL_FILE_HEADER) throw new ZipFormatError(`bad local header for ${entry.name}`);
  const start = offset + 30 + archive.readUInt16LE(offset + 26) + archive.readUInt16LE(offset + 28);
  const raw = archive.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return Buffer.from(raw);
  if (entry.method === 8) return inflateRawSync(raw);
  throw new ZipFormatError(`${entry.name}: compression method ${entry.method} is not supported`);
}

/** Unpacks every file of the archive under `targetDir`; refuses names that would escape it. */
export function unzipTo(archivePath: string, targetDir: string): ZipEntry[] {
  const archive = readFileSync(archivePath);
  const entries = zipEntries(archive);
  for (const entry of entries.filter((candidate) => !candidate.name.endsWith("/"))) {
    const target = normalize(join(targetDir, entry.name));
    if (!target.startsWith(normalize(targetDir))) throw new ZipFormatError(`${entry.name} points outside the target folder`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, zipEntryData(archive, entry));
  }
  return entries;
}
