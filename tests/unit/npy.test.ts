import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  encodeNpy,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  NpyError,
  readNpy,
  readNpyFile,
  writeNpy,
  type NpyData,
  type NpyDtype,
} from "../../models/io/npy";

function roundTrip(data: NpyData, shape: number[], dtype?: NpyDtype) {
  const bytes = encodeNpy(data, shape, dtype);
  return { bytes, back: readNpy(bytes) };
}

void test("header: version 1.0, 64-byte aligned data, numpy's dict text", () => {
  const { bytes } = roundTrip(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = bytes.readUInt16LE(8);
  assert.equal((10 + headerLength) % 64, 0);
  const header = bytes.toString("latin1", 10, 10 + headerLength);
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  assert.equal(bytes.length, 10 + headerLength + 24);
  assert.match(encodeNpy(new Int32Array(3), [3]).toString("latin1", 10, 80), /'shape': \(3,\)/);
  assert.match(encodeNpy(new Float64Array(1), []).toString("latin1", 10, 80), /'shape': \(\)/);
});

void test("round trips for every dtype", () => {
  const cases: Array<[NpyData, number[], NpyDtype | undefined, NpyDtype]> = [
    [new Float32Array([1.5, -2, 3.25, Number.NaN]), [2, 2], undefined, "<f4"],
    [new Int32Array([-100, 0, 2147483647, -2147483648]), [4], undefined, "<i4"],
    [new Float64Array([Math.PI, -0]), [1, 2], undefined, "<f8"],
    [new Uint8Array([0, 1, 1, 0]), [4], "|b1", "|b1"],
    [new Uint8Array([0, 255, 7]), [3], undefined, "|u1"],
    [new Int8Array([-128, 127]), [2], undefined, "|i1"],
    [new Uint16Array([0x3c00, 0xc000]), [2], "<f2", "<f2"],
    [new Uint16Array([65535]), [1], undefined, "<u2"],
    [new Int16Array([-32768]), [1], undefined, "<i2"],
    [new Uint32Array([4294967295]), [1], undefined, "<u4"],
    [new BigInt64Array([-5n, 9007199254740993n]), [2], undefined, "<i8"],
    [new BigUint64Array([18446744073709551615n]), [1], undefined, "<u8"],
    [new Float32Array(0), [0, 5], undefined, "<f4"],
  ];
  for (const [data, shape, dtype, expected] of cases) {
    const { back } = roundTrip(data, shape, dtype);
    assert.equal(back.dtype, expected);
    assert.deepEqual(back.shape, shape);
    assert.equal(back.data.constructor, data.constructor);
    assert.deepEqual(Array.from(back.data as ArrayLike<number | bigint>), Array.from(data as ArrayLike<number | bigint>));
  }
});

void test("reads arrays that are views into larger buffers, and big-endian data", () => {
  const backing = new Float32Array([9, 9, 1, 2, 3]);
  const { back } = roundTrip(backing.subarray(2), [3]);
  assert.deepEqual(Array.from(back.data as Float32Array), [1, 2, 3]);

  const header = "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }";
  const padded = header.padEnd(64 - 10 - 1, " ") + "\n";
  const bytes = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), Buffer.alloc(2), Buffer.from(padded, "latin1"), Buffer.from([0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe])]);
  bytes.writeUInt16LE(padded.length, 8);
  const decoded = readNpy(bytes);
  assert.equal(decoded.dtype, "<i4");
  assert.deepEqual(Array.from(decoded.data as Int32Array), [258, -2]);
});

