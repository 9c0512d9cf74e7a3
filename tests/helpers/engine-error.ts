import assert from "node:assert/strict";
import { EngineError } from "../../models/engine/errors";

/** A validator for assert.throws/rejects: the error is an EngineError with `code` (and a message matching `pattern`). */
export function assertEngineError(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) {
      assert.match(error.message, pattern);
    }
    return true;
  };
}
