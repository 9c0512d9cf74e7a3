"""The exporter: bundle layout, graph contracts, manifest, external data, atomicity, errors, and
parity of the exported graphs (run with onnxruntime-node) against the PyTorch model.

The tiny random checkpoint (tiny_random.py: d_model 16, the full 152064 + 128 vocabulary) is
exported once per dtype in setUpClass; the parity tests skip when node or node_modules is missing.
Measured (onnxruntime-node 1.30, CPU EP; seeds 3 and 0): fp32 logits within 2e-6 of PyTorch (6e-6
on another input), image features within 3e-5 (values up to ~24-48). fp16 against PyTorch's own
float16 run: logits within 6e-3 (9e-3 on another seed; logits reach ~6, where one float16 step is
0.004), features within 0.07 (0.2 at values ~48, where a float16 step is 0.03). PyTorch float16 vs
float32 differs by as much (logits 1.7e-2), so the fp16 tolerances below are 2.5e-2 and 0.25.

The decoder's int64 scalar input num_logits_to_keep (0 = logits for every position, k = the last k)
is fed 0 where all prefill logits are compared and 1 for decode steps; the parity tests also run
the prefill with k = 1, 3 and more than the prompt's length against the matching PyTorch rows.
"""

import contextlib
import io
import json
import hashlib
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import support  # noqa: F401  (puts molmo_onnx on the path)
import numpy as np
import onnx
import torch

import ort_node
from molmo_onnx import add_image_features, load_pretrained
from molmo_onnx import export as export_module
from molmo_onnx import external_data, quantize
from molmo_onnx.errors import CheckpointError, ConfigError
from molmo_onnx.export import ExportOptions, export_bundle, main
from molmo_onnx.export import normalise_dtype as normalise
from molmo_onnx.export_errors import ExportError
from molmo_onnx.fp16_cpu import float16_cpu_kernels
from molmo_onnx.onnx_graphs import graph_specs
from molmo_onnx.tiny_random import random_weights, tiny_config, write_checkpoint

GRAPHS = ("vision_encoder", "embed_tokens", "decoder_model_merged")
SPECIAL = {"<|endoftext|>": 151643, "<im_start>": 152064, "<im_end>": 152065, "<im_patch>": 152066,
           "<im_col>": 152067, "<|image|>": 152068}


def write_tokenizer(folder: Path) -> Path:
    """A minimal tokenizer.json + tokenizer_config.json with Molmo-7B-D's special token ids."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = {"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
                 "added_tokens": [{"id": i, "content": c, "special": True} for c, i in SPECIAL.items()]}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    config = {"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


# Prefill runs of the parity tests besides k = 0: the last position, the last 3, more than the prompt.
KEEP_COUNTS = (1, 3, 40)


def keep(k: int) -> np.ndarray:
    """The decoder's num_logits_to_keep feed: an int64 scalar (0 = every position, k = the last k)."""
    return np.array(k, dtype=np.int64)


def manifest_of(bundle: Path) -> dict:
    return json.loads((bundle / "config.json").read_text(encoding="utf-8"))["molmo_onnx"]


