/**
 * Logits processors reshape the next-token scores before a token is chosen. Each one is a small module of
 * its own (temperature.ts, top-k.ts, top-p.ts); this file holds their common shape and the order in which
 * a configuration applies them — Hugging Face's order: temperature, then top-k, then top-p.
 */
import type { GenerationConfig } from "./config";
import { TemperatureProcessor } from "./temperature";
import { TopKProcessor } from "./top-k";
import { TopPProcessor } from "./top-p";

/** Changes a float32 logits row in place; a removed token gets -Infinity. */
export interface LogitsProcessor {
  /** Short description for logs, e.g. "top-k 40". */
  readonly name: string;
  process(logits: Float32Array): void;
}

/** The processors a sampling configuration needs, in order; none for greedy decoding or "off" values. */
export function buildLogitsProcessors(config: GenerationConfig): LogitsProcessor[] {
  if (config.greedy) {
    return [];
  }
  const processors: LogitsProcessor[] = [];
  if (config.temperature !== 1) {
    processors.push(new TemperatureProcessor(config.temperature));
  }
  if (config.topK > 0) {
    processors.push(new TopKProcessor(config.topK));
  }
  if (config.topP < 1) {
    processors.push(new TopPProcessor(config.topP));
  }
  return processors;
}
