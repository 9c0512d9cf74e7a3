/**
 * The protocol molmo-server speaks beyond standard LSP: the custom requests and notifications, with their
 * parameter and result types. It is shared by the server (server/lsp), the VS Code extension (extension/)
 * and the webview's host, so it imports nothing: plain method names and plain data types, which each side
 * wraps in its own JSON-RPC `RequestType` (the pattern of vscode-eslint's shared customMessages.ts).
 *
 * MCP tools (mcp/) return the same shapes in their `structuredContent`.
 */

/** What Molmo is asked to do with an image. */
export type MolmoTaskName = "ask" | "point" | "count" | "caption" | "clock";

/** The task names, in the order a picker shows them. */
export const MOLMO_TASK_NAMES: readonly MolmoTaskName[] = ["ask", "point", "count", "caption", "clock"];

/** Generation settings a client may set per request; the server's defaults apply to what is left out. */
export interface MolmoGenerationOptions {
  /** Most tokens to generate (1–2048, default 200). */
  readonly maxNewTokens?: number;
  /** Sampling temperature; 0 or absent means greedy decoding. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  /** Seed for sampling, so an answer can be reproduced. */
  readonly seed?: number;
  /**
   * Text the answer is forced to begin with (the engine's `answerPrefix`): generation continues after it, and
   * the prefix is part of the answer's text and points. Steers the format of an answer (e.g. start with a
   * `<point` tag); the extension's tests use it to get points from the random-weight fixture model.
   */
  readonly answerPrefix?: string;
  /**
   * Most high-resolution crops for the image (1–64; default: the `molmo.maxCrops` setting, else the bundle's
   * own, 12 for the released models). Fewer is faster and lighter, more sees small details.
   */
  readonly maxCrops?: number;
}

/** `molmo/ask`: one question about one image. */
export interface MolmoAskParams {
  /**
   * The image: an absolute path, a path relative to {@link documentUri}'s folder or to a workspace folder,
   * a `file:` URI, or a `data:image/...;base64,` URI.
   */
  readonly image: string;
  /** `ask` (default): the question. `point` / `count`: what to point at / count. Not used by caption and clock. */
  readonly question?: string;
  readonly task?: MolmoTaskName;
  /** The document the image is referenced from, for relative paths. */
  readonly documentUri?: string;
  readonly options?: MolmoGenerationOptions;
  /** Give up after this many milliseconds (queue time included); the server's default otherwise. */
  readonly timeoutMs?: number;
  /** LSP work-done token: progress messages (queued, loading, generating). */
  readonly workDoneToken?: string | number;
  /** LSP partial-result token: the answer streams as {@link MolmoAskPartialResult} values. */
  readonly partialResultToken?: string | number;
}

/** A point of the answer. */
export interface MolmoPoint {
  /** 1-based, in the order of the answer's text (what a marker shows). */
  readonly index: number;
  /** Pixels of the image as displayed (EXIF orientation applied), not rounded. */
  readonly x: number;
  readonly y: number;
  /** Percent (0–100) of the width / height, as Molmo writes them. */
  readonly xPercent: number;
  readonly yPercent: number;
  /** The tag's inner text (or its alt when empty). */
  readonly label: string;
  readonly alt?: string;
}

/** Where the time of an answer went, in milliseconds. */
export interface MolmoTimings {
  /** Waiting behind other requests. */
  readonly queuedMs: number;
  /** Loading the model, when this request had to wait for it. */
  readonly modelLoadMs: number;
  readonly imageLoadMs: number;
  readonly preprocessMs: number;
  readonly visionMs: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** From the start of generation to the first token (queue and model load not included). */
  readonly timeToFirstTokenMs: number;
  readonly decodeTokensPerSecond: number;
  /** From receipt of the request to the answer. */
  readonly totalMs: number;
}

/** The model that answered. */
export interface MolmoModelRef {
  /** The bundle folder's name. */
  readonly name: string;
  /** The bundle folder. */
  readonly path: string;
  /** `molmo-7b-d`, `molmo-7b-o`, `molmo-72b`, `tiny-random`, ... as the bundle's manifest says. */
  readonly variant: string;
  /** `fp32`, `fp16`, `int8`, `int4`. */
  readonly dtype: string;
}

