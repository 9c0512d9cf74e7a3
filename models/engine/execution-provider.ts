/**
 * Execution providers: the names users give (`--ep`), the order `auto` tries them in on each platform,
 * and whether each one can run on this machine. Choosing among the available ones for a given model (and
 * falling back when a session fails to open) is session.ts's job.
 */
import { listRuntimeProviders, nativeLibrariesPresent } from "./backend";
import { EngineError } from "./errors";
import type { Logger } from "./logger";
import { probeWebGpu } from "./webgpu-probe";

/** Every name `--ep` accepts. */
export const EP_NAMES = ["auto", "cpu", "webgpu", "cuda", "dml", "coreml"] as const;

/** An execution-provider choice: one provider, or `auto` for the best that works. */
export type EpName = (typeof EP_NAMES)[number];

/** A real execution provider (anything but `auto`). */
export type ConcreteEp = Exclude<EpName, "auto">;

/** What the engine knows about each provider. */
interface ProviderFacts {
  /** How messages name it. */
  readonly label: string;
  /** Whether it runs on a GPU. */
  readonly gpu: boolean;
  /**
   * Whether onnxruntime-node can hand its outputs back as device tensors ("gpu-buffer") that are fed to the
   * next run without a copy. WebGPU only: onnxruntime-node 1.30 has no device tensors for CUDA or DirectML.
   */
  readonly deviceOutputs?: boolean;
  /**
   * Native libraries onnxruntime-node needs for it beyond the npm package, per platform. Where a platform is
   * listed, the provider counts as installed only if they are all in onnxruntime-node's library folder.
   */
  readonly extraLibraries?: Partial<Record<NodeJS.Platform, readonly string[]>>;
  /** Why it is missing when this onnxruntime-node build does not have it at all. */
  readonly absentReason: string;
  /** Why it is missing when its extra libraries are not installed. */
  readonly notInstalledReason?: string;
}

const PROVIDERS: Readonly<Record<ConcreteEp, ProviderFacts>> = {
  cpu: { label: "CPU", gpu: false, absentReason: "onnxruntime-node has no CPU execution provider (a broken installation?)" },
  webgpu: {
    label: "WebGPU",
    gpu: true,
    deviceOutputs: true,
    absentReason: "this onnxruntime-node build has no WebGPU execution provider",
  },
  cuda: {
    label: "CUDA",
    gpu: true,
    extraLibraries: {
      linux: ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"],
      win32: ["onnxruntime_providers_cuda.dll", "onnxruntime_providers_shared.dll"],
    },
    absentReason: "onnxruntime-node has no CUDA execution provider on this platform (it exists for Linux and Windows x64 only)",
    notInstalledReason:
      "the CUDA execution provider is not installed; onnxruntime-node skipped its download (see README 'Enabling CUDA')",
  },
  dml: { label: "DirectML", gpu: true, absentReason: "DirectML exists only in onnxruntime-node for Windows" },
  coreml: { label: "CoreML", gpu: true, absentReason: "CoreML exists only in onnxruntime-node for macOS" },
};

/**
 * The order `auto` tries providers in, best first; CPU always last as the provider that always works.
 *
 * - Linux: CUDA where the user installed it (the fastest path on NVIDIA), then WebGPU (Vulkan: NVIDIA,
 *   AMD, Intel), then CPU.
 * - Windows: CUDA where installed, then DirectML (any D3D12 GPU, mature for decoders), then WebGPU.
 * - macOS: WebGPU (Metal) before CoreML, because CoreML takes only static-shaped subgraphs and a decoder
 *   with a growing KV cache has dynamic sequence axes, so most of it would run on the CPU with copies
 *   in between; CoreML stays a candidate for when WebGPU is unavailable.
 */
const AUTO_ORDER: Readonly<Partial<Record<NodeJS.Platform, readonly ConcreteEp[]>>> = {
  linux: ["cuda", "webgpu", "cpu"],
  win32: ["cuda", "dml", "webgpu", "cpu"],
  darwin: ["webgpu", "coreml", "cpu"],
};
const AUTO_ORDER_ELSEWHERE: readonly ConcreteEp[] = ["webgpu", "cpu"];

