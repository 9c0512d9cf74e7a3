/**
 * A model bundle that cannot be used, with a code callers can branch on and a message naming the file.
 *
 * - `not_found` / `not_a_directory`: the bundle path itself is wrong.
 * - `missing_file`: a file the bundle needs (config.json, a graph, its external data, tokenizer.json) is absent.
 * - `corrupt_file`: a file is there but unusable: invalid JSON, or a size other than the manifest records.
 * - `bad_tokenizer`: tokenizer.json cannot be loaded as Molmo's tokenizer.
 * - `bad_config`: config.json or preprocessor_config.json is malformed (a field missing or of the wrong kind).
 * - `config_mismatch`: the files disagree with each other (tokenizer ids vs the manifest, preprocessing
 *   vs the vision graph's input shape, ...).
 * - `unsupported`: a well-formed bundle this engine cannot run (newer export version, unknown dtype).
 */
export type BundleErrorCode =
  | "not_found"
  | "not_a_directory"
  | "missing_file"
  | "corrupt_file"
  | "bad_tokenizer"
  | "bad_config"
  | "config_mismatch"
  | "unsupported";

export class BundleError extends Error {
  constructor(
    readonly code: BundleErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BundleError";
  }
}
