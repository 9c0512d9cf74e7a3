/**
 * Writes tiny ONNX models from TypeScript, so engine tests need neither Python nor the `onnx` package.
 *
 * ONNX files are Protocol Buffers messages (`ModelProto` of onnx/onnx.proto). Only the handful of fields
 * that a small graph needs are written here; the field numbers below are those of onnx.proto3 and are
 * named next to each use. onnxruntime parses the result exactly as it parses a model saved by `onnx.save`.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Element types, by their `TensorProto.DataType` enum value in onnx.proto. */
const ELEMENT_TYPES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
} as const;

/** An element type name accepted by the builder. */
export type OnnxElementType = keyof typeof ELEMENT_TYPES;

/** A graph input or output: its name, element type and dims (numbers are fixed, strings are symbolic). */
export interface ValueSpec {
  readonly name: string;
  readonly type: OnnxElementType;
  readonly dims: readonly (number | string)[];
}

/** A constant tensor stored in the graph (float32 or int64 data only, which is all tests need). */
export interface InitializerSpec {
  readonly name: string;
  readonly type: "float32" | "int64";
  readonly dims: readonly number[];
  readonly values: readonly number[];
  /**
   * Store the data in this file beside the model instead of inside it, as exporters do for models over
   * 2 GB (`<model>.onnx_data`). {@link writeOnnxModel} writes the file.
   */
  readonly externalFile?: string;
}

/** An attribute value: an int, a float (give `{ float: x }` so 1 and 1.0 stay apart), ints, or a string. */
export type AttributeValue = number | { readonly float: number } | readonly number[] | string;

/** One operator node. */
export interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** A whole single-graph model. */
export interface ModelSpec {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly InitializerSpec[];
  /** Default-domain opset; 17 unless given. */
  readonly opset?: number;
}

/** Serialises a model to ONNX bytes. */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const graph = new ProtoWriter();
  spec.nodes.forEach((node, index) => graph.message(1, encodeNode(node, index))); // GraphProto.node
  graph.string(2, "test_graph"); // GraphProto.name
  for (const initializer of spec.initializers ?? []) {
    graph.message(5, encodeInitializer(initializer)); // GraphProto.initializer
  }
  for (const input of spec.inputs) {
    graph.message(11, encodeValueInfo(input)); // GraphProto.input
  }
  for (const output of spec.outputs) {
    graph.message(12, encodeValueInfo(output)); // GraphProto.output
  }

  const opset = new ProtoWriter();
  opset.string(1, ""); // OperatorSetIdProto.domain: the default ONNX domain
  opset.varint(2, spec.opset ?? 17); // OperatorSetIdProto.version

  const model = new ProtoWriter();
  model.varint(1, 8); // ModelProto.ir_version: IR v8 goes with opset 17
  model.string(2, "molmo-vscode tests"); // ModelProto.producer_name
  model.message(7, graph.bytes()); // ModelProto.graph
  model.message(8, opset.bytes()); // ModelProto.opset_import
  return model.bytes();
}

/** Serialises a model and writes it to `path`, with any external data files beside it; returns `path`. */
export function writeOnnxModel(path: string, spec: ModelSpec): string {
  writeFileSync(path, buildOnnxModel(spec));
  for (const initializer of spec.initializers ?? []) {
    if (initializer.externalFile !== undefined) {
      writeFileSync(join(dirname(path), initializer.externalFile), initializerBytes(initializer));
    }
  }
  return path;
}

/** `y = a + b` over float32 vectors of symbolic length `n`: the smallest useful model. */
export function addModel(): ModelSpec {
  return {
    inputs: [
      { name: "a", type: "float32", dims: ["n"] },
      { name: "b", type: "float32", dims: ["n"] },
    ],
    outputs: [{ name: "y", type: "float32", dims: ["n"] }],
    nodes: [{ opType: "Add", inputs: ["a", "b"], outputs: ["y"] }],
  };
}

