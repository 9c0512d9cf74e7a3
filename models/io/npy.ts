/**
 * numpy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * a magic string, a version, a Python-dict header ("descr", "fortran_order", "shape") padded so the
 * data starts at a multiple of 64 bytes, then the raw array in C order. Written as version 1.0 (2.0 when
 * the header needs more than 65535 bytes), little-endian; read for versions 1.0 to 3.0, either byte order.
 */
import { readFile, writeFile } from "node:fs/promises";

/** Element types supported, by numpy `descr`. `<f2` holds raw IEEE half-precision bits in a Uint16Array. */
export type NpyDtype = "|b1" | "|u1" | "|i1" | "<u2" | "<i2" | "<f2" | "<u4" | "<i4" | "<f4" | "<f8" | "<i8" | "<u8";

/** Typed arrays that can hold .npy data. */
export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A decoded array. */
export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: NpyData;
}

/** Why a buffer is not a readable .npy file, or an array cannot be written. */
export type NpyErrorCode = "bad_magic" | "bad_header" | "unsupported_dtype" | "fortran_order" | "size_mismatch";

/** A typed failure of {@link readNpy} / {@link encodeNpy}. */
export class NpyError extends Error {
  override readonly name = "NpyError";

  constructor(
    readonly code: NpyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface DtypeInfo {
  readonly bytes: number;
  readonly make: (buffer: ArrayBuffer, length: number) => NpyData;
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  "|b1": { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  "|u1": { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  "|i1": { bytes: 1, make: (b, n) => new Int8Array(b, 0, n) },
  "<u2": { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  "<i2": { bytes: 2, make: (b, n) => new Int16Array(b, 0, n) },
  "<f2": { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  "<u4": { bytes: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  "<i4": { bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
  "<f4": { bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  "<f8": { bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
  "<i8": { bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  "<u8": { bytes: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** The dtype a typed array is written as when none is given. */
export function defaultDtype(data: NpyData): NpyDtype {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Int32Array) return "<i4";
  if (data instanceof Float64Array) return "<f8";
  if (data instanceof Uint8Array) return "|u1";
  if (data instanceof Int8Array) return "|i1";
  if (data instanceof Uint16Array) return "<u2";
  if (data instanceof Int16Array) return "<i2";
  if (data instanceof Uint32Array) return "<u4";
  if (data instanceof BigInt64Array) return "<i8";
  return "<u8";
}

/**
 * Encodes `data` with `shape` (C order) as a .npy file.
 *
 * @param dtype defaults from the array type (Float32Array -> `<f4`, Int32Array -> `<i4`, ...); pass `|b1`
 *   for a Uint8Array of 0/1 booleans or `<f2` for a Uint16Array of half-precision bits.
 * @throws NpyError when the shape does not match the element count or the dtype does not fit the array.
 */
export function encodeNpy(data: NpyData, shape: readonly number[], dtype: NpyDtype = defaultDtype(data)): Buffer {
  const info = DTYPES[dtype] as DtypeInfo | undefined;
  if (info === undefined) throw new NpyError("unsupported_dtype", `dtype ${String(dtype)} is not supported.`);
  if (data.BYTES_PER_ELEMENT !== info.bytes || defaultDtype(data).slice(1, 2) !== compatibleKind(dtype)) {
    throw new NpyError("unsupported_dtype", `a ${data.constructor.name} cannot be written as ${dtype}.`);
  }
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new NpyError("size_mismatch", `shape (${shape.join(", ")}) must hold non-negative integers.`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new NpyError("size_mismatch", `shape (${shape.join(", ")}) holds ${count} elements, the array has ${data.length}.`);
  }
  if (dtype === "|b1" && (data as Uint8Array).some((v) => v > 1)) {
    throw new NpyError("unsupported_dtype", "a |b1 array may only hold 0 and 1.");
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Version 1.0 stores the header length in 2 bytes, 2.0 in 4; the data starts 64-byte aligned.
  const version = dict.length + 1 + 10 > 0xffff ? 2 : 1;
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  Buffer.from(MAGIC).copy(header, 0);
  header[6] = version;
  header[7] = 0;
  if (version === 1) header.writeUInt16LE(total - prefix, 8);
  else header.writeUInt32LE(total - prefix, 8);
  header.write(dict, prefix, "latin1");
  header[total - 1] = 0x0a;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([header, littleEndian(body, info.bytes)]);
}

/** {@link encodeNpy} to a file. */
export async function writeNpy(path: string, data: NpyData, shape: readonly number[], dtype?: NpyDtype): Promise<void> {
  await writeFile(path, encodeNpy(data, shape, dtype));
}

/**
 * Decodes a .npy file. The data is copied into a fresh, aligned array (native byte order).
 * @throws NpyError for anything that is not a C-order array of a supported dtype.
 */
export function readNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyError("bad_magic", "not a .npy file (missing the \\x93NUMPY magic string).");
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new NpyError("bad_header", `unsupported .npy version ${major}.${bytes[7]}.`);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) throw new NpyError("bad_header", "truncated .npy header.");
  const headerLength = major === 1 ? view.readUInt16LE(8) : view.readUInt32LE(8);
  if (prefix + headerLength > bytes.length) throw new NpyError("bad_header", "truncated .npy header.");
  const dict = view.toString(major === 3 ? "utf8" : "latin1", prefix, prefix + headerLength);

  const descr = /'descr'\s*:\s*'([^']+)'/.exec(dict)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError("bad_header", `malformed .npy header: ${dict.trim()}`);
  }
  if (fortran === "True") throw new NpyError("fortran_order", "Fortran-ordered .npy arrays are not supported.");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      if (!/^\d+L?$/.test(s)) throw new NpyError("bad_header", `bad shape entry ${JSON.stringify(s)} in .npy header.`);
      return Number.parseInt(s, 10);
    });

  const { dtype, bigEndian } = normaliseDescr(descr);
  const info = DTYPES[dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  const start = prefix + headerLength;
  const byteLength = count * info.bytes;
  if (start + byteLength > bytes.length) {
    throw new NpyError("size_mismatch", `.npy data is truncated: expected ${byteLength} bytes, found ${bytes.length - start}.`);
  }
  const copy = new ArrayBuffer(byteLength);
  const target = new Uint8Array(copy);
  target.set(bytes.subarray(start, start + byteLength));
  if (bigEndian !== HOST_BIG_ENDIAN) swapInPlace(target, info.bytes);
  return { dtype, shape, data: info.make(copy, count) };
}

/** {@link readNpy} from a file. */
export async function readNpyFile(path: string): Promise<NpyArray> {
  return readNpy(await readFile(path));
}

/**
 * float32 -> IEEE half-precision bits (round to nearest even), for writing `<f2`.
 * Values beyond the half range become +-Infinity; NaN stays NaN.
 */
export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/** IEEE half-precision bits -> float32 values, for reading `<f2`. */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

const HOST_BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

function compatibleKind(dtype: NpyDtype): string {
  // Which default-dtype kind letter an array must have to be written as `dtype`.
  if (dtype === "|b1") return "u";
  if (dtype === "<f2") return "u";
  return dtype.slice(1, 2);
}

function normaliseDescr(descr: string): { dtype: NpyDtype; bigEndian: boolean } {
  const match = /^([<>|=])([biuf])(\d+)$/.exec(descr);
  if (match === null) throw new NpyError("unsupported_dtype", `.npy dtype ${descr} is not supported.`);
  const [, order, kind, size] = match;
  const bytes = Number(size);
  const prefix = bytes === 1 ? "|" : "<";
  const dtype = `${prefix}${kind}${size}` as NpyDtype;
  if (!(dtype in DTYPES) || (kind === "b" && bytes !== 1)) {
    throw new NpyError("unsupported_dtype", `.npy dtype ${descr} is not supported.`);
  }
  const bigEndian = order === ">" || (order === "=" && HOST_BIG_ENDIAN);
  return { dtype, bigEndian: bytes === 1 ? HOST_BIG_ENDIAN : bigEndian };
}

function swapInPlace(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** The array bytes in little-endian order (a copy only on a big-endian host). */
function littleEndian(body: Buffer, size: number): Buffer {
  if (!HOST_BIG_ENDIAN || size === 1) return body;
  const copy = Buffer.from(body);
  swapInPlace(copy, size);
  return copy;
}
