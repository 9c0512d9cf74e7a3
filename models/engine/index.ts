/**
 * The inference engine's public surface: the Molmo engine over an exported bundle (`MolmoEngine`, `loadBundle`)
 * with their option, result and error types, and below them sessions on execution providers, their errors,
 * logging and the feature cache.
 */
export { createTensor, isOrtTensor, ORT_VERSION, readTensorData, releaseTensor, type OrtTensor, type OrtTensorType } from "./backend";
export { cancelledError, EngineError, isCancellation, type EngineErrorCode } from "./errors";
export {
  autoCandidates,
  EP_NAMES,
  epLabel,
  isGpuEp,
  keepsOutputsOnDevice,
  machineEpEnvironment,
  parseEpName,
  planExecutionProviders,
  type ConcreteEp,
  type EpAvailability,
  type EpEnvironment,
  type EpName,
  type EpPlan,
} from "./execution-provider";
export { DEFAULT_FEATURE_CACHE_BYTES, FeatureCache, featureCacheKey, hashImageContent, type FeatureCacheOptions, type FeatureCacheStats, type FeatureKeyParts } from "./feature-cache";
export { silentLogger, type LogDetails, type Logger } from "./logger";
export {
  MolmoEngine,
  type AskRequest,
  type AskResult,
  type AskTimings,
  type EmbedTimings,
  type MolmoEngineOptions,
  type MolmoEngineStats,
  type PrefillLogits,
  type PrefixCacheUse,
} from "./molmo-engine";
export { DEFAULT_PREFIX_CACHE_BYTES, PrefixCache, prefixCacheKey, prefixStateBytes, type PinnedPrefix, type PrefixKeyParts } from "./prefix-cache";
export { loadBundle, type BundleGraphPaths, type LoadBundleOptions, type MolmoBundle } from "../bundle/bundle";
export { BundleError, type BundleErrorCode } from "../bundle/errors";
export {
  SUPPORTED_EXPORT_VERSIONS,
  type BundleDtype,
  type GraphManifest,
  type ManifestDims,
  type ManifestKvCache,
  type ManifestSpecialTokens,
  type ManifestVision,
  type MolmoOnnxManifest,
  type TensorContract,
} from "../bundle/manifest";
export { createSession, EngineSession, type CreateSessionOptions, type Feeds, type Outputs, type RunOptions } from "./session";
export { forgetWebGpuProbe, probeWebGpu, type WebGpuProbeResult } from "./webgpu-probe";
