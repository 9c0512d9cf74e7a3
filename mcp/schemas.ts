/**
 * The JSON shapes of the MCP tools, as zod schemas: the SDK turns them into the JSON Schemas that `tools/list`
 * advertises, validates every call's arguments against the input schemas (a bad argument is a tool error naming
 * the field) and every result's `structuredContent` against the output schemas. Every field has a description,
 * because an agent reads them to decide what to pass.
 *
 * The answer shapes are those of molmo/ask (server/protocol/molmo-protocol.ts), so LSP and MCP clients see one
 * format; the compile-time checks at the end keep the two in step.
 */
import { z } from "zod";
import { HOST_LIMITS } from "../server/host/engine-host";
import { MOLMO_TASK_NAMES, type MolmoAskResult, type MolmoModelInfo, type MolmoStatus } from "../server/protocol/molmo-protocol";

// ---------------------------------------------------------------------------------------------------------
// Inputs

/** The image argument every image tool takes. */
export const imageArgument = z
  .string()
  .min(1)
  .describe(
    "The image: an absolute path, a path relative to the client's roots (the first root that has the file), a file: URI, or an inline " +
      "data:image/png;base64,... URI. The file must lie inside the client's roots (or the server's --allow-dir folders). " +
      "http(s) URLs are only fetched when the server was started with --allow-remote-images.",
  );

/** Generation settings a call may override. */
export const generationOptionsSchema = z
  .strictObject({
    maxNewTokens: z
      .number()
      .int()
      .min(1)
      .max(HOST_LIMITS.maxNewTokens)
      .optional()
      .describe(`Most tokens Molmo may generate (1-${HOST_LIMITS.maxNewTokens}; the server's default is 200). Raise it for long descriptions.`),
    temperature: z.number().min(0).max(100).optional().describe("Sampling temperature; 0 or absent means greedy (deterministic) decoding."),
    topK: z.number().int().min(0).optional().describe("Sample among the K most likely tokens (0 turns it off). Only with temperature > 0."),
    topP: z.number().gt(0).max(1).optional().describe("Nucleus sampling probability mass in (0, 1]. Only with temperature > 0."),
    seed: z.number().int().min(0).optional().describe("Seed for sampling, so that a sampled answer can be reproduced."),
  })
  .describe("Generation settings; leave out for the defaults (greedy decoding, up to 200 tokens).");

/** Whether to attach the annotated image. */
export const annotateArgument = z
  .boolean()
  .optional()
  .describe("Attach the image with Molmo's points drawn on it as image content (default true). Only sent when the answer has points.");

/** `ask_image` arguments (unknown arguments are refused, so a misspelt one comes back as an error naming it). */
export const askImageInput = z.strictObject({
  image: imageArgument,
  question: z.string().min(1).max(HOST_LIMITS.maxQuestionChars).describe("The question about the image, in plain words (e.g. 'What error does this dialog show?')."),
  options: generationOptionsSchema.optional(),
  annotate: annotateArgument,
});

/** `point_at` arguments. */
export const pointAtInput = z.strictObject({
  image: imageArgument,
  what: z.string().min(1).max(HOST_LIMITS.maxQuestionChars).describe("What to point at, as a short noun phrase (e.g. 'the red car', 'every checkbox')."),
  options: generationOptionsSchema.optional(),
  annotate: annotateArgument,
});

/** `count` arguments. */
export const countInput = z.strictObject({
  image: imageArgument,
  what: z.string().min(1).max(HOST_LIMITS.maxQuestionChars).describe("What to count, as a plural noun phrase (e.g. 'people', 'open browser tabs')."),
  options: generationOptionsSchema.optional(),
  annotate: annotateArgument,
});

/** `describe_image` arguments. */
export const describeImageInput = z.strictObject({
  image: imageArgument,
  detail: z
    .enum(["short", "detailed"])
    .optional()
    .describe("'short': a sentence or two. 'detailed' (default): a full paragraph; raise options.maxNewTokens (e.g. 500) to get all of it."),
  options: generationOptionsSchema.optional(),
});

