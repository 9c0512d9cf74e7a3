/**
 * IEEE 754 half precision (fp16) to single precision. An fp16 model returns its logits as float16, which
 * onnxruntime-node hands over as a Uint16Array of raw bits (Node 20 has no Float16Array).
 */

let table: Float32Array | undefined;

/** The float32 value of every fp16 bit pattern, computed once (256 KiB) so a 152k-token row converts in ~0.2 ms. */
function halfTable(): Float32Array {
  if (table === undefined) {
    table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) {
      table[bits] = decodeHalf(bits);
    }
  }
  return table;
}

/** One fp16 bit pattern as a number: sign, 5-bit exponent (bias 15), 10-bit fraction. */
export function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) {
    // Zero and subnormals: no implicit leading 1, exponent fixed at -14.
    return sign * fraction * 2 ** -24;
  }
  if (exponent === 0x1f) {
    return fraction === 0 ? sign * Infinity : NaN;
  }
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Converts fp16 bits to a new Float32Array (exact: every fp16 value is representable in float32). */
export function halfBitsToFloat32(bits: Uint16Array): Float32Array {
  const lookup = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    out[i] = lookup[bits[i]]!;
  }
  return out;
}

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/**
 * The fp16 bit pattern nearest to `value` (round to nearest, ties to even, as hardware converts): what an
 * fp16 model's float inputs (inputs_embeds, image features) must be turned into. Values beyond the fp16
 * range become ±Infinity; NaN stays NaN.
 */
export function float32ToHalfBits(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) {
    return sign | 0x7c00;
  }
  if (halfExponent <= 0) {
    // Subnormal (or zero) in fp16: shift the full 24-bit significand down to units of 2^-24.
    if (halfExponent < -10) {
      return sign;
    }
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundShifted(mantissa, shift);
  }
  // A carry out of the 10 fraction bits correctly bumps the exponent (up to Infinity at the top).
  return sign | (((halfExponent << 10) | (mantissa >>> 13)) + roundingCarry(mantissa & 0x1fff, 13, mantissa >>> 13));
}

/** Converts float32 values to fp16 bits in a new Uint16Array. */
export function float32ToHalfBitsArray(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = float32ToHalfBits(values[i]);
  }
  return out;
}

function roundShifted(significand: number, shift: number): number {
  const kept = significand >>> shift;
  return kept + roundingCarry(significand & ((1 << shift) - 1), shift, kept);
}

/** 1 when the dropped bits round the kept value up: above half, or exactly half with an odd kept value. */
function roundingCarry(dropped: number, droppedBits: number, kept: number): number {
  const half = 1 << (droppedBits - 1);
  return dropped > half || (dropped === half && (kept & 1) === 1) ? 1 : 0;
}
