"""The fused-operator decoder (`--decoder-ops fused`, molmo_onnx/fused_decoder.py).

Parity is measured with onnxruntime-node's CPU provider (ort_node.py) against the project's PyTorch
model on a small Qwen2-style config with head_dim 16 (onnxruntime's CPU GroupQueryAttention kernel
requires a multiple of 16, so the committed tiny fixture's head_dim 4 cannot run it): a prefill with
logits for every position, then decode steps that feed the previous run's present tensors back.
Measured: float32 logits within ~2e-6 and the present cache within ~1e-6 of PyTorch; the tolerance
is 1e-4. float16 graphs are compared with the float32 model at 3e-2 (a float16 step near the logits'
magnitude of ~4 is 0.004; PyTorch's own float16 run differs from its float32 one by ~2e-2).
"""

import contextlib
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
import torch

import ort_node
from support import olmo_config, random_model, small_config
from molmo_onnx.export import ExportOptions, export_bundle, main
from molmo_onnx.export_errors import ExportError
from molmo_onnx.fused_decoder import build_fused_decoder, check_supported, op_counts, rope_tables
from molmo_onnx.model import rope_cos_sin
from molmo_onnx.onnx_graphs import DECODER, graph_specs
from molmo_onnx.tiny_random import random_weights, write_checkpoint

SKIP = ort_node.available()


def gqa_config(**overrides):
    """small_config with head_dim 16 (d_model 64, 4 query / 2 KV heads), which onnxruntime's CPU GQA runs."""
    return small_config(hidden_size=64, **overrides)


def decoder_feeds(embeds: np.ndarray, total: int, positions, keep: int, past):
    feeds = {"inputs_embeds": embeds, "attention_mask": np.ones((1, total), np.int64),
             "position_ids": np.array([positions], np.int64), "num_logits_to_keep": np.array(keep, np.int64)}
    feeds.update(past)
    return feeds