/** `locate_ui_element` arguments. */
export const locateUiElementInput = z.strictObject({
  screenshot: imageArgument.describe(
    "The screenshot: an absolute path, a path relative to the client's roots (the first root that has the file), a file: URI, or an inline data:image/png;base64,... URI.",
  ),
  element: z
    .string()
    .min(1)
    .max(HOST_LIMITS.maxQuestionChars)
    .describe("The button, field, link or icon to find, described as a user would (e.g. 'the Save button', 'the search field at the top')."),
  options: generationOptionsSchema.optional(),
  annotate: annotateArgument,
});

/** `list_models` takes no arguments. */
export const listModelsInput = z.strictObject({});

// ---------------------------------------------------------------------------------------------------------
// Outputs

/** A point of an answer (MolmoPoint). */
export const pointSchema = z
  .object({
    index: z.number().int().describe("1-based number of the point, in the order of the answer (the number drawn on the annotated image)."),
    x: z.number().describe("Horizontal position in pixels of the image (0 = left edge), not rounded."),
    y: z.number().describe("Vertical position in pixels of the image (0 = top edge), not rounded."),
    xPercent: z.number().describe("Horizontal position in percent (0-100) of the image width, as Molmo wrote it."),
    yPercent: z.number().describe("Vertical position in percent (0-100) of the image height, as Molmo wrote it."),
    label: z.string().describe("What the point marks (the point tag's text)."),
    alt: z.string().optional().describe("The point tag's alt text, when Molmo wrote one."),
  })
  .describe("A point Molmo placed on the image.");

/** The image an answer is about. */
export const imageInfoSchema = z
  .object({
    width: z.number().int().describe("Image width in pixels (EXIF orientation applied)."),
    height: z.number().int().describe("Image height in pixels (EXIF orientation applied)."),
    path: z.string().optional().describe("The file that was read (symlinks resolved); absent for data: URIs and remote images."),
  })
  .describe("The image as Molmo saw it; point coordinates are in its pixels.");

/** The model that answered (MolmoModelRef). */
export const modelRefSchema = z
  .object({
    name: z.string().describe("The model bundle's folder name."),
    path: z.string().describe("The model bundle folder."),
    variant: z.string().describe("The model variant from the bundle's manifest (molmo-7b-d, molmo-7b-o, ...)."),
    dtype: z.string().describe("Weight precision: fp32, fp16, int8 or int4."),
  })
  .describe("The model that answered.");

/** Where an answer's time went (MolmoTimings). */
export const timingsSchema = z
  .object({
    queuedMs: z.number().describe("Milliseconds spent waiting behind other requests."),
    modelLoadMs: z.number().describe("Milliseconds spent loading the model for this request (0 when it was loaded)."),
    imageLoadMs: z.number().describe("Milliseconds spent decoding the image."),
    preprocessMs: z.number().describe("Milliseconds spent resizing and cropping the image."),
    visionMs: z.number().describe("Milliseconds spent in the vision encoder (0 when the image's features were cached)."),
    prefillMs: z.number().describe("Milliseconds spent reading the prompt."),
    decodeMs: z.number().describe("Milliseconds spent generating the answer."),
    timeToFirstTokenMs: z.number().describe("Milliseconds from the start of generation to the first token."),
    decodeTokensPerSecond: z.number().describe("Generation speed in tokens per second."),
    totalMs: z.number().describe("Milliseconds from receipt of the request to the answer."),
  })
  .describe("Where the time went.");

/** The fields of a molmo/ask answer. */
const askResultFields = {
  text: z.string().describe("Molmo's answer as generated (point tags included when it points)."),
  points: z.array(pointSchema).describe("The points of the answer, in pixels and percent; empty when it has none."),
  count: z.number().int().nullable().describe("The count the answer states or implies; null when it has none."),
  image: imageInfoSchema,
  task: z.enum(MOLMO_TASK_NAMES as [string, ...string[]]).describe("The Molmo task that ran: ask, point, count, caption or clock."),
  prompt: z.string().describe("The text sent to the model as the user's turn."),
  stopReason: z.string().describe("Why generation stopped: stop_token (the answer is complete) or max_new_tokens (it was cut; raise options.maxNewTokens)."),
  generatedTokens: z.number().int().describe("How many tokens were generated."),
  ep: z.string().describe("The execution provider that ran the model (cpu, cuda, webgpu, ...)."),
  model: modelRefSchema,
  cache: z.enum(["hit", "miss"]).describe("'hit' when the image's features came from the cache (a follow-up about the same image)."),
  timings: timingsSchema,
};

