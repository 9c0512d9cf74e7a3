/**
 * The decoder's `num_logits_to_keep` input (Hugging Face's `logits_to_keep`: 0 = logits for every position,
 * k = the last k) on the tiny bundle: the engine asks for the last position only when it prefills and
 * decodes, for every position only when the caller wants all prefill logits, and a bundle exported before
 * the input existed still runs, computing logits for every position as it did.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadBundle } from "../../models/bundle/bundle";
import { LOGITS_TO_KEEP_INPUT } from "../../models/bundle/manifest";
import { readTensorData, type OrtTensor } from "../../models/engine/backend";
import { MolmoDecoder, type PrefillLogits } from "../../models/engine/molmo-decoder";
import { MolmoEngine } from "../../models/engine/molmo-engine";
import type { KvState } from "../../models/engine/kv-cache";
import { createSession, type EngineSession, type Feeds, type RunOptions } from "../../models/engine/session";
import { readNpyFile } from "../../models/io/npy";
import { committedTinyBundleDir, makeTinyBundle, replaceBundleFile, tinyMolmoDir } from "../helpers/tiny-bundle";

interface Reference {
  task: { kind: "point"; label: string };
  inputs: { input_ids: string; sequence_length: number };
  prefill: { logits_file: string; positions: number[] };
  greedy: { tokens: number[] };
  tolerance: { logits_max_abs: number };
}

const reference = JSON.parse(readFileSync(join(tinyMolmoDir(), "reference.json"), "utf8")) as Reference;
const imagePath = join(tinyMolmoDir(), "image.png");

/** What one decoder run was fed as num_logits_to_keep, and the dims of the logits it gave. */
interface DecoderCall {
  readonly keep: { type: string; dims: readonly number[]; value: bigint } | undefined;
  readonly logitsDims: readonly number[];
}