@unittest.skipIf(SKIP, SKIP or "")
class FusedDecoderParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="molmo-fused-test-"))
        cls.config = gqa_config()
        cls.model = random_model(cls.config, seed=5)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def reference(self, model, length=9, steps=3):
        """PyTorch: prefill logits for all positions, then `steps` single-token decode steps."""
        g = torch.Generator().manual_seed(11)
        d = self.config.hidden_size
        prompt = torch.randn(1, length, d, generator=g)
        news = [torch.randn(1, 1, d, generator=g) for _ in range(steps)]
        with torch.no_grad():
            logits, cache = model.decode(prompt, torch.ones(1, length, dtype=torch.long), torch.arange(length)[None],
                                         model.empty_kv_cache(1))
            outs = [(logits, cache)]
            for i, new in enumerate(news):
                logits, cache = model.decode(new, torch.ones(1, length + i + 1, dtype=torch.long),
                                             torch.tensor([[length + i]]), cache)
                outs.append((logits, cache))
        return prompt, news, outs

    def run_fused(self, path: Path, prompt, news, dtype, keep_prefill=0):
        layers, length = self.config.num_hidden_layers, prompt.shape[1]
        np_dtype = np.float16 if dtype == torch.float16 else np.float32
        empty = np.zeros((1, self.config.n_kv_heads, 0, self.config.head_dim), np_dtype)
        past = {f"past_key_values.{i}.{kind}": empty for i in range(layers) for kind in ("key", "value")}
        presents = [f"present.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
        runs = [ort_node.Run(path, decoder_feeds(prompt.numpy().astype(np_dtype), length, list(range(length)),
                                                 keep_prefill, past), ["logits", *presents])]
        for i, new in enumerate(news):
            fed = {f"past_key_values.{n[len('present.'):]}": (len(runs) - 1, n) for n in presents}
            runs.append(ort_node.Run(path, decoder_feeds(new.numpy().astype(np_dtype), length + i + 1, [length + i], 1, fed),
                                     ["logits", *presents]))
        return ort_node.run_graphs(runs)

    def test_float32_logits_and_cache_match_pytorch(self):
        path = self.tmp / "fused-fp32.onnx"
        spec = graph_specs(self.config, "float32")[DECODER]
        build_fused_decoder(self.model, spec, path, 17)
        prompt, news, outs = self.reference(self.model)
        results = self.run_fused(path, prompt, news, torch.float32)
        for step, (result, (logits, cache)) in enumerate(zip(results, outs)):
            expected = logits if step == 0 else logits[:, -1:]
            self.assertEqual(result["logits"].shape, tuple(expected.shape))
            self.assertLess(np.abs(result["logits"] - expected.numpy()).max(), 1e-4, f"logits of run {step}")
            for i in range(self.config.num_hidden_layers):
                for j, kind in enumerate(("key", "value")):
                    got, want = result[f"present.{i}.{kind}"], cache[2 * i + j].numpy()
                    self.assertEqual(got.shape, want.shape)
                    self.assertLess(np.abs(got - want).max(), 1e-4, f"present.{i}.{kind} of run {step}")

    def test_num_logits_to_keep_cuts_the_last_positions(self):
        path = self.tmp / "fused-keep.onnx"
        build_fused_decoder(self.model, graph_specs(self.config, "float32")[DECODER], path, 17)
        prompt, _, outs = self.reference(self.model, steps=0)
        for k, rows in ((1, 1), (3, 3), (40, 9)):
            result = self.run_fused(path, prompt, [], torch.float32, keep_prefill=k)[0]["logits"]
            self.assertEqual(result.shape, (1, rows, self.config.n_embeddings))
            self.assertLess(np.abs(result - outs[0][0][:, -rows:].numpy()).max(), 1e-4)

    def test_float16_graph_is_close_to_the_float32_model(self):
        path = self.tmp / "fused-fp16.onnx"
        half = random_model(self.config, seed=5).half()
        build_fused_decoder(half, graph_specs(self.config, "float16")[DECODER], path, 17)
        self.assertEqual(onnx.load(str(path)).graph.input[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT16)
        prompt, news, outs = self.reference(self.model)
        results = self.run_fused(path, prompt, news, torch.float16)
        for step, (result, (logits, _)) in enumerate(zip(results, outs)):
            expected = (logits if step == 0 else logits[:, -1:]).numpy()
            self.assertEqual(result["logits"].dtype, np.float32)
            self.assertLess(np.abs(result["logits"] - expected).max(), 3e-2, f"logits of run {step}")
            self.assertEqual(result["present.0.key"].dtype, np.float16)


class FusedDecoderGraph(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="molmo-fused-graph-"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_uses_the_fused_operators_and_no_softmax(self):
        config = gqa_config(num_hidden_layers=3)
        path = self.tmp / "ops.onnx"
        build_fused_decoder(random_model(config), graph_specs(config, "float32")[DECODER], path, 17)
        ops = op_counts(path)
        self.assertEqual(ops["com.microsoft.GroupQueryAttention"], 3)
        # One SimplifiedLayerNormalization (the first norm); every later norm adds the residual too.
        self.assertEqual(ops["SimplifiedLayerNormalization"], 1)
        self.assertEqual(ops["com.microsoft.SkipSimplifiedLayerNormalization"], 2 * 3)
        self.assertEqual(ops["MatMul"], 4 * 3 + 1)
        for absent in ("Softmax", "Concat", "Expand", "Transpose", "Pow", "ReduceMean"):
            self.assertNotIn(absent, ops)
        attrs = {a.name: helper_value(a) for n in onnx.load(str(path)).graph.node if n.op_type == "GroupQueryAttention"
                 for a in n.attribute}
        self.assertEqual((attrs["num_heads"], attrs["kv_num_heads"], attrs["do_rotary"], attrs["rotary_interleaved"]),
                         (4, 2, 1, 0))

    def test_rope_tables_match_the_model(self):
        config = gqa_config()
        cos, sin = rope_tables(config)
        self.assertEqual(cos.shape, (config.max_position_embeddings, config.head_dim // 2))
        positions = torch.tensor([[0, 1, 777, config.max_position_embeddings - 1]])
        ref_cos, ref_sin = rope_cos_sin(positions, config.head_dim, config.rope_theta)
        half = config.head_dim // 2
        np.testing.assert_array_equal(cos[positions[0]], ref_cos[0, 0, :, :half].numpy())
        np.testing.assert_array_equal(sin[positions[0]], ref_sin[0, 0, :, :half].numpy())

    def test_large_weights_go_to_one_external_file(self):
        config = gqa_config()
        path = self.tmp / "external.onnx"
        data = build_fused_decoder(random_model(config), graph_specs(config, "float32")[DECODER], path, 17,
                                   external="always")
        self.assertEqual(data, self.tmp / "external.onnx_data")
        model = onnx.load(str(path), load_external_data=False)
        locations = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
        self.assertEqual(locations, {"external.onnx_data"})
        offsets = [int(e.value) for t in model.graph.initializer for e in t.external_data if e.key == "offset"]
        self.assertTrue(all(o % 4096 == 0 for o in offsets))

    def test_partial_graph_has_only_its_layers_cache(self):
        config = gqa_config()
        path = self.tmp / "head-only.onnx"
        build_fused_decoder(random_model(config), graph_specs(config, "float32")[DECODER], path, 17, num_layers=0)
        graph = onnx.load(str(path)).graph
        self.assertEqual([i.name for i in graph.input], ["inputs_embeds", "attention_mask", "position_ids", "num_logits_to_keep"])
        self.assertEqual([o.name for o in graph.output], ["logits"])

    def test_refuses_the_olmo_flavour(self):
        with self.assertRaises(ExportError) as caught:
            check_supported(olmo_config())
        self.assertEqual(caught.exception.code, "unsupported_model")
        self.assertIn("--decoder-ops plain", str(caught.exception))


def helper_value(attribute):
    return onnx.helper.get_attribute_value(attribute)


@unittest.skipIf(SKIP, SKIP or "")
class FusedBundleExport(unittest.TestCase):
    """export_bundle / the CLI with --decoder-ops fused: manifest, checks, and the other graphs unchanged."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="molmo-fused-bundle-"))
        config = gqa_config()
        # No tokenizer: its special ids (152064...) do not fit this small vocabulary; the export warns and goes on.
        cls.checkpoint = write_checkpoint(cls.tmp / "checkpoint", config, random_weights(config, seed=2))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def export(self, name, *args):
        with contextlib.redirect_stderr(io.StringIO()):
            code = main([str(self.checkpoint), str(self.tmp / name), *args])
        self.assertEqual(code, 0)
        return self.tmp / name

    def test_cli_writes_a_fused_bundle_with_the_plain_contract(self):
        fused = self.export("fused", "--decoder-ops", "fused")
        plain = self.export("plain")
        manifests = [json.loads((b / "config.json").read_text())["molmo_onnx"] for b in (fused, plain)]
        self.assertEqual(manifests[0]["decoder"]["ops"], "fused")
        self.assertEqual(manifests[0]["decoder"]["positions"], "attention_mask")
        self.assertEqual(manifests[1]["decoder"]["ops"], "plain")
        self.assertEqual(manifests[0]["graphs"]["decoder_model_merged"]["inputs"],
                         manifests[1]["graphs"]["decoder_model_merged"]["inputs"])
        self.assertEqual(manifests[0]["kv_cache"], manifests[1]["kv_cache"])
        self.assertIn("com.microsoft.GroupQueryAttention", op_counts(fused / "onnx" / "decoder_model_merged.onnx"))
        self.assertNotIn("com.microsoft.GroupQueryAttention", op_counts(plain / "onnx" / "decoder_model_merged.onnx"))
        # The two decoders give the same logits through onnxruntime.
        length = 6
        empty = np.zeros((1, 2, 0, 16), np.float32)
        feeds = decoder_feeds(np.random.default_rng(0).standard_normal((1, length, 64)).astype(np.float32), length,
                              list(range(length)), 0, {f"past_key_values.{i}.{k}": empty for i in range(2) for k in ("key", "value")})
        out = ort_node.run_graphs([ort_node.Run(b / "onnx" / "decoder_model_merged.onnx", feeds, ["logits"]) for b in (fused, plain)])
        self.assertLess(np.abs(out[0]["logits"] - out[1]["logits"]).max(), 1e-4)

    def test_q4_quantises_the_fused_matmuls(self):
        bundle = self.export("fused-q4", "--decoder-ops", "fused", "--dtype", "q4")
        ops = op_counts(bundle / "onnx" / "decoder_model_merged.onnx")
        self.assertEqual(ops.get("com.microsoft.MatMulNBits"), 4 * 2 + 1)
        self.assertEqual(ops["com.microsoft.GroupQueryAttention"], 2)

    def test_rejects_unknown_decoder_ops_and_olmo(self):
        with self.assertRaises(ExportError) as caught:
            export_bundle(self.checkpoint, self.tmp / "bad", ExportOptions(decoder_ops="turbo"))
        self.assertEqual(caught.exception.code, "bad_option")
        olmo = write_checkpoint(self.tmp / "olmo", olmo_config(), random_weights(olmo_config(), seed=1))
        with self.assertRaises(ExportError) as caught:
            export_bundle(olmo, self.tmp / "olmo-bundle", ExportOptions(decoder_ops="fused"))
        self.assertEqual(caught.exception.code, "unsupported_model")
        self.assertFalse((self.tmp / "olmo-bundle").exists())


if __name__ == "__main__":
    unittest.main()
