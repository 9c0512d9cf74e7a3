/** Molmo's tokenizer: a checkpoint's tokenizer.json plus Molmo's BOS/EOS and image token ids. */
export { MolmoTokenizer, type DecodeOptions, type TokenizerFamily } from "./molmo-tokenizer";
export { TextStreamer } from "./text-streamer";
export { TokenizerError, type TokenizerErrorCode } from "./errors";
export { IMAGE_TOKEN_STRINGS, IMAGE_PROMPT_TOKEN, DEFAULT_EOS_TOKEN } from "./special-tokens";
