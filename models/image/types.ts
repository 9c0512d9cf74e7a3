/** An 8-bit RGB image in row-major HWC order (3 bytes per pixel, no alpha). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes, row by row, R G B per pixel. */
  readonly data: Uint8Array;
}
