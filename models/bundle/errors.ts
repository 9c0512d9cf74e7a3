/** A model bundle that cannot be used, with a code callers can branch on and a message naming the file. */
export class BundleError extends Error {
  constructor(
    readonly code: "not_found" | "not_a_directory" | "missing_file" | "corrupt_file" | "bad_tokenizer" | "bad_config",
    message: string,
  ) {
    super(message);
    this.name = "BundleError";
  }
}
