/**
 * Where an aspect-preserving resize puts the image inside a canvas: the reference's `resize_and_pad`
 * arithmetic (allenai/molmo `olmo/data/model_preprocessor.py`), without the pixels.
 */
export interface Letterbox {
  readonly canvasHeight: number;
  readonly canvasWidth: number;
  /** Size of the resized image inside the canvas. */
  readonly contentHeight: number;
  readonly contentWidth: number;
  /** Padding above / left of the content; the rest of the padding goes below / right. */
  readonly top: number;
  readonly left: number;
}

const f32 = Math.fround;

/**
 * Computes the letterbox of a `height x width` image in a `canvasHeight x canvasWidth` canvas exactly as
 * the reference does: scale = min(canvasH / H, canvasW / W) in float32, content size = trunc(float32(H *
 * scale)) (float64 would give different sizes: 1920x1080 into 784x1008 is 567x1007 in float32, 567x1008 in
 * float64), padding split with the smaller half above/left.
 *
 * DELIBERATE DIFFERENCE: a side that truncates to 0 pixels (an image more than ~336 times longer than
 * wide) is given 1 pixel. The reference raises there (torchvision refuses an output size of 0), so there
 * is no reference output to match, and one pixel keeps such images usable.
 */
export function letterbox(height: number, width: number, canvasHeight: number, canvasWidth: number): Letterbox {
  const scaleY = f32(f32(canvasHeight) / f32(height));
  const scaleX = f32(f32(canvasWidth) / f32(width));
  const scale = Math.min(scaleX, scaleY);
  const contentHeight = Math.max(1, Math.trunc(f32(f32(height) * scale)));
  const contentWidth = Math.max(1, Math.trunc(f32(f32(width) * scale)));
  return {
    canvasHeight,
    canvasWidth,
    contentHeight,
    contentWidth,
    top: Math.floor((canvasHeight - contentHeight) / 2),
    left: Math.floor((canvasWidth - contentWidth) / 2),
  };
}