def io_of(path: Path):
    """[(name, elem type name, dims)] of a saved graph's inputs and outputs."""
    graph = onnx.load(str(path), load_external_data=False).graph

    def describe(values):
        return [(v.name, onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type),
                 [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in values]
    return describe(graph.input), describe(graph.output)


def quiet_export(*args, **kwargs):
    with contextlib.redirect_stderr(io.StringIO()):
        return export_bundle(*args, **kwargs)


_SHARED = {}


def setUpModule():
    """One tiny checkpoint, exported as fp32 and fp16 (both with a tokenizer), shared by all tests."""
    tmp = Path(tempfile.mkdtemp(prefix="molmo-export-test-"))
    config = tiny_config()
    checkpoint = write_checkpoint(tmp / "checkpoint", config, random_weights(config, seed=3))
    write_tokenizer(checkpoint)
    _SHARED.update(tmp=tmp, checkpoint=checkpoint, fp32=quiet_export(checkpoint, tmp / "bundle-fp32"),
                   fp16=quiet_export(checkpoint, tmp / "bundle-fp16", ExportOptions(dtype="fp16")))


def tearDownModule():
    shutil.rmtree(_SHARED["tmp"], ignore_errors=True)


class ExportFixture(unittest.TestCase):
    """Gives each test the shared checkpoint and bundles, and a scratch folder of its own."""

    @classmethod
    def setUpClass(cls):
        cls.checkpoint, cls.fp32, cls.fp16 = _SHARED["checkpoint"], _SHARED["fp32"], _SHARED["fp16"]
        cls.tmp = Path(tempfile.mkdtemp(prefix=f"{cls.__name__}-", dir=_SHARED["tmp"]))


class Layout(ExportFixture):
    def test_bundle_files(self):
        for bundle in (self.fp32, self.fp16):
            files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
            self.assertEqual(files, ["config.json", "onnx/decoder_model_merged.onnx", "onnx/embed_tokens.onnx",
                                     "onnx/vision_encoder.onnx", "preprocessor_config.json", "tokenizer.json",
                                     "tokenizer_config.json"])
            self.assertEqual((bundle / "preprocessor_config.json").read_text(),
                             (self.checkpoint / "preprocessor_config.json").read_text())

    def test_graphs_pass_the_checker(self):
        for bundle in (self.fp32, self.fp16):
            for name in GRAPHS:
                onnx.checker.check_model(str(bundle / "onnx" / f"{name}.onnx"))

    def test_fp16_bundle_is_half_the_size(self):
        size = {b: sum(p.stat().st_size for p in (b / "onnx").iterdir()) for b in (self.fp32, self.fp16)}
        self.assertLess(size[self.fp16], 0.52 * size[self.fp32])


class GraphContracts(ExportFixture):
    def test_vision_encoder(self):
        for bundle, features in ((self.fp32, "FLOAT"), (self.fp16, "FLOAT16")):
            inputs, outputs = io_of(bundle / "onnx" / "vision_encoder.onnx")
            self.assertEqual(inputs, [("crops", "FLOAT", ["num_crops", 576, 588]),
                                      ("image_masks", "FLOAT", ["num_crops", 576])])
            self.assertEqual(outputs, [("image_features", features, ["num_crops", 144, 16])])

    def test_embed_tokens(self):
        for bundle, embeds in ((self.fp32, "FLOAT"), (self.fp16, "FLOAT16")):
            inputs, outputs = io_of(bundle / "onnx" / "embed_tokens.onnx")
            self.assertEqual(inputs, [("input_ids", "INT64", ["batch_size", "sequence_length"])])
            self.assertEqual(outputs, [("inputs_embeds", embeds, ["batch_size", "sequence_length", 16])])

    def test_decoder(self):
        for bundle, kind in ((self.fp32, "FLOAT"), (self.fp16, "FLOAT16")):
            inputs, outputs = io_of(bundle / "onnx" / "decoder_model_merged.onnx")
            past = [(f"past_key_values.{i}.{kv}", kind, ["batch_size", 2, "past_sequence_length", 4])
                    for i in range(2) for kv in ("key", "value")]
            present = [(f"present.{i}.{kv}", kind, ["batch_size", 2, "total_sequence_length", 4])
                       for i in range(2) for kv in ("key", "value")]
            self.assertEqual(inputs, [("inputs_embeds", kind, ["batch_size", "sequence_length", 16]),
                                      ("attention_mask", "INT64", ["batch_size", "total_sequence_length"]),
                                      ("position_ids", "INT64", ["batch_size", "sequence_length"]),
                                      ("num_logits_to_keep", "INT64", [])] + past)
            self.assertEqual(outputs, [("logits", "FLOAT", ["batch_size", "kept_sequence_length", 152064])] + present)

    def test_logits_are_cut_before_the_final_norm_and_lm_head(self):
        # The LM head (the last MatMul) must see the sliced hidden states, not slice its own output:
        # the point of num_logits_to_keep is to skip the [sequence, vocab] product.
        for bundle in (self.fp32, self.fp16):
            nodes = onnx.load(str(bundle / "onnx" / "decoder_model_merged.onnx"), load_external_data=False).graph.node
            producer = {out: node for node in nodes for out in node.output}
            cut = [n for n in nodes if n.op_type == "Slice" and n.input[1] in producer
                   and producer[n.input[1]].op_type == "Unsqueeze"
                   and producer[producer[n.input[1]].input[0]].input == ["num_logits_to_keep"]]
            self.assertEqual(len(cut), 1)
            lm_head = [n for n in nodes if n.op_type == "MatMul"][-1]
            position = {id(n): i for i, n in enumerate(nodes)}
            self.assertLess(position[id(cut[0])], position[id(lm_head)])
            self.assertFalse(any(n.op_type == "Slice" for n in nodes[position[id(lm_head)]:]))


class Manifest(ExportFixture):
    def test_config_keeps_the_checkpoint_config(self):
        bundle_config = json.loads((self.fp32 / "config.json").read_text())
        original = json.loads((self.checkpoint / "config.json").read_text())
        self.assertEqual({k: v for k, v in bundle_config.items() if k != "molmo_onnx"}, original)

    def test_dims_tokens_and_kv_cache(self):
        m = manifest_of(self.fp32)
        self.assertEqual(m["export_version"], 1)
        self.assertEqual(m["variant"], "molmo-qwen2")
        self.assertEqual(m["dtype"], "fp32")
        self.assertEqual({k: m["dims"][k] for k in ("d_model", "num_layers", "num_heads", "num_kv_heads", "head_dim",
                                                    "vocab_size", "embedding_size", "additional_vocab_size",
                                                    "num_logits", "num_input_ids")},
                         {"d_model": 16, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "head_dim": 4,
                          "vocab_size": 152064, "embedding_size": 152064, "additional_vocab_size": 128,
                          "num_logits": 152064, "num_input_ids": 152192})
        self.assertEqual(m["vision"]["crops_shape"], ["num_crops", 576, 588])
        self.assertEqual(m["vision"]["tokens_per_crop"], 144)
        self.assertEqual(m["vision"]["image_feature_dim"], 16)
        self.assertEqual(m["special_tokens"], {"im_start": 152064, "im_end": 152065, "im_patch": 152066,
                                               "im_col": 152067, "image": 152068, "bos": 151643, "eos": 151643,
                                               "pad": 151643})
        self.assertTrue(m["tokenizer"]["present"])
        kv = m["kv_cache"]
        self.assertEqual(kv["inputs"], ["past_key_values.0.key", "past_key_values.0.value",
                                        "past_key_values.1.key", "past_key_values.1.value"])
        self.assertEqual(kv["outputs"], ["present.0.key", "present.0.value", "present.1.key", "present.1.value"])
        self.assertEqual(kv["dtype"], "float32")
        decoder = m["graphs"]["decoder_model_merged"]
        self.assertIn({"name": "num_logits_to_keep", "dtype": "int64", "shape": []}, decoder["inputs"])
        self.assertEqual(decoder["outputs"][0], {"name": "logits", "dtype": "float32",
                                                 "shape": ["batch_size", "kept_sequence_length", 152064]})

    def test_graph_entries_match_the_files(self):
        for bundle in (self.fp32, self.fp16):
            m = manifest_of(bundle)
            for key in GRAPHS:
                entry = m["graphs"][key]
                self.assertEqual(entry["file"], f"onnx/{key}.onnx")
                self.assertIsNone(entry["external_data"])
                inputs, outputs = io_of(bundle / entry["file"])
                self.assertEqual([t["name"] for t in entry["inputs"]], [i[0] for i in inputs])
                self.assertEqual([t["shape"] for t in entry["outputs"]], [o[2] for o in outputs])
            for relative, info in m["files"].items():
                data = (bundle / relative).read_bytes()
                self.assertEqual(info, {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            self.assertEqual(len(m["files"]), 6)

    def test_fp16_precision_record(self):
        m = manifest_of(self.fp16)
        self.assertEqual(m["dtype"], "fp16")
        p = m["precision"]
        self.assertEqual((p["logits"], p["kv_cache"], p["image_features"], p["vision_inputs"], p["weights"]),
                         ("float32", "float16", "float16", "float32", "float16"))
        self.assertTrue(any("softmax" in region for region in p["float32_regions"]))
        dtypes = {t["name"]: t["dtype"] for t in m["graphs"]["decoder_model_merged"]["inputs"]}
        self.assertEqual((dtypes["inputs_embeds"], dtypes["past_key_values.0.key"], dtypes["attention_mask"],
                          dtypes["num_logits_to_keep"]), ("float16", "float16", "int64", "int64"))


class ExternalData(ExportFixture):
    def test_always_moves_weights_out_losslessly(self):
        bundle = quiet_export(self.checkpoint, self.tmp / "bundle-external",
                              ExportOptions(external_data="always", include_tokenizer_json=False))
        m = manifest_of(bundle)
        self.assertNotIn("tokenizer.json", [p.name for p in bundle.iterdir()])
        self.assertFalse(m["tokenizer"]["present"])
        self.assertEqual(m["special_tokens"]["im_patch"], 152066)  # still read from the tokenizer
        for key in GRAPHS:
            model_path = bundle / "onnx" / f"{key}.onnx"
            self.assertEqual(m["graphs"][key]["external_data"], f"onnx/{key}.onnx_data")
            self.assertIn(f"onnx/{key}.onnx_data", m["files"])
            onnx.checker.check_model(str(model_path))
            inline = {t.name: onnx.numpy_helper.to_array(t)
                      for t in onnx.load(str(self.fp32 / "onnx" / f"{key}.onnx")).graph.initializer}
            moved = onnx.load(str(model_path))  # loads the external data back
            self.assertEqual(sum(t.data_location == onnx.TensorProto.EXTERNAL
                                 for t in onnx.load(str(model_path), load_external_data=False).graph.initializer) > 0,
                             True)
            for t in moved.graph.initializer:
                np.testing.assert_array_equal(onnx.numpy_helper.to_array(t), inline[t.name])
            self.assertLess(model_path.stat().st_size, 300_000)  # the graph only; weights are in .onnx_data

    def test_scattered_tensor_files_are_gathered(self):
        # torch writes one file per tensor when a model exceeds 2 GB; simulate that layout cheaply.
        folder = self.tmp / "scattered"
        folder.mkdir()
        model = onnx.load(str(self.fp32 / "onnx" / "embed_tokens.onnx"))
        original = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        onnx.save_model(model, str(folder / "embed_tokens.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=False, size_threshold=1024)
        self.assertGreater(len(list(folder.iterdir())), 1)
        data = external_data.place_weights(folder / "embed_tokens.onnx", "auto")
        self.assertEqual(sorted(p.name for p in folder.iterdir()), ["embed_tokens.onnx", "embed_tokens.onnx_data"])
        self.assertEqual(data, folder / "embed_tokens.onnx_data")
        gathered = onnx.load(str(folder / "embed_tokens.onnx"))
        for t in gathered.graph.initializer:
            np.testing.assert_array_equal(onnx.numpy_helper.to_array(t), original[t.name])

    def test_never_refuses_weights_over_the_limit(self):
        path = self.tmp / "never.onnx"
        shutil.copyfile(self.fp32 / "onnx" / "embed_tokens.onnx", path)
        with mock.patch.object(external_data, "AUTO_THRESHOLD_BYTES", 1000):
            with self.assertRaises(ExportError) as caught:
                external_data.place_weights(path, "never")
            self.assertEqual(caught.exception.code, "weights_too_large")
            self.assertIsNotNone(external_data.place_weights(path, "auto"))  # auto goes external over the limit

    def test_lossless_float16_storage_halves_an_fp32_bundle(self):
        bundle = quiet_export(self.checkpoint, self.tmp / "bundle-w16", ExportOptions(weight_storage="fp16-lossless"))
        m = manifest_of(bundle)
        self.assertEqual(m["dtype"], "fp32")
        self.assertGreater(m["precision"]["weight_storage"]["tensors_converted"], 10)
        for key in GRAPHS:
            path = bundle / "onnx" / f"{key}.onnx"
            # The two vocabulary tables dominate; the ViT's many small tensors stay float32.
            ratio = 0.55 if key != "vision_encoder" else 0.8
            self.assertLess(path.stat().st_size, ratio * (self.fp32 / "onnx" / f"{key}.onnx").stat().st_size)
            self.assertEqual(io_of(path), io_of(self.fp32 / "onnx" / f"{key}.onnx"))


class Atomicity(ExportFixture):
    def leftovers(self, parent: Path, name: str):
        return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]

    def failing_export_graph(self):
        real = export_module.export_graph

        def export_graph(model, spec, path, opset):
            if spec.key == "decoder_model_merged":
                raise RuntimeError("simulated failure while exporting the decoder")
            return real(model, spec, path, opset)
        return mock.patch.object(export_module, "export_graph", export_graph)

    def test_failure_leaves_no_bundle(self):
        parent = self.tmp / "atomic"
        with self.failing_export_graph(), self.assertRaises(ExportError) as caught:
            quiet_export(self.checkpoint, parent / "bundle")
        self.assertEqual(caught.exception.code, "export_failed")
        self.assertIn("decoder_model_merged", str(caught.exception))
        self.assertFalse((parent / "bundle").exists())
        self.assertEqual(self.leftovers(parent, "bundle"), [])

    def test_failed_overwrite_keeps_the_previous_bundle(self):
        parent = self.tmp / "atomic-overwrite"
        bundle = quiet_export(self.checkpoint, parent / "bundle", ExportOptions(dtype="fp16"))
        before = (bundle / "config.json").read_text()
        with self.failing_export_graph(), self.assertRaises(ExportError):
            quiet_export(self.checkpoint, bundle, ExportOptions(overwrite=True))
        self.assertEqual((bundle / "config.json").read_text(), before)
        self.assertEqual(self.leftovers(parent, "bundle"), [])

    def test_existing_bundle_needs_overwrite(self):
        parent = self.tmp / "existing"
        bundle = quiet_export(self.checkpoint, parent / "bundle", ExportOptions(dtype="fp16"))
        with self.assertRaises(ExportError) as caught:
            quiet_export(self.checkpoint, bundle)
        self.assertEqual(caught.exception.code, "bundle_exists")
        quiet_export(self.checkpoint, bundle, ExportOptions(overwrite=True))
        self.assertEqual(manifest_of(bundle)["dtype"], "fp32")
        self.assertEqual(self.leftovers(parent, "bundle"), [])


class BadInputs(ExportFixture):
    def copy_checkpoint(self, name: str) -> Path:
        target = self.tmp / name
        shutil.copytree(self.checkpoint, target)
        return target

    def assert_fails(self, error_type, code, checkpoint, options=None):
        out = self.tmp / f"out-{code}"
        with self.assertRaises(error_type) as caught:
            quiet_export(checkpoint, out, options)
        self.assertEqual(caught.exception.code, code)
        self.assertFalse(out.exists())
        return caught.exception

    def test_missing_folder_config_and_weights(self):
        self.assert_fails(ExportError, "checkpoint_missing", self.tmp / "nowhere")
        no_config = self.copy_checkpoint("no-config")
        (no_config / "config.json").unlink()
        self.assert_fails(ConfigError, "config_missing", no_config)
        no_weights = self.copy_checkpoint("no-weights")
        (no_weights / "model.safetensors").unlink()
        self.assert_fails(CheckpointError, "weights_missing", no_weights)

    def test_molmoe_is_refused(self):
        moe = self.copy_checkpoint("molmoe")
        config = json.loads((moe / "config.json").read_text())
        config["model_type"] = "molmoe"
        (moe / "config.json").write_text(json.dumps(config))
        error = self.assert_fails(ConfigError, "unsupported_variant", moe)
        self.assertIn("MolmoE", str(error))

    def test_bad_options(self):
        error = self.assert_fails(ExportError, "unsupported_dtype", self.checkpoint, ExportOptions(dtype="bf16"))
        self.assertIn("fp32, fp16, q4 or q8", str(error))
        self.assert_fails(ExportError, "bad_option", self.checkpoint, ExportOptions(dtype="fp16",
                                                                                  weight_storage="fp16-lossless"))
        self.assert_fails(ExportError, "bad_option", self.checkpoint, ExportOptions(external_data="sometimes"))
        self.assert_fails(ExportError, "bad_option", self.checkpoint, ExportOptions(opset=9))
        self.assert_fails(ExportError, "tokenizer_missing", self.checkpoint,
                          ExportOptions(tokenizer=self.tmp / "no-tokenizer-here"))

    def test_bad_tokenizer_fails_before_the_export(self):
        broken = self.copy_checkpoint("bad-tokenizer")
        (broken / "tokenizer.json").write_text("{not json")
        with mock.patch.object(export_module, "load_pretrained", side_effect=AssertionError("loaded")):
            self.assert_fails(ExportError, "bad_input", broken)
        tokenizer = json.loads((self.checkpoint / "tokenizer.json").read_text())
        tokenizer["added_tokens"][1]["id"] = 10**6  # <im_start> beyond the embedding rows
        (broken / "tokenizer.json").write_text(json.dumps(tokenizer))
        self.assert_fails(ExportError, "config_mismatch", broken)

    def test_preprocessor_config_must_fit_the_vision_encoder(self):
        mismatch = self.copy_checkpoint("mismatch")
        pre = json.loads((mismatch / "preprocessor_config.json").read_text())
        pre["image_token_length_w"] = 14
        (mismatch / "preprocessor_config.json").write_text(json.dumps(pre))
        self.assert_fails(ExportError, "config_mismatch", mismatch)

    def test_missing_preprocessor_and_tokenizer_warn_and_use_defaults(self):
        bare = self.copy_checkpoint("bare")
        for name in ("preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"):
            (bare / name).unlink()
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(main([str(bare), str(self.tmp / "bare-bundle"), "--dtype", "fp16"]), 0)
        self.assertIn("no preprocessor_config.json", stderr.getvalue())
        self.assertIn("no tokenizer.json", stderr.getvalue())
        bundle = self.tmp / "bare-bundle"
        self.assertEqual(json.loads((bundle / "preprocessor_config.json").read_text())["max_crops"], 12)
        m = manifest_of(bundle)
        self.assertIsNone(m["special_tokens"])
        self.assertFalse(m["tokenizer"]["present"])

    def test_cli_reports_errors_on_stderr_and_progress_never_on_stdout(self):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            self.assertEqual(main([str(self.checkpoint), str(self.fp32)]), 1)
        self.assertIn("[bundle_exists]", stderr.getvalue())
        self.assertEqual(stdout.getvalue(), "")


class Quantization(ExportFixture):
    """Weight-only int4/int8 (MatMulNBits): the packing matches onnxruntime's kernel, and q4/q8 bundles run."""

    def single_matmul(self, k, n, bits, block_size):
        weight = np.random.default_rng(k + n + bits).standard_normal((k, n)).astype(np.float32)
        graph = onnx.helper.make_graph(
            [onnx.helper.make_node("MatMul", ["x", "W"], ["y"])], "matmul",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, k])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, n])],
            initializer=[onnx.numpy_helper.from_array(weight, "W")])
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
        self.assertEqual(quantize.quantize_matmuls(model, bits, block_size, accuracy_level=0), 1)
        onnx.checker.check_model(model)
        tensors = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        packed, scales, zero_points = (tensors[f"W::q{bits}.{part}"] for part in ("B", "scales", "zero_points"))
        dequantized = quantize.dequantize_blocks(packed, scales, zero_points, bits, k).T  # [K, N]
        # Round to nearest: every weight within half a step of its block's grid.
        steps = np.repeat(scales, block_size, axis=1)[:, :k].T
        self.assertTrue(np.all(np.abs(dequantized - weight) <= steps / 2 + 1e-6))
        return model, dequantized

    @unittest.skipIf(ort_node.available(), f"onnxruntime-node unavailable: {ort_node.available()}")
    def test_packing_matches_the_onnxruntime_kernel(self):
        # K = 80 with blocks of 32 pads the last block and gives an odd number of packed zero points.
        for bits in (4, 8):
            for k, n, block in ((80, 24, 32), (16, 40, 16), (64, 8, 64)):
                model, dequantized = self.single_matmul(k, n, bits, block)
                path = self.tmp / f"matmul_{bits}_{k}_{block}.onnx"
                onnx.save(model, str(path))
                x = np.random.default_rng(1).standard_normal((5, k)).astype(np.float32)
                y = ort_node.run_graphs([ort_node.Run(path, {"x": x}, ["y"])])[0]["y"]
                np.testing.assert_allclose(y, x @ dequantized, rtol=0, atol=1e-4)

    def test_bad_quantisation_options(self):
        with self.assertRaises(ExportError) as caught:
            quiet_export(self.checkpoint, self.tmp / "bad-block", ExportOptions(dtype="q4", block_size=24))
        self.assertEqual(caught.exception.code, "bad_option")
        self.assertEqual(normalise("int4"), "q4")

    @unittest.skipIf(ort_node.available(), f"onnxruntime-node unavailable: {ort_node.available()}")
    def test_q4_and_q8_bundles(self):
        model = load_pretrained(self.checkpoint, torch.float32)
        g = torch.Generator().manual_seed(5)
        embeds = torch.randn(1, 24, 16, generator=g)
        with torch.no_grad():
            expected, _ = model.decode(embeds, torch.ones(1, 24, dtype=torch.long), torch.arange(24)[None],
                                       model.empty_kv_cache(1))
        expected = expected[0].numpy()
        # Measured on this model (d_model 16, so every LM-head column is one block of 16):
        # q8 mean |dlogit| 0.008 (max 0.07), q4 0.095 (max 1.1), logits up to ~5.4; accuracy_level 4
        # also rounds the activations to int8 per block.
        for dtype, mean_tol, agree in (("q8", 0.03, 0.9), ("q4", 0.3, 0.6)):
            options = ExportOptions(dtype=dtype, block_size=16, external_data="always" if dtype == "q8" else "auto")
            bundle = quiet_export(self.checkpoint, self.tmp / f"bundle-{dtype}", options)
            m = manifest_of(bundle)
            self.assertEqual(m["dtype"], dtype)
            q = m["precision"]["quantization"]
            self.assertEqual((q["bits"], q["block_size"], q["matmuls_quantized"]), (int(dtype[1]), 16, 9))
            decoder = bundle / "onnx" / "decoder_model_merged.onnx"
            ops = [n.op_type for n in onnx.load(str(decoder), load_external_data=False).graph.node]
            self.assertEqual((ops.count("MatMulNBits"), ops.count("MatMul")), (9, 4))  # 4 = attention products
            self.assertEqual(io_of(decoder), io_of(self.fp32 / "onnx" / "decoder_model_merged.onnx"))
            self.assertEqual(sorted(p.name for p in (bundle / "onnx").iterdir()) == sorted(
                p.name for p in (self.fp32 / "onnx").iterdir()), dtype == "q4")
            kv = m["kv_cache"]
            feeds = {"inputs_embeds": embeds.numpy(), "attention_mask": np.ones((1, 24), np.int64),
                     "position_ids": np.arange(24)[None],
                     **{n: np.zeros((1, 2, 0, 4), np.float32) for n in kv["inputs"]}}
            out = ort_node.run_graphs([ort_node.Run(decoder, {**feeds, "num_logits_to_keep": keep(k)}, ["logits"])
                                       for k in (0, 1)])
            logits = out[0]["logits"][0]
            # The last position alone, through the same quantised LM head: the same row.
            self.assertEqual(out[1]["logits"].shape, (1, 1, 152064))
            np.testing.assert_allclose(out[1]["logits"][0, 0], logits[-1], rtol=0, atol=1e-5)
            self.assertLess(float(np.abs(logits - expected).mean()), mean_tol, dtype)
            self.assertGreaterEqual(float((logits.argmax(-1) == expected.argmax(-1)).mean()), agree, dtype)