/*
 * The output schemas are plain (closed) objects: their JSON Schemas say `additionalProperties: false`, and the
 * tools parse what they return through them (unknown fields stripped), so a field the host adds later cannot make
 * a client's validation fail. The client always gets the schema from this same server, so closed shapes cost no
 * compatibility.
 */

/** ask_image, point_at, describe_image: a molmo/ask answer. */
export const askResultOutput = z.object(askResultFields);

/** count: a molmo/ask answer whose count is always a number. */
export const countResultOutput = z.object({
  ...askResultFields,
  count: z.number().int().min(0).describe("How many Molmo counted: the count its answer states, else the number of points."),
});

/** locate_ui_element: where to click, and every candidate. */
export const locateResultOutput = z.object({
  click: z
    .object({
      x: z.number().int().describe("Horizontal pixel of the image to click (rounded)."),
      y: z.number().int().describe("Vertical pixel of the image to click (rounded)."),
    })
    .describe("Where to click, in pixels of the screenshot. If your screen coordinates differ from the screenshot's pixels (HiDPI), scale them."),
  element: z.string().describe("The element that was looked for, as given."),
  image: imageInfoSchema,
  candidates: z.array(pointSchema).min(1).describe("Every point Molmo gave; the first one is the click target."),
  text: z.string().describe("Molmo's answer as generated."),
  ep: z.string().describe("The execution provider that ran the model."),
  model: modelRefSchema,
  timings: timingsSchema,
});

const modelInfoSchema = modelRefSchema
  .extend({
    selected: z.boolean().describe("Whether the server is configured to use this model."),
    loaded: z.boolean().describe("Whether this model is loaded in memory now."),
    bytes: z.number().describe("Bytes of its model files on disk."),
  })
  .describe("A model bundle the server knows of.");

const statusSchema = z
  .object({
    state: z.enum(["unloaded", "loading", "ready", "busy", "error"]).describe("The engine's state; 'unloaded' models load on the first request."),
    model: modelRefSchema.optional(),
    ep: z.string().optional().describe("The execution provider the loaded model runs on."),
    requestedEp: z.string().describe("The execution provider asked for (auto, cpu, ...)."),
    queue: z
      .object({
        running: z.number().int().describe("Requests running (0 or 1)."),
        waiting: z.number().int().describe("Requests waiting."),
        limit: z.number().int().describe("Most requests that may wait; calls past it fail with 'busy'."),
      })
      .describe("The request queue."),
    error: z.object({ code: z.string().describe("The error code."), message: z.string().describe("What went wrong and what to change.") }).optional().describe("Why the model could not be loaded."),
    loadMs: z.number().optional().describe("Milliseconds the last model load took."),
    featureCache: z
      .object({
        entries: z.number().int().describe("Images cached."),
        bytes: z.number().describe("Bytes used."),
        hits: z.number().int().describe("Cache hits."),
        misses: z.number().int().describe("Cache misses."),
      })
      .optional()
      .describe("The image-feature cache."),
  })
  .describe("The engine's state.");

/** list_models: the known bundles and the engine's status. */
export const listModelsOutput = z.object({
  models: z.array(modelInfoSchema).describe("The configured model and the bundles found in the --models-dir folders."),
  status: statusSchema,
});

// ---------------------------------------------------------------------------------------------------------
// Compile-time checks: the zod shapes accept exactly what the host returns.

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AskOutput = z.infer<z.ZodObject<typeof askResultFields>>;
type StatusOutput = z.infer<typeof statusSchema>;
type ModelInfoOutput = z.infer<typeof modelInfoSchema>;
/** The host's answers are valid structured content (and nothing the schema promises is missing from them). */
export const schemaChecks: [
  MolmoAskResultAssignable: Same<Omit<MolmoAskResult, "task">, Omit<AskOutput, "task">> extends true ? true : never,
  StatusAssignable: MolmoStatus extends StatusOutput ? true : never,
  ModelInfoAssignable: MolmoModelInfo extends ModelInfoOutput ? true : never,
] = [true, true, true];
