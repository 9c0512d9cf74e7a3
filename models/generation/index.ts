/** Token generation over any autoregressive model: configuration, logits processors, sampling, stopping, streaming. */
export { DEFAULT_MAX_NEW_TOKENS, resolveGenerationConfig, type GenerationConfig, type GenerationOptions } from "./config";
export { decodeHalf, float32ToHalfBits, float32ToHalfBitsArray, halfBitsToFloat32 } from "./fp16";
export { generate, type GenerateRequest, type GenerationResult, type GenerationTimings } from "./generate";
export { buildLogitsProcessors, type LogitsProcessor } from "./logits-processor";
export { toWorkingLogits, type LogitsRow } from "./logits";
export type { AutoregressiveModel, ModelCallOptions, ModelOutput } from "./model";
export { SeededRandom } from "./prng";
export { argmaxFirst, sampleFromLogits, TokenSelector } from "./sampler";
export { softmax } from "./softmax";
export { buildStoppingCriteria, checkStop, MaxNewTokensCriterion, StopTokenCriterion, type StopReason, type StoppingCriterion } from "./stopping-criteria";
export type { StreamEvent, StreamListener, TokenTextStreamer } from "./streamer";
export { TemperatureProcessor } from "./temperature";
export { TopKProcessor } from "./top-k";
export { TopPProcessor } from "./top-p";
