/**
 * The engine on a bundle whose decoder uses onnxruntime's fused operators (`molmo export --decoder-ops fused`:
 * GroupQueryAttention with its rotary embedding, SkipSimplifiedLayerNormalization), on the CPU provider:
 * prefill logits within 1e-3 of PyTorch and the same 32 greedy tokens, through the whole `ask` path with the
 * KV cache fed back each step.
 *
 * The bundle is exported at test time by tests/fixtures/tiny-molmo/make_fused_variant.py (~15 s; it needs
 * Debian's python3-torch, python3-onnx and python3-numpy, as `npm run test:python` does): the committed tiny
 * model's head_dim 4 is below the multiple of 16 that onnxruntime's CPU GroupQueryAttention kernel requires,
 * so the variant has d_model 64 and is too large to commit. Same image, task and prompt as the committed
 * fixture.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MolmoEngine, type PrefillLogits } from "../../models/engine/molmo-engine";
import { readNpyFile } from "../../models/io/npy";
import type { MolmoTask } from "../../models/prompt";
import { repoRoot } from "../helpers/repo-root";
import { tinyMolmoDir } from "../helpers/tiny-bundle";

interface VariantReference {
  seed: number;
  task: MolmoTask;
  sequence_length: number;
  positions: number[];
  tokens: number[];
  min_gap: number;
}

const TOLERANCE = 1e-3;
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const probe = spawnSync(python, ["-c", "import torch, onnx, numpy"], { encoding: "utf8" });
const skip = probe.status === 0 ? false : `${python} cannot import torch, onnx and numpy (install python3-torch python3-onnx python3-numpy)`;

let outDir: string;
let reference: VariantReference;
let engine: MolmoEngine;

before(async () => {
  if (skip !== false) return;
  outDir = mkdtempSync(join(tmpdir(), "molmo-fused-variant-"));
  const script = join(repoRoot(), "tests", "fixtures", "tiny-molmo", "make_fused_variant.py");
  const made = spawnSync(python, [script, outDir], { encoding: "utf8", cwd: repoRoot(), timeout: 180_000 });
  if (made.status !== 0) {
    throw new Error(`make_fused_variant.py failed (${made.error?.message ?? `exit ${String(made.status)}`}):\n${made.stderr}`);
  }
  reference = JSON.parse(readFileSync(join(outDir, "reference.json"), "utf8")) as VariantReference;
  engine = await MolmoEngine.load(join(outDir, "bundle"), { ep: "cpu" });
});

after(async () => {
  await engine?.dispose();
  if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
});

void test("the bundle's manifest says its decoder is fused and takes the plain decoder's inputs", { skip }, () => {
  const { decoder, graphs, kvCache } = engine.bundle.manifest;
  assert.deepEqual(decoder, { ops: "fused", positions: "attention_mask" });
  assert.deepEqual(
    graphs.decoder.inputs.map((t) => t.name).slice(0, 4),
    ["inputs_embeds", "attention_mask", "position_ids", "num_logits_to_keep"],
  );
  assert.equal(kvCache.inputs.length, 4);
});

void test("fused decoder on the CPU: prefill logits match PyTorch and greedy decoding gives its 32 tokens", { skip }, async (t) => {
  const expected = await readNpyFile(join(outDir, "reference_logits.npy"));
  const [rows, vocabulary] = expected.shape;
  assert.equal(rows, reference.positions.length);
  let prefill: PrefillLogits | undefined;
  const result = await engine.ask({
    image: join(tinyMolmoDir(), "image.png"),
    task: reference.task,
    maxNewTokens: reference.tokens.length,
    stopTokenIds: [],
    onPrefillLogits: (logits) => {
      prefill = logits;
    },
  });
  assert.equal(result.inputIds.length, reference.sequence_length);
  assert.ok(prefill !== undefined);
  assert.equal(prefill.numLogits, vocabulary);
  const actual = prefill.data as Float32Array;
  const want = expected.data as Float32Array;
  let maxAbsDiff = 0;
  reference.positions.forEach((position, row) => {
    for (let v = 0; v < vocabulary; v++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[position * vocabulary + v] - want[row * vocabulary + v]));
    }
  });
  t.diagnostic(`fused decoder: prefill logits max |diff| vs PyTorch ${maxAbsDiff.toExponential(2)} (seed ${reference.seed}, min greedy gap ${reference.min_gap.toFixed(3)})`);
  assert.ok(maxAbsDiff <= TOLERANCE, `max |diff| ${maxAbsDiff} exceeds ${TOLERANCE}`);
  assert.deepEqual(result.tokenIds, reference.tokens);
  assert.equal(result.ep, "cpu");
});