class CommittedFixture(unittest.TestCase):
    """tests/fixtures/tiny-molmo: the bundle is intact and matches what the exporter writes today."""

    FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "tiny-molmo"

    def test_bundle_files_match_their_manifest(self):
        bundle = self.FIXTURE / "bundle"
        m = manifest_of(bundle)
        for relative, info in m["files"].items():
            data = (bundle / relative).read_bytes()
            self.assertEqual(info, {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}, relative)
        specs = graph_specs(tiny_config(), "float32")
        for key, spec in specs.items():
            path = bundle / m["graphs"][key]["file"]
            onnx.checker.check_model(str(path))
            export_module.check_graph(path, spec)
        self.assertFalse(m["tokenizer"]["present"])
        self.assertEqual(m["special_tokens"]["im_patch"], 152066)

    def test_reference_is_usable(self):
        reference = json.loads((self.FIXTURE / "reference.json").read_text(encoding="utf-8"))
        greedy = reference["greedy"]
        self.assertEqual(len(greedy["tokens"]), 32)
        self.assertGreaterEqual(greedy["min_gap"], 0.02)
        self.assertGreaterEqual(len(set(greedy["tokens"])), 12)
        self.assertEqual([s["top_ids"][0] for s in greedy["steps"]], greedy["tokens"])
        logits = np.load(self.FIXTURE / "reference_logits.npy")
        self.assertEqual(logits.shape, (3, 152064))
        self.assertEqual(int(logits[-1].argmax()), greedy["tokens"][0])
        ids = np.load(self.FIXTURE / "input_ids.npy")
        self.assertEqual(ids.shape, (1, reference["inputs"]["sequence_length"]))
        self.assertTrue(reference["parity"]["greedy_tokens_equal"])
        total = sum(p.stat().st_size for p in self.FIXTURE.rglob("*") if p.is_file())
        self.assertLess(total, 12.5e6)