/** Records every run of `session` (the decoder) while passing it through unchanged. */
function recordRuns(session: EngineSession): DecoderCall[] {
  const calls: DecoderCall[] = [];
  const run = session.run.bind(session);
  session.run = async (feeds: Feeds, options?: RunOptions) => {
    const fed = feeds[LOGITS_TO_KEEP_INPUT] as OrtTensor | undefined;
    const keep = fed === undefined ? undefined : { type: fed.type, dims: [...fed.dims], value: (readTensorData(fed) as BigInt64Array)[0] };
    const outputs = await run(feeds, options);
    calls.push({ keep, logitsDims: [...(outputs.logits?.dims ?? [])] });
    return outputs;
  };
  return calls;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

void test("the decoder is fed num_logits_to_keep 1 for prefill and steps, and 0 only when all prefill logits are wanted", async (t) => {
  const bundle = await loadBundle(makeTinyBundle());
  const { manifest } = bundle;
  assert.deepEqual(
    manifest.graphs.decoder.inputs.find((input) => input.name === LOGITS_TO_KEEP_INPUT),
    { name: LOGITS_TO_KEEP_INPUT, dtype: "int64", shape: [] },
    "the committed bundle declares the input as an int64 scalar",
  );
  const embedSession = await createSession(bundle.graphPaths.embedTokens, { ep: "cpu", label: "embed_tokens" });
  const decoderSession = await createSession(bundle.graphPaths.decoder, { ep: "cpu", label: "decoder", deviceOutputs: manifest.kvCache.outputs });
  t.after(() => Promise.all([embedSession.dispose(), decoderSession.dispose()]));
  assert.ok(decoderSession.inputNames.includes(LOGITS_TO_KEEP_INPUT));
  const calls = recordRuns(decoderSession);
  const decoder = new MolmoDecoder(embedSession, decoderSession, manifest);
  const vocabulary = manifest.dims.numLogits;

  // The fixture's prompt ids, embedded without image features: the contract, not parity, is tested here.
  const ids = Array.from((await readNpyFile(join(tinyMolmoDir(), reference.inputs.input_ids))).data as BigInt64Array, Number);
  const length = ids.length;
  const states: KvState[] = [];
  try {
    let started = performance.now();
    const lastOnly = await decoder.prefill({ embeds: await decoder.embed(ids), length }, {});
    const lastOnlyMs = performance.now() - started;
    states.push(lastOnly.state);
    assert.deepEqual(calls[0], { keep: { type: "int64", dims: [], value: 1n }, logitsDims: [1, 1, vocabulary] });
    assert.equal(lastOnly.logits.length, vocabulary);
    assert.equal(lastOnly.state.length, length, "the KV cache still covers the whole prompt");

    let all: PrefillLogits | undefined;
    started = performance.now();
    const everyRow = await decoder.prefill({ embeds: await decoder.embed(ids), length, onLogits: (logits) => (all = logits) }, {});
    const everyRowMs = performance.now() - started;
    states.push(everyRow.state);
    assert.deepEqual(calls[1], { keep: { type: "int64", dims: [], value: 0n }, logitsDims: [1, length, vocabulary] });
    assert.ok(all !== undefined);
    assert.equal(all.length, length);
    assert.equal(all.data.length, length * vocabulary);
    // The last row is the same whether the LM head ran over one position or all of them.
    const lastRow = (all.data as Float32Array).subarray((length - 1) * vocabulary);
    assert.ok(maxAbsDiff(lastRow, lastOnly.logits) <= 1e-5);
    assert.ok(maxAbsDiff(everyRow.logits, lastOnly.logits) <= 1e-5);
    t.diagnostic(`prefill of ${length} positions: ${lastOnlyMs.toFixed(0)} ms with the last position's logits, ${everyRowMs.toFixed(0)} ms with all`);

    const step = await decoder.step(argmax(lastOnly.logits), lastOnly.state, {});
    states.push(step.state);
    assert.deepEqual(calls[2], { keep: { type: "int64", dims: [], value: 1n }, logitsDims: [1, 1, vocabulary] });
    assert.equal(step.state.length, length + 1);
  } finally {
    states.forEach((state) => decoder.release(state));
  }
});

// ---------------------------------------------------------------------------------------------------
// A bundle as exported before num_logits_to_keep: the committed decoder with the input turned into a
// constant 0 (logits for every position, what those graphs computed), and a manifest that does not list it.

/** One field of a Protocol Buffers message: its number and where its bytes lie (tag included). */
interface ProtoField {
  readonly number: number;
  readonly start: number;
  readonly payloadStart: number;
  readonly end: number;
}

function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let at = offset; at < bytes.length; at++) {
    value += (bytes[at] & 0x7f) * scale;
    scale *= 128;
    if ((bytes[at] & 0x80) === 0) return [value, at + 1];
  }
  throw new Error("truncated varint");
}

/** The top-level fields of a message (wire types 0, 1, 2 and 5, all that ONNX files use). */
function protoFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, offset);
    const wireType = tag % 8;
    let payloadStart = afterTag;
    let end: number;
    if (wireType === 0) end = readVarint(bytes, afterTag)[1];
    else if (wireType === 1) end = afterTag + 8;
    else if (wireType === 5) end = afterTag + 4;
    else if (wireType === 2) {
      const [size, after] = readVarint(bytes, afterTag);
      payloadStart = after;
      end = after + size;
    } else throw new Error(`unexpected wire type ${wireType}`);
    fields.push({ number: Math.floor(tag / 8), start: offset, payloadStart, end });
    offset = end;
  }
  return fields;
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function lengthDelimited(number: number, payload: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from([...varint(number * 8 + 2), ...varint(payload.length)]), payload]);
}

