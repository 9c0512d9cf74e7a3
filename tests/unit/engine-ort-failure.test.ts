/** Recognising onnxruntime's failures by their messages, and cleaning the messages for users. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyOrtFailure, cleanOrtMessage } from "../../models/engine/ort-failure";

void test("allocation failures of every provider are out_of_memory", () => {
  const messages = [
    // CPU arena, as onnxruntime-node 1.30 reports it (seen on this machine).
    "Non-zero status code returned while running ConstantOfShape node. Name:'ConstantOfShape_0' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of size 4398046511104",
    "Available memory of 1073741824 is smaller than requested bytes of 2147483648",
    "std::bad_alloc",
    "CUDA failure 2: out of memory ; GPU=0 ; hostname=x ; file=cuda_allocator.cc ; line=47 ; expr=cudaMalloc(&p, size);",
    "CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR ... cudaErrorMemoryAllocation",
    "The parameter is incorrect. E_OUTOFMEMORY",
    "DML failure 0x8007000E",
    "WebGPU: Out of memory while creating buffer",
  ];
  for (const message of messages) {
    assert.equal(classifyOrtFailure(message)?.kind, "out_of_memory", message);
  }
});

void test("missing files, corrupt models and option mismatches are recognised, with the file or output named", () => {
  assert.deepEqual(
    classifyOrtFailure('External data path validation failed for initializer: w. Error: tensorprotoutils.cc:461 ValidateExternalDataPathFromDir External data path does not exist: "/models/m/decoder.onnx_data"'),
    { kind: "missing_file", subject: "/models/m/decoder.onnx_data" },
  );
  assert.deepEqual(classifyOrtFailure("Load model from /tmp/x.onnx failed:Load model /tmp/x.onnx failed. File doesn't exist"), { kind: "missing_file" });
  assert.deepEqual(classifyOrtFailure("Load model from /tmp/bad.onnx failed:Protobuf parsing failed."), { kind: "corrupt_model" });
  assert.deepEqual(classifyOrtFailure("... GetExtDataFromTensorProto External initializer: w offset: 0 size to read: 12 given file_length: 4 are out of bounds or can not be read in full."), { kind: "corrupt_model" });
  assert.deepEqual(classifyOrtFailure('Invalid argument: "present.9.key" is not a valid output name.'), { kind: "config_mismatch", subject: "present.9.key" });
  assert.equal(classifyOrtFailure("Non-zero status code returned while running Add node. Attempting to broadcast an axis by a dimension other than 1. 2 by 3"), undefined);
});

void test("cleanOrtMessage drops C++ source locations and trailing newlines but keeps the sentence", () => {
  assert.equal(
    cleanOrtMessage(new Error("Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:563 void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast\n")),
    "Status Message: axis == 1 || axis == largest was false. Attempting to broadcast",
  );
  assert.equal(cleanOrtMessage("plain text"), "plain text");
});
