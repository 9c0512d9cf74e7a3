import type { TokenizerConfigFacts } from "./tokenizer-config";

/**
 * Which base tokenizer a Molmo checkpoint uses: Qwen2's for Molmo-7B-D and Molmo-72B, an OLMo one for
 * Molmo-7B-O (`allenai/dolma2-tokenizer`) and MolmoE-1B (`allenai/OLMoE-1B-7B-0924`), per the reference's
 * `launch_scripts/utils.py`. Neither family has a BOS token; the reference uses EOS in its place
 * (`olmo/tokenizer.py::build_tokenizer`).
 */
export type TokenizerFamily = "qwen2" | "olmo" | "unknown";

/**
 * Recognises the tokenizer family from the config (when there is one) and from the added tokens.
 *
 * Qwen2 is certain: its three ChatML-era added tokens sit at fixed ids 151643-151645, and HF checkpoints
 * say `"tokenizer_class": "Qwen2Tokenizer"`. The OLMo rules are heuristics: the dolma2 tokenizer
 * (cl100k-based, vocabulary 100278) has `<|endoftext|>` at 100257 and `<|pad|>`; the GPT-NeoX-based OLMo
 * and OLMoE tokenizers carry the `|||IP_ADDRESS|||` PII placeholder. No Molmo-7B-O or MolmoE tokenizer
 * file was available to confirm these, so nothing depends on the answer except the EOS fallback, which is
 * `<|endoftext|>` for both families anyway.
 */
export function detectTokenizerFamily(addedTokens: ReadonlyMap<string, number>, config?: TokenizerConfigFacts): TokenizerFamily {
  if (config?.tokenizerClass !== undefined && /^Qwen2Tokenizer/.test(config.tokenizerClass)) {
    return "qwen2";
  }
  if (addedTokens.get("<|endoftext|>") === 151643 && addedTokens.get("<|im_start|>") === 151644 && addedTokens.get("<|im_end|>") === 151645) {
    return "qwen2";
  }
  if (config?.nameOrPath !== undefined && /olmo/i.test(config.nameOrPath)) {
    return "olmo";
  }
  if (addedTokens.has("|||IP_ADDRESS|||")) {
    return "olmo";
  }
  if (addedTokens.get("<|endoftext|>") === 100257 && addedTokens.has("<|pad|>")) {
    return "olmo";
  }
  return "unknown";
}
