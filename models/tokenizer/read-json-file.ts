import { readFile, stat } from "node:fs/promises";
import { TokenizerError } from "./errors";

/**
 * The largest tokenizer file accepted. Real ones are 2-12 MB (Qwen2's is about 7 MB, with Molmo's
 * tokens about 11 MB); the limit only stops a wrong path (a weights file, say) from being read into memory.
 */
export const MAX_TOKENIZER_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Reads and parses a JSON file, turning every failure into a {@link TokenizerError} that names the file.
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new TokenizerError("unreadable", path, "is not a regular file.");
    }
    size = info.size;
  } catch (error) {
    if (error instanceof TokenizerError) {
      throw error;
    }
    if (isErrnoError(error) && error.code === "ENOENT") {
      throw new TokenizerError("not_found", path, "file not found.", { cause: error });
    }
    throw new TokenizerError("unreadable", path, `cannot be read (${describe(error)}).`, { cause: error });
  }
  if (size > MAX_TOKENIZER_FILE_BYTES) {
    throw new TokenizerError(
      "invalid_tokenizer",
      path,
      `is ${size} bytes, more than any tokenizer file (limit ${MAX_TOKENIZER_FILE_BYTES}); is this the right file?`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new TokenizerError("unreadable", path, `cannot be read (${describe(error)}).`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TokenizerError("corrupt_json", path, `is not valid JSON (${describe(error)}); the file may be truncated or damaged.`, {
      cause: error,
    });
  }
}

function isErrnoError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
