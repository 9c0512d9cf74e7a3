/** How many high-resolution crops an image is cut into: `rows` along the height, `cols` along the width. */
export interface Tiling {
  readonly rows: number;
  readonly cols: number;
}

const f32 = Math.fround;

/**
 * Every (rows, cols) with rows * cols <= maxCrops, in the reference's order: fewer crops first, then
 * fewer rows. The order is the tie-breaker, because the reference takes the first minimum/maximum.
 */
export function tilingCandidates(maxCrops: number): Tiling[] {
  const candidates: Tiling[] = [];
  for (let rows = 1; rows <= maxCrops; rows++) {
    for (let cols = 1; rows * cols <= maxCrops; cols++) candidates.push({ rows, cols });
  }
  // Array.prototype.sort is stable, and the loops above produce (rows, cols) in increasing order, as
  // Python's stable sort sees them in the reference.
  return candidates.sort((a, b) => a.rows * a.cols - b.rows * b.cols || a.rows - b.rows);
}

/**
 * The reference's `select_tiling` (allenai/molmo `olmo/data/model_preprocessor.py`), in the same float32
 * arithmetic: for each candidate the scale that makes the image fit `rows*window x cols*window` is
 * `min(rows*window / h, cols*window / w)` computed in float32. If every candidate needs downscaling
 * (all scales < 1) the one needing the least wins (first maximum); otherwise the one needing the least
 * upscaling among those that need none (first minimum of the scales >= 1).
 *
 * `h` and `w` are the image size minus the total overlap margin, so they can be zero or negative for
 * tiny images: zero gives an infinite scale (as numpy's float32 division does) and negative sizes give
 * negative scales; both fall back to the smallest tilings exactly as in the reference.
 *
 * @param h image height minus the total margin in pixels.
 * @param w image width minus the total margin in pixels.
 * @param windowSize crop window in pixels (crop size minus the total margin).
 * @param maxCrops most crops allowed.
 */
export function selectTiling(h: number, w: number, windowSize: number, maxCrops: number): Tiling {
  const candidates = tilingCandidates(maxCrops);
  const height = f32(h);
  const width = f32(w);
  const scales = candidates.map(({ rows, cols }) =>
    Math.min(f32(f32(rows * windowSize) / height), f32(f32(cols * windowSize) / width)),
  );
  let best = 0;
  if (scales.every((s) => s < 1)) {
    // Forced to downscale: minimise the downscaling (first maximum).
    for (let i = 1; i < scales.length; i++) if (scales[i] > scales[best]) best = i;
  } else {
    // Least upscaling among the tilings that need no downscaling (first minimum); the reference
    // replaces the others with 1e10, which an infinite scale still exceeds.
    const masked = scales.map((s) => (s < 1 ? 1e10 : s));
    for (let i = 1; i < masked.length; i++) if (masked[i] < masked[best]) best = i;
  }
  return candidates[best];
}
