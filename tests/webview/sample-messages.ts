/** Host messages and results shaped exactly as the extension sends them, for the webview tests. */
import type { MolmoAskResult, MolmoPoint, MolmoTaskName } from "../../server/protocol/molmo-protocol";

/** A point at percent coordinates of an image of the given size (pixels derived as the server does). */
export function samplePoint(index: number, xPercent: number, yPercent: number, label: string, size: { width: number; height: number }): MolmoPoint {
  return { index, x: (xPercent / 100) * size.width, y: (yPercent / 100) * size.height, xPercent, yPercent, label, alt: label };
}

/** A complete `molmo/ask` result carrying these points. */
export function sampleResult(
  text: string,
  points: MolmoPoint[],
  size: { width: number; height: number },
  task: MolmoTaskName = "point",
): MolmoAskResult {
  return {
    text,
    points,
    count: points.length,
    image: { width: size.width, height: size.height },
    task,
    prompt: "point_qa: Point to the buttons",
    stopReason: "stop_token",
    generatedTokens: 32,
    ep: "cpu",
    model: { name: "tiny-molmo", path: "/models/tiny-molmo", variant: "tiny-random", dtype: "fp32" },
    cache: "miss",
    timings: {
      queuedMs: 0,
      modelLoadMs: 0,
      imageLoadMs: 3,
      preprocessMs: 10,
      visionMs: 20,
      prefillMs: 30,
      decodeMs: 200,
      timeToFirstTokenMs: 60,
      decodeTokensPerSecond: 160,
      totalMs: 1234,
    },
  };
}
