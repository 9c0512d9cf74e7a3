/**
 * One row of logits, as models hand it to generation: the scores of every vocabulary entry for the next
 * token. fp32 models give a Float32Array; fp16 models give the raw fp16 bits as a Uint16Array.
 */
import { EngineError } from "../engine/errors";
import { halfBitsToFloat32 } from "./fp16";

/** Next-token scores: float32 values, or fp16 bit patterns in a Uint16Array. */
export type LogitsRow = Float32Array | Uint16Array;

/**
 * A float32 working copy of a logits row that logits processors may change in place, after checking it
 * is usable: non-empty and free of NaN (which an fp16 overflow produces and which would make both
 * argmax and sampling meaningless).
 *
 * @throws {EngineError} `invalid_logits`.
 */
export function toWorkingLogits(row: LogitsRow, step: number): Float32Array {
  if (!(row instanceof Float32Array) && !(row instanceof Uint16Array)) {
    throw new EngineError("invalid_logits", `The model returned logits of an unsupported kind at step ${step} (a Float32Array or fp16 bits in a Uint16Array are expected).`);
  }
  if (row.length === 0) {
    throw new EngineError("invalid_logits", `The model returned an empty logits row at step ${step}.`);
  }
  const working = row instanceof Uint16Array ? halfBitsToFloat32(row) : row.slice();
  const nan = firstNaN(working);
  if (nan !== -1) {
    throw new EngineError(
      "invalid_logits",
      `The model returned NaN logits at step ${step} (first at token id ${nan}); an fp16 model overflowing is the usual cause.`,
    );
  }
  return working;
}

function firstNaN(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== values[i]) {
      return i;
    }
  }
  return -1;
}
