import { UNIT_FLOAT } from "./resample";

const f32 = Math.fround;

/**
 * Where a block of RGB pixels is written: pixel (y, x) channel c goes to
 * `data[offset + y * rowValues + x * 3 + c]`. Lets resized content land directly inside a padded canvas.
 */
export interface PixelTarget {
  readonly data: Float32Array;
  readonly offset: number;
  /** Values per row of `data` (3 * the width of the array the block is placed in). */
  readonly rowValues: number;
}

/**
 * CLIP-style normalisation, v -> (v - mean[c]) / std[c], with each step rounded to float32 exactly as
 * the reference's in-place numpy float32 operations (`image -= mean; image /= std`) round it.
 */
export class Normaliser {
  private readonly mean: Float32Array;
  private readonly std: Float32Array;
  /**
   * Normalised value of every byte per channel (index = byte), the byte read as float32(byte / 255):
   * normalising 8-bit pixels is then one lookup per value.
   */
  readonly byteTables: readonly [Float32Array, Float32Array, Float32Array];
  /** The normalised padding pixel (padding happens before normalisation in the reference). */
  readonly pad: Float32Array;

  constructor(mean: readonly number[], std: readonly number[], padValue: number) {
    this.mean = Float32Array.from(mean);
    this.std = Float32Array.from(std);
    const table = (c: number) => Float32Array.from(UNIT_FLOAT, (v) => this.value(v, c));
    this.byteTables = [table(0), table(1), table(2)];
    this.pad = Float32Array.from([0, 1, 2], (c) => this.value(f32(padValue), c));
  }

  /** Normalises one float32 value of channel `c`. */
  value(v: number, c: number): number {
    return f32(f32(v - this.mean[c]) / this.std[c]);
  }

  /** Writes the normalised values of a `width x height` block of float RGB pixels (HWC) to `target`. */
  floatsInto(pixels: Float32Array, width: number, height: number, target: PixelTarget): void {
    const [m0, m1, m2] = this.mean;
    const [s0, s1, s2] = this.std;
    const out = target.data;
    const rowValues = width * 3;
    for (let y = 0; y < height; y++) {
      let o = target.offset + y * target.rowValues;
      const end = (y + 1) * rowValues;
      for (let i = y * rowValues; i < end; i += 3) {
        out[o++] = f32(f32(pixels[i] - m0) / s0);
        out[o++] = f32(f32(pixels[i + 1] - m1) / s1);
        out[o++] = f32(f32(pixels[i + 2] - m2) / s2);
      }
    }
  }

  /** Writes the normalised values of a `width x height` block of RGB bytes (HWC) to `target`. */
  bytesInto(bytes: Uint8Array, width: number, height: number, target: PixelTarget): void {
    const [t0, t1, t2] = this.byteTables;
    const out = target.data;
    const rowValues = width * 3;
    for (let y = 0; y < height; y++) {
      let o = target.offset + y * target.rowValues;
      const end = (y + 1) * rowValues;
      for (let i = y * rowValues; i < end; i += 3) {
        out[o++] = t0[bytes[i]];
        out[o++] = t1[bytes[i + 1]];
        out[o++] = t2[bytes[i + 2]];
      }
    }
  }
}