/**
 * A toy decoder step with a KV cache in the shape of the real one: `present.0.key = concat(past, new)`
 * along the sequence axis, and `logits = sum over the cache` so each step depends on every past value.
 * `past_key_values.0.key [batch, past, 2]`, `new_key [batch, 1, 2]` → `present.0.key [batch, past+1, 2]`,
 * `logits [batch, 2]`.
 */
export function toyKvModel(): ModelSpec {
  return {
    inputs: [
      { name: "past_key_values.0.key", type: "float32", dims: ["batch", "past", 2] },
      { name: "new_key", type: "float32", dims: ["batch", 1, 2] },
    ],
    outputs: [
      { name: "logits", type: "float32", dims: ["batch", 2] },
      { name: "present.0.key", type: "float32", dims: ["batch", "total", 2] },
    ],
    initializers: [{ name: "sequence_axis", type: "int64", dims: [1], values: [1] }],
    nodes: [
      { opType: "Concat", inputs: ["past_key_values.0.key", "new_key"], outputs: ["present.0.key"], attributes: { axis: 1 } },
      { opType: "ReduceSum", inputs: ["present.0.key", "sequence_axis"], outputs: ["logits"], attributes: { keepdims: 0 } },
    ],
  };
}

function encodeNode(node: NodeSpec, index: number): Uint8Array {
  const writer = new ProtoWriter();
  for (const input of node.inputs) writer.string(1, input); // NodeProto.input
  for (const output of node.outputs) writer.string(2, output); // NodeProto.output
  writer.string(3, node.name ?? `${node.opType}_${index}`); // NodeProto.name
  writer.string(4, node.opType); // NodeProto.op_type
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    writer.message(5, encodeAttribute(name, value)); // NodeProto.attribute
  }
  if (node.domain !== undefined) writer.string(7, node.domain); // NodeProto.domain
  return writer.bytes();
}

function encodeAttribute(name: string, value: AttributeValue): Uint8Array {
  const writer = new ProtoWriter();
  writer.string(1, name); // AttributeProto.name
  if (typeof value === "number") {
    writer.varint(3, value); // AttributeProto.i
    writer.varint(20, 2); // AttributeProto.type = INT
  } else if (typeof value === "string") {
    writer.bytesField(4, new TextEncoder().encode(value)); // AttributeProto.s
    writer.varint(20, 3); // STRING
  } else if (Array.isArray(value)) {
    for (const item of value as readonly number[]) writer.varint(8, item); // AttributeProto.ints
    writer.varint(20, 7); // INTS
  } else {
    writer.float(2, (value as { float: number }).float); // AttributeProto.f
    writer.varint(20, 1); // FLOAT
  }
  return writer.bytes();
}

function encodeInitializer(spec: InitializerSpec): Uint8Array {
  const writer = new ProtoWriter();
  for (const dim of spec.dims) writer.varint(1, dim); // TensorProto.dims
  writer.varint(2, ELEMENT_TYPES[spec.type]); // TensorProto.data_type
  writer.string(8, spec.name); // TensorProto.name
  if (spec.externalFile === undefined) {
    writer.bytesField(9, initializerBytes(spec)); // TensorProto.raw_data
  } else {
    const entries: [string, string][] = [
      ["location", spec.externalFile],
      ["offset", "0"],
      ["length", String(initializerBytes(spec).length)],
    ];
    for (const [key, value] of entries) {
      const entry = new ProtoWriter();
      entry.string(1, key); // StringStringEntryProto.key
      entry.string(2, value); // StringStringEntryProto.value
      writer.message(13, entry.bytes()); // TensorProto.external_data
    }
    writer.varint(14, 1); // TensorProto.data_location = EXTERNAL
  }
  return writer.bytes();
}

/** The tensor's data as ONNX stores it: little-endian, as onnx.proto specifies whatever the host. */
function initializerBytes(spec: InitializerSpec): Uint8Array {
  return spec.type === "float32"
    ? new Uint8Array(new Float32Array(spec.values).buffer)
    : new Uint8Array(BigInt64Array.from(spec.values, (v) => BigInt(v)).buffer);
}