/** The ONNX model with graph input `name` (an int64 scalar) replaced by an initializer holding 0. */
function inputToZeroConstant(model: Uint8Array, name: string): Uint8Array {
  const modelFields = protoFields(model);
  const graphField = modelFields.find((f) => f.number === 7); // ModelProto.graph
  assert.ok(graphField !== undefined);
  const graph = model.subarray(graphField.payloadStart, graphField.end);
  const graphFields = protoFields(graph);
  const isTheInput = (f: ProtoField) => {
    if (f.number !== 11) return false; // GraphProto.input
    const info = graph.subarray(f.payloadStart, f.end);
    const nameField = protoFields(info).find((g) => g.number === 1); // ValueInfoProto.name
    return nameField !== undefined && Buffer.from(info.subarray(nameField.payloadStart, nameField.end)).toString("utf8") === name;
  };
  assert.equal(graphFields.filter(isTheInput).length, 1, `the graph has one input ${name}`);
  // TensorProto: data_type (2) = INT64 (7), name (8), raw_data (9) = one little-endian int64 0; no dims: a scalar.
  const zero = Buffer.concat([Uint8Array.of(2 * 8, 7), lengthDelimited(8, Buffer.from(name, "utf8")), lengthDelimited(9, new Uint8Array(8))]);
  const newGraph = Buffer.concat([...graphFields.filter((f) => !isTheInput(f)).map((f) => graph.subarray(f.start, f.end)), lengthDelimited(5, zero)]);
  return Buffer.concat(modelFields.map((f) => (f === graphField ? lengthDelimited(7, newGraph) : model.subarray(f.start, f.end))));
}

/** A temporary bundle whose decoder and manifest look like an export from before num_logits_to_keep. */
function bundleWithoutLogitsToKeep(): string {
  const dir = makeTinyBundle();
  const decoderPath = "onnx/decoder_model_merged.onnx";
  const decoder = inputToZeroConstant(readFileSync(join(committedTinyBundleDir(), decoderPath)), LOGITS_TO_KEEP_INPUT);
  replaceBundleFile(dir, decoderPath, decoder);
  const config = JSON.parse(readFileSync(join(committedTinyBundleDir(), "config.json"), "utf8")) as {
    molmo_onnx: { graphs: Record<string, { inputs: { name: string }[] }>; files: Record<string, { bytes: number; sha256: string }> };
  };
  const entry = config.molmo_onnx.graphs.decoder_model_merged;
  entry.inputs = entry.inputs.filter((input) => input.name !== LOGITS_TO_KEEP_INPUT);
  config.molmo_onnx.files[decoderPath] = { bytes: decoder.length, sha256: createHash("sha256").update(decoder).digest("hex") };
  replaceBundleFile(dir, "config.json", JSON.stringify(config));
  return dir;
}

void test("a bundle exported without num_logits_to_keep still answers, with every prefill row computed", async (t) => {
  const dir = bundleWithoutLogitsToKeep();
  const bundle = await loadBundle(dir);
  assert.ok(!bundle.manifest.graphs.decoder.inputs.some((input) => input.name === LOGITS_TO_KEEP_INPUT));
  // Loading checks the opened graph's inputs against the manifest, so this also proves the graph lacks the input.
  const engine = await MolmoEngine.load(dir, { ep: "cpu" });
  t.after(() => engine.dispose());

  const expected = await readNpyFile(join(tinyMolmoDir(), reference.prefill.logits_file));
  let prefill: PrefillLogits | undefined;
  const maxNewTokens = 6;
  const withLogits = await engine.ask({ image: imagePath, task: reference.task, maxNewTokens, stopTokenIds: [], onPrefillLogits: (l) => (prefill = l) });
  assert.deepEqual(withLogits.tokenIds, reference.greedy.tokens.slice(0, maxNewTokens));
  assert.ok(prefill !== undefined);
  assert.equal(prefill.length, reference.inputs.sequence_length);
  const vocabulary = prefill.numLogits;
  let diff = 0;
  reference.prefill.positions.forEach((position, row) => {
    const actual = (prefill as PrefillLogits).data.subarray(position * vocabulary, (position + 1) * vocabulary) as Float32Array;
    diff = Math.max(diff, maxAbsDiff(actual, (expected.data as Float32Array).subarray(row * vocabulary, (row + 1) * vocabulary)));
  });
  assert.ok(diff <= reference.tolerance.logits_max_abs, `max |diff| ${diff}`);

  // Without onPrefillLogits the engine keeps the last of the rows the graph gives.
  const plain = await engine.ask({ image: imagePath, task: reference.task, maxNewTokens, stopTokenIds: [] });
  assert.deepEqual(plain.tokenIds, withLogits.tokenIds);
});
