import type { LogitsProcessor } from "./logits-processor";

/**
 * Divides every logit by the temperature: below 1 sharpens the distribution towards the likeliest tokens,
 * above 1 flattens it. Temperature 0 never reaches here; it means greedy decoding.
 */
export class TemperatureProcessor implements LogitsProcessor {
  readonly name: string;

  constructor(private readonly temperature: number) {
    if (!(temperature > 0) || !Number.isFinite(temperature)) {
      throw new RangeError(`TemperatureProcessor: temperature must be a positive finite number, got ${temperature}.`);
    }
    this.name = `temperature ${temperature}`;
  }

  process(logits: Float32Array): void {
    for (let i = 0; i < logits.length; i++) {
      logits[i] = logits[i] / this.temperature;
    }
  }
}
