#!/usr/bin/env node
// Runs ONNX graphs with onnxruntime-node for the Python tests (Debian has no Python onnxruntime).
//
//   node ort_runner.js job.json
//
// job.json: {"runs": [{"model": "a.onnx", "feeds": {"x": "x.npy", "past": {"from": [0, "present"]}},
//                      "save": {"y": "y.npy"}}, ...]}
// Runs execute in order in one process (sessions are cached per model path); a feed may be a .npy
// path or an output of an earlier run. Outputs named in "save" are written as .npy. Exits 1 with a
// message on stderr on any failure. Only what the exporter's graphs use is supported: float32,
// float16 (as raw uint16 bits), int64 and bool.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

function loadOrt() {
  // Resolve onnxruntime-node from the repository's node_modules (this file sits in models/python/tests).
  const root = path.resolve(__dirname, "..", "..", "..");
  return require(require.resolve("onnxruntime-node", { paths: [root, __dirname] }));
}

const DTYPES = {
  "<f4": { ort: "float32", array: Float32Array },
  "<f2": { ort: "float16", array: Uint16Array },
  "<i8": { ort: "int64", array: BigInt64Array },
  "|b1": { ort: "bool", array: Uint8Array },
};

function readNpy(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.toString("latin1", 0, 6) !== "\x93NUMPY") throw new Error(`${file} is not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString("latin1", start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const kind = DTYPES[descr];
  if (!kind) throw new Error(`${file}: unsupported dtype ${descr}`);
  const body = bytes.subarray(start + headerLength);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  const data = new kind.array(copy.buffer, 0, body.length / kind.array.BYTES_PER_ELEMENT);
  return { type: kind.ort, data, dims: shape };
}

function writeNpy(file, tensor) {
  const entry = Object.entries(DTYPES).find(([, k]) => k.ort === tensor.type);
  if (!entry) throw new Error(`cannot save a ${tensor.type} tensor`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(", ")})`;
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(63 - ((header.length + 10) % 64)) + "\n";
  const prefix = Buffer.alloc(10);
  prefix.write("\x93NUMPY", 0, "latin1");
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, "latin1"),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const ort = loadOrt();
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const sessions = new Map();
  const results = [];
  for (const [index, run] of job.runs.entries()) {
    if (!sessions.has(run.model)) {
      sessions.set(run.model, await ort.InferenceSession.create(run.model, { intraOpNumThreads: 1 }));
    }
    const session = sessions.get(run.model);
    const feeds = {};
    for (const [name, source] of Object.entries(run.feeds)) {
      if (typeof source === "string") {
        const { type, data, dims } = readNpy(source);
        feeds[name] = new ort.Tensor(type, data, dims);
      } else {
        const [from, output] = source.from;
        const tensor = results[from] && results[from][output];
        if (!tensor) throw new Error(`run ${index}: no output ${output} in run ${from}`);
        feeds[name] = tensor;
      }
    }
    const outputs = await session.run(feeds);
    results.push(outputs);
    for (const [name, file] of Object.entries(run.save || {})) {
      if (!outputs[name]) throw new Error(`run ${index}: ${run.model} has no output ${name}`);
      writeNpy(file, outputs[name]);
    }
  }
}

main().catch((error) => {
  process.stderr.write(`ort_runner: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