/** The answer to `molmo/ask`. */
export interface MolmoAskResult {
  readonly text: string;
  readonly points: MolmoPoint[];
  /** The count the answer states or implies; null when it has none. */
  readonly count: number | null;
  readonly image: { readonly width: number; readonly height: number; /** The resolved file, absent for data URIs. */ readonly path?: string };
  readonly task: MolmoTaskName;
  /** The text sent to the model as the user's turn. */
  readonly prompt: string;
  /** Why generation stopped: `stop_token`, `max_new_tokens`, ... */
  readonly stopReason: string;
  readonly generatedTokens: number;
  /** The execution provider that ran the decoder (`cpu`, `webgpu`, ...). */
  readonly ep: string;
  readonly model: MolmoModelRef;
  /** `hit` when the image's features came from the cache (a follow-up question about the same image). */
  readonly cache: "hit" | "miss";
  readonly timings: MolmoTimings;
}

/** A streamed piece of an answer, sent through `$/progress` on the request's partial-result token. */
export interface MolmoAskPartialResult {
  /** The text generated since the previous partial result. */
  readonly textDelta: string;
  /** Points whose tags completed in this delta. */
  readonly points?: MolmoPoint[];
}

/** State of the engine behind the server. */
export type MolmoEngineState = "unloaded" | "loading" | "ready" | "busy" | "error";

/** `molmo/status` result and `molmo/statusChanged` notification. */
export interface MolmoStatus {
  readonly state: MolmoEngineState;
  /** The configured model, if any (loaded or not). */
  readonly model?: MolmoModelRef;
  /** The execution provider the model runs on, once loaded. */
  readonly ep?: string;
  /** The execution provider asked for (`auto`, `cpu`, ...). */
  readonly requestedEp: string;
  /** Requests running (0 or 1) and waiting, and how many may wait. */
  readonly queue: { readonly running: number; readonly waiting: number; readonly limit: number };
  /** Why the model could not be loaded, in the `error` state. */
  readonly error?: { readonly code: string; readonly message: string };
  /** Milliseconds the last load took. */
  readonly loadMs?: number;
  readonly featureCache?: { readonly entries: number; readonly bytes: number; readonly hits: number; readonly misses: number };
}

/** One model bundle the server knows of. */
export interface MolmoModelInfo extends MolmoModelRef {
  /** Whether the server is configured to use it. */
  readonly selected: boolean;
  readonly loaded: boolean;
  /** Bytes of its ONNX files on disk. */
  readonly bytes: number;
}

/** `molmo/models` result. */
export interface MolmoModelsResult {
  readonly models: MolmoModelInfo[];
}

/** `molmo/selectModel` params: switch to another bundle (unloads the current model once it is idle). */
export interface MolmoSelectModelParams {
  readonly path: string;
}

/** Method names of the custom messages. */
export const MolmoMethods = {
  /** Client → server request: {@link MolmoAskParams} → {@link MolmoAskResult}. */
  ask: "molmo/ask",
  /** Client → server request: no params → {@link MolmoStatus}. */
  status: "molmo/status",
  /** Client → server request: no params → {@link MolmoModelsResult}. */
  models: "molmo/models",
  /** Client → server request: {@link MolmoSelectModelParams} → {@link MolmoStatus}. */
  selectModel: "molmo/selectModel",
  /** Server → client notification: {@link MolmoStatus}, whenever the state changes. */
  statusChanged: "molmo/statusChanged",
} as const;

/**
 * `data` of a JSON-RPC error answer to a Molmo request: the machine-readable reason. Codes are those of
 * the server's `HostError` (`no_model`, `busy`, `timeout`, `cancelled`, `image_not_found`, `outside_workspace`,
 * `remote_image_refused`, `bad_image`, `bad_request`, `model_load_failed`, `engine_failed`, ...).
 */
export interface MolmoErrorData {
  readonly code: string;
}

/**
 * The `molmo` settings section. The VS Code extension declares these in package.json and sends them as
 * `initializationOptions` and on `workspace/didChangeConfiguration`; the server also asks for them with
 * `workspace/configuration` (section `molmo`) when the client supports it. Other LSP clients send the same object.
 */
export interface MolmoSettings {
  readonly model?: {
    /** The exported model bundle folder. */
    readonly path?: string;
  };
  /** `auto` (default), `cpu`, `webgpu`, `cuda`, `dml`, `coreml`. */
  readonly executionProvider?: string;
  /** Most high-resolution crops per image (default: the bundle's preprocessor_config, 12 for the released models). */
  readonly maxCrops?: number;
  readonly hover?: {
    /** Describe images on hover (default true). */
    readonly enabled?: boolean;
    /** How long a hover waits for the answer before saying it is still looking (default 1500 ms). */
    readonly budgetMs?: number;
  };
  readonly diagnostics?: {
    /** Information diagnostics on images without alt text (default false). */
    readonly missingAltText?: boolean;
  };
  readonly images?: {
    /** Read images outside the workspace folders (default false). */
    readonly allowOutsideWorkspace?: boolean;
    /** Fetch `http(s)` images (default false). */
    readonly allowRemote?: boolean;
  };
}