void test("bad input gives NpyError with a code", () => {
  const expectCode = (code: string, fn: () => unknown) =>
    assert.throws(fn, (error: unknown) => error instanceof NpyError && error.code === code);
  expectCode("bad_magic", () => readNpy(Buffer.from("not numpy at all")));
  expectCode("size_mismatch", () => encodeNpy(new Float32Array(5), [2, 3]));
  expectCode("unsupported_dtype", () => encodeNpy(new Float32Array(2), [2], "<i4"));
  expectCode("unsupported_dtype", () => encodeNpy(new Uint8Array([0, 2]), [2], "|b1"));
  const good = encodeNpy(new Float32Array([1, 2, 3]), [3]);
  expectCode("size_mismatch", () => readNpy(good.subarray(0, good.length - 1)));
  expectCode("bad_header", () => readNpy(good.subarray(0, 20)));
  const complex = Buffer.from(good);
  complex.write("<c8", complex.indexOf("<f4"), "latin1");
  expectCode("unsupported_dtype", () => readNpy(complex));
  const fortran = Buffer.from(good);
  fortran.write("True ", fortran.indexOf("False"), "latin1");
  expectCode("fortran_order", () => readNpy(fortran));
});

void test("float16 conversion: exact values, rounding to nearest even, subnormals, overflow", () => {
  const values = new Float32Array([0, -0, 1, -2, 65504, 65520, 1e-8, 6.1035156e-5, 5.9604645e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, Number.NaN]);
  const bits = float32ToFloat16Bits(values);
  assert.deepEqual(
    Array.from(bits.subarray(0, 12)),
    [0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0000, 0x0400, 0x0001, 0x3c00, 0x3c02, 0x7c00],
  );
  assert.ok(Number.isNaN(float16BitsToFloat32(bits.subarray(12))[0]));
  const back = float16BitsToFloat32(bits.subarray(0, 5));
  assert.deepEqual(Array.from(back), [0, -0, 1, -2, 65504]);
});

/** A Python 3 interpreter with numpy, if the machine has one (the round trip below needs it). */
function pythonWithNumpy(): string | undefined {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(candidate, ["-c", "import numpy"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

void test("numpy reads what we write and we read what numpy writes", async (t) => {
  const python = pythonWithNumpy();
  if (python === undefined) {
    t.skip("no python3 with numpy on this machine");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "npy-test-"));
  try {
    await writeNpy(join(dir, "f4.npy"), Float32Array.from({ length: 24 }, (_, i) => i / 3), [2, 3, 4]);
    await writeNpy(join(dir, "i4.npy"), new Int32Array([-100, 5, 7]), [3]);
    await writeNpy(join(dir, "b1.npy"), new Uint8Array([1, 0, 1]), [3], "|b1");
    await writeNpy(join(dir, "f2.npy"), float32ToFloat16Bits(new Float32Array([0.5, -1.25])), [2], "<f2");
    const script = `
import numpy as np, sys
d = sys.argv[1]
a = np.load(d + "/f4.npy"); assert a.dtype == np.float32 and a.shape == (2, 3, 4), a.shape
assert np.array_equal(a.reshape(-1), (np.arange(24) / 3).astype(np.float32))
b = np.load(d + "/i4.npy"); assert b.dtype == np.int32 and b.tolist() == [-100, 5, 7]
c = np.load(d + "/b1.npy"); assert c.dtype == np.bool_ and c.tolist() == [True, False, True]
e = np.load(d + "/f2.npy"); assert e.dtype == np.float16 and e.tolist() == [0.5, -1.25]
np.save(d + "/from_numpy.npy", np.arange(6, dtype=np.float32).reshape(3, 2) * 1.5)
np.save(d + "/from_numpy_i8.npy", np.array([[1, -2]], dtype=np.int64))
`;
    const run = spawnSync(python, ["-c", script, dir], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const fromNumpy = await readNpyFile(join(dir, "from_numpy.npy"));
    assert.deepEqual(fromNumpy.shape, [3, 2]);
    assert.deepEqual(Array.from(fromNumpy.data as Float32Array), [0, 1.5, 3, 4.5, 6, 7.5]);
    const i8 = readNpy(readFileSync(join(dir, "from_numpy_i8.npy")));
    assert.deepEqual(i8.shape, [1, 2]);
    assert.deepEqual(Array.from(i8.data as BigInt64Array), [1n, -2n]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