function encodeValueInfo(spec: ValueSpec): Uint8Array {
  const shape = new ProtoWriter();
  for (const dim of spec.dims) {
    const dimension = new ProtoWriter();
    if (typeof dim === "number") dimension.varint(1, dim); // Dimension.dim_value
    else dimension.string(2, dim); // Dimension.dim_param
    shape.message(1, dimension.bytes()); // TensorShapeProto.dim
  }
  const tensorType = new ProtoWriter();
  tensorType.varint(1, ELEMENT_TYPES[spec.type]); // TypeProto.Tensor.elem_type
  tensorType.message(2, shape.bytes()); // TypeProto.Tensor.shape
  const type = new ProtoWriter();
  type.message(1, tensorType.bytes()); // TypeProto.tensor_type
  const info = new ProtoWriter();
  info.string(1, spec.name); // ValueInfoProto.name
  info.message(2, type.bytes()); // ValueInfoProto.type
  return info.bytes();
}

/** The few protobuf wire-format writes ONNX needs: varints, fixed32 floats and length-delimited fields. */
class ProtoWriter {
  private readonly chunks: number[] = [];

  varint(field: number, value: number): void {
    this.tag(field, 0);
    this.rawVarint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, 5);
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    this.chunks.push(...bytes);
  }

  string(field: number, value: string): void {
    this.bytesField(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Uint8Array): void {
    this.bytesField(field, value);
  }

  bytesField(field: number, value: Uint8Array): void {
    this.tag(field, 2);
    this.rawVarint(value.length);
    for (const byte of value) this.chunks.push(byte);
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  /** Non-negative integers only; negative int64 values are not needed by these graphs. */
  private rawVarint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`onnx-builders: varint ${value} is not a non-negative safe integer.`);
    }
    let rest = value;
    while (rest >= 0x80) {
      this.chunks.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.chunks.push(rest);
  }
}

/**
 * `y = x * w` with the weight `w = [1, 2, 3]` kept in an external data file beside the model, as large
 * exported decoders keep theirs (`decoder_model_merged.onnx_data`).
 */
export function externalWeightModel(dataFile = "weights.onnx_data"): ModelSpec {
  return {
    inputs: [{ name: "x", type: "float32", dims: [3] }],
    outputs: [{ name: "y", type: "float32", dims: [3] }],
    initializers: [{ name: "w", type: "float32", dims: [3], values: [1, 2, 3], externalFile: dataFile }],
    nodes: [{ opType: "Mul", inputs: ["x", "w"], outputs: ["y"] }],
  };
}

/**
 * A stack of KV-cache concatenations shaped like a real decoder's cache, for measuring what keeping the
 * cache on the GPU saves: for each layer l, `present.l.key|value = concat(past_key_values.l.key|value,
 * new_kv)` along the sequence axis, all `[batch, heads, sequence, headDim]` float32; `logits = sum(new_kv)`
 * over its last axis (`[batch, heads, 1]`), so each step returns a small host output.
 */
export function kvStackModel(layers: number, heads: number, headDim: number): ModelSpec {
  const inputs: ValueSpec[] = [{ name: "new_kv", type: "float32", dims: ["batch", heads, 1, headDim] }];
  const outputs: ValueSpec[] = [{ name: "logits", type: "float32", dims: ["batch", heads, 1] }];
  const nodes: NodeSpec[] = [{ opType: "ReduceSum", inputs: ["new_kv", "last_axis"], outputs: ["logits"], attributes: { keepdims: 0 } }];
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ["key", "value"]) {
      const past = `past_key_values.${layer}.${kind}`;
      const present = `present.${layer}.${kind}`;
      inputs.push({ name: past, type: "float32", dims: ["batch", heads, "past", headDim] });
      outputs.push({ name: present, type: "float32", dims: ["batch", heads, "total", headDim] });
      nodes.push({ opType: "Concat", inputs: [past, "new_kv"], outputs: [present], attributes: { axis: 2 } });
    }
  }
  return { inputs, outputs, nodes, initializers: [{ name: "last_axis", type: "int64", dims: [1], values: [3] }] };
}