/**
 * Checks an execution-provider name from the user (CLI flag, setting, request).
 *
 * @throws {EngineError} `unknown_ep`, listing the valid names.
 */
export function parseEpName(value: unknown): EpName {
  if (typeof value === "string" && (EP_NAMES as readonly string[]).includes(value)) {
    return value as EpName;
  }
  const shown = typeof value === "string" ? `"${value}"` : String(value);
  throw new EngineError("unknown_ep", `Unknown execution provider ${shown}; valid ones are ${EP_NAMES.join(", ")}.`);
}

/** How messages name a provider ("CUDA", "WebGPU", ...). */
export function epLabel(ep: ConcreteEp): string {
  return PROVIDERS[ep].label;
}

/** Whether a provider runs on a GPU. */
export function isGpuEp(ep: ConcreteEp): boolean {
  return PROVIDERS[ep].gpu;
}

/** Whether a provider can keep outputs (the KV cache) in device memory between runs. */
export function keepsOutputsOnDevice(ep: ConcreteEp): boolean {
  return PROVIDERS[ep].deviceOutputs === true;
}

/** The providers `auto` tries on `platform`, best first. */
export function autoCandidates(platform: NodeJS.Platform): readonly ConcreteEp[] {
  return AUTO_ORDER[platform] ?? AUTO_ORDER_ELSEWHERE;
}

/** Whether a provider can run here, and if not, why (a sentence fragment naming the cause). */
export type EpAvailability = { readonly available: true } | { readonly available: false; readonly reason: string };

/** What execution-provider selection needs from the machine; tests pass their own. */
export interface EpEnvironment {
  readonly platform: NodeJS.Platform;
  availability(ep: ConcreteEp): Promise<EpAvailability>;
}

/** This machine: onnxruntime-node's build, the provider libraries installed, and a WebGPU probe. */
export const machineEpEnvironment: EpEnvironment = {
  platform: process.platform,
  availability: checkMachineAvailability,
};

async function checkMachineAvailability(ep: ConcreteEp): Promise<EpAvailability> {
  const facts = PROVIDERS[ep];
  const runtime = listRuntimeProviders().find((provider) => provider.name === ep);
  if (runtime === undefined) {
    return { available: false, reason: facts.absentReason };
  }
  const libraries = facts.extraLibraries?.[process.platform];
  if (!runtime.bundled && (libraries === undefined || !nativeLibrariesPresent(libraries))) {
    return { available: false, reason: facts.notInstalledReason ?? facts.absentReason };
  }
  if (ep === "webgpu") {
    const probe = await probeWebGpu();
    return probe.ok ? { available: true } : { available: false, reason: `no usable WebGPU adapter (${probe.reason})` };
  }
  return { available: true };
}

/** The providers to try, in order, for one requested choice; made once and shared by a bundle's sessions. */
export interface EpPlan {
  readonly requested: EpName;
  /** Available providers, best first; never empty. */
  readonly candidates: readonly ConcreteEp[];
}

/**
 * Turns a choice into the providers to try. A pinned provider must be available; `auto` keeps the
 * available ones in the platform's order and logs one line per provider it skips, with the reason.
 *
 * @throws {EngineError} `unknown_ep` for a bad name; `ep_unavailable` for a pinned provider that cannot run
 *   here (the message names it and says why).
 */
export async function planExecutionProviders(
  requested: unknown,
  logger: Logger,
  environment: EpEnvironment = machineEpEnvironment,
): Promise<EpPlan> {
  const ep = parseEpName(requested);
  if (ep !== "auto") {
    const availability = await environment.availability(ep);
    if (!availability.available) {
      throw new EngineError("ep_unavailable", `${ep}: ${availability.reason}.`);
    }
    return { requested: ep, candidates: [ep] };
  }
  const candidates: ConcreteEp[] = [];
  for (const candidate of autoCandidates(environment.platform)) {
    const availability = await environment.availability(candidate);
    if (availability.available) {
      candidates.push(candidate);
    } else {
      logger.info(`Execution provider auto: skipping ${candidate}: ${availability.reason}.`);
    }
  }
  if (candidates.length === 0) {
    throw new EngineError("ep_unavailable", "auto: no execution provider can run on this machine, not even the CPU one.");
  }
  return { requested: ep, candidates };
}