@unittest.skipIf(ort_node.available(), f"onnxruntime-node unavailable: {ort_node.available()}")
class Parity(ExportFixture):
    """The exported graphs, run by onnxruntime-node, against the PyTorch model they came from."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        g = torch.Generator().manual_seed(7)
        cls.crops = torch.randn(3, 576, 588, generator=g)
        masks = torch.ones(3, 576)
        masks[0, :100] = 0.0
        masks[0, 100:130] = 0.4
        masks[2] = -1.0
        cls.masks = masks
        cls.ids = torch.randint(0, 152192, (1, 30), generator=g)
        cls.idx = torch.full((3, 144), -100, dtype=torch.long)
        cls.idx[0, 10:20] = torch.arange(3, 13)
        cls.idx[1, 50:55] = torch.arange(15, 20)

    def torch_reference(self, dtype):
        model = load_pretrained(self.checkpoint, dtype)
        with torch.no_grad(), float16_cpu_kernels():
            features = model.encode_images(self.crops.to(dtype), self.masks.to(dtype))
            embeds = add_image_features(model.embed_tokens(self.ids), features[None], self.idx[None])
            length = self.ids.shape[1]
            prefill, cache = model.decode(embeds, torch.ones(1, length, dtype=torch.long),
                                          torch.arange(length)[None], model.empty_kv_cache(1))
            tokens = [int(prefill[0, -1].argmax())]
            steps = []
            for step in range(2):
                logits, cache = model.decode(model.embed_tokens(torch.tensor([[tokens[-1]]])),
                                             torch.ones(1, length + step + 1, dtype=torch.long),
                                             torch.tensor([[length + step]]), cache)
                steps.append(logits[0, -1])
                tokens.append(int(logits[0, -1].argmax()))
        return model, features, embeds, prefill[0], torch.stack(steps), tokens

    def onnx_run(self, bundle: Path, embeds: np.ndarray, tokens, np_dtype):
        """Vision (3 crops and 1), embeddings, prefill (P = 0) and 2 decode steps fed by present.*."""
        graphs = {k: bundle / "onnx" / f"{k}.onnx" for k in GRAPHS}
        length = self.ids.shape[1]
        kv = manifest_of(bundle)["kv_cache"]
        empty = np.zeros((1, 2, 0, 4), np_dtype)
        runs = [
            ort_node.Run(graphs["vision_encoder"], {"crops": self.crops.numpy(), "image_masks": self.masks.numpy()},
                         ["image_features"]),
            ort_node.Run(graphs["vision_encoder"], {"crops": self.crops[1:2].numpy(),
                                                    "image_masks": self.masks[1:2].numpy()}, ["image_features"]),
            ort_node.Run(graphs["embed_tokens"], {"input_ids": self.ids.numpy()}, ["inputs_embeds"]),
            ort_node.Run(graphs["decoder_model_merged"],
                         {"inputs_embeds": embeds, "attention_mask": np.ones((1, length), np.int64),
                          "position_ids": np.arange(length, dtype=np.int64)[None], "num_logits_to_keep": keep(0),
                          **{n: empty for n in kv["inputs"]}},
                         ["logits", "present.1.value"]),
        ]
        decoder = 3
        for step in range(2):
            runs.append(ort_node.Run(graphs["embed_tokens"], {"input_ids": np.array([[tokens[step]]])}, []))
            runs.append(ort_node.Run(graphs["decoder_model_merged"],
                                     {"inputs_embeds": (len(runs) - 1, "inputs_embeds"),
                                      "attention_mask": np.ones((1, length + step + 1), np.int64),
                                      "position_ids": np.array([[length + step]]), "num_logits_to_keep": keep(1),
                                      **{p: (decoder, o) for p, o in zip(kv["inputs"], kv["outputs"])}},
                                     ["logits", "present.1.value"]))
            decoder = len(runs) - 1
        # The same prefill keeping the last 1 and 3 positions, and more positions than there are (all).
        prefill_feeds = runs[3].feeds
        for k in KEEP_COUNTS:
            runs.append(ort_node.Run(graphs["decoder_model_merged"], {**prefill_feeds, "num_logits_to_keep": keep(k)},
                                     ["logits", "present.1.value"]))
        out = ort_node.run_graphs(runs)
        return {"features": out[0]["image_features"], "one_crop": out[1]["image_features"],
                "embeds": out[2]["inputs_embeds"], "prefill": out[3]["logits"][0],
                "steps": np.stack([out[5]["logits"][0, -1], out[7]["logits"][0, -1]]),
                "step_shapes": [out[i]["logits"].shape for i in (5, 7)],
                "kept": {k: out[8 + i]["logits"][0] for i, k in enumerate(KEEP_COUNTS)},
                "present_shapes": [out[i]["present.1.value"].shape for i in (3, 5, 7, 8, 9, 10)]}

    def check(self, bundle, dtype, np_dtype, tol):
        model, features, embeds, prefill, steps, tokens = self.torch_reference(dtype)
        got = self.onnx_run(bundle, embeds.numpy(), tokens, np_dtype)
        as32 = lambda t: t.float().numpy()  # noqa: E731
        np.testing.assert_allclose(got["features"].astype(np.float32), as32(features), rtol=0, atol=tol["features"])
        np.testing.assert_allclose(got["one_crop"].astype(np.float32), as32(features[1:2]), rtol=0,
                                   atol=tol["features"])
        np.testing.assert_array_equal(got["embeds"], model.embed_tokens(self.ids).numpy())  # a gather: exact
        np.testing.assert_allclose(got["prefill"], as32(prefill), rtol=0, atol=tol["logits"])
        np.testing.assert_allclose(got["steps"], as32(steps), rtol=0, atol=tol["logits"])
        self.assertEqual(got["step_shapes"], [(1, 1, 152064)] * 2)
        # num_logits_to_keep = k: the last k rows of the full logits (all 30 when k > 30), from a
        # PyTorch run that cuts its hidden states the same way; the KV cache is the same in every case.
        for k, kept in got["kept"].items():
            with torch.no_grad(), float16_cpu_kernels():
                expected, _ = model.decode(embeds, torch.ones(1, 30, dtype=torch.long), torch.arange(30)[None],
                                           model.empty_kv_cache(1), num_logits_to_keep=k)
            self.assertEqual(kept.shape, (min(k, 30), 152064), k)
            np.testing.assert_allclose(kept, as32(expected[0]), rtol=0, atol=tol["logits"])
            np.testing.assert_allclose(kept, as32(prefill[-min(k, 30):]), rtol=0, atol=tol["logits"])
        self.assertEqual(got["present_shapes"], [(1, 2, 30, 4), (1, 2, 31, 4), (1, 2, 32, 4)] + [(1, 2, 30, 4)] * 3)
        self.assertEqual([int(got["prefill"][-1].argmax())] + [int(s.argmax()) for s in got["steps"]], tokens)
        return {k: float(np.abs(got[k].astype(np.float32) - as32(v)).max())
                for k, v in (("features", features), ("prefill", prefill), ("steps", steps))}

    def test_fp32_matches_pytorch(self):
        self.check(self.fp32, torch.float32, np.float32, {"features": 2e-4, "logits": 1e-4})

    def test_fp16_matches_pytorch_float16(self):
        self.check(self.fp16, torch.float16, np.float16, {"features": 0.25, "logits": 2.5e-2})

    def test_external_data_and_float16_storage_run_the_same(self):
        bundle = quiet_export(self.checkpoint, self.tmp / "bundle-parity-ext",
                              ExportOptions(external_data="always", weight_storage="fp16-lossless"))
        self.check(bundle, torch.float32, np.float32, {"features": 2e-4, "logits": 1e-4})

    def test_batch_of_two_with_left_padding(self):
        model = load_pretrained(self.checkpoint, torch.float32)
        g = torch.Generator().manual_seed(11)
        embeds = torch.randn(2, 9, 16, generator=g)
        mask = torch.ones(2, 9, dtype=torch.long)
        mask[1, :3] = 0
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            expected, _ = model.decode(embeds, mask, positions, model.empty_kv_cache(2))
        empty = np.zeros((2, 2, 0, 4), np.float32)
        kv = manifest_of(self.fp32)["kv_cache"]
        out = ort_node.run_graphs([ort_node.Run(
            self.fp32 / "onnx" / "decoder_model_merged.onnx",
            {"inputs_embeds": embeds.numpy(), "attention_mask": mask.numpy(), "position_ids": positions.numpy(),
             "num_logits_to_keep": keep(0), **{n: empty for n in kv["inputs"]}}, ["logits"])])
        np.testing.assert_allclose(out[0]["logits"], expected.numpy(), rtol=0, atol=1e-4)


if __name__ == "__main__":
    unittest.main()
