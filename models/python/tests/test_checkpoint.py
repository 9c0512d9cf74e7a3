"""Loading checkpoints by the official parameter names, and the errors for ones that do not fit."""

import json
import math
import re
import tempfile
import unittest
from pathlib import Path

import support
import torch

from molmo_onnx.checkpoint import expected_shapes, load_pretrained
from molmo_onnx.config import MolmoConfig, load_config
from molmo_onnx.errors import CheckpointError, ConfigError
from molmo_onnx.safetensors_io import load_file, save_file
from molmo_onnx.tiny_random import main as tiny_random_main, random_weights, tiny_config, write_checkpoint

# Every tensor name of Molmo-7B-D-0924, block numbers replaced by N: the 43 patterns of the
# official model.safetensors.index.json (HF Molmo-7B-D-0924; bitsandbytes suffixes left out).
OFFICIAL_7B_D_NAME_PATTERNS = {
    "model.transformer.blocks.N.att_proj.bias", "model.transformer.blocks.N.att_proj.weight",
    "model.transformer.blocks.N.attn_norm.weight", "model.transformer.blocks.N.attn_out.weight",
    "model.transformer.blocks.N.ff_norm.weight", "model.transformer.blocks.N.ff_out.weight",
    "model.transformer.blocks.N.ff_proj.weight", "model.transformer.ff_out.weight",
    "model.transformer.ln_f.weight", "model.transformer.wte.embedding", "model.transformer.wte.new_embedding",
    *(f"model.vision_backbone.image_pooling_2d.{w}.{p}" for w in ("wq", "wk", "wv", "wo")
      for p in ("weight", "bias")),
    *(f"model.vision_backbone.image_projector.{w}.weight" for w in ("w1", "w2", "w3")),
    "model.vision_backbone.image_vit.class_embedding", "model.vision_backbone.image_vit.patch_embedding.weight",
    "model.vision_backbone.image_vit.positional_embedding", "model.vision_backbone.image_vit.pre_ln.bias",
    "model.vision_backbone.image_vit.pre_ln.weight",
    *(f"model.vision_backbone.image_vit.transformer.resblocks.N.{m}.{p}"
      for m in ("attention.wq", "attention.wk", "attention.wv", "attention.wo", "attention_norm",
                "feed_forward.w1", "feed_forward.w2", "ffn_norm") for p in ("weight", "bias")),
    "model.vision_backbone.pad_embed",
}

# config.json of Molmo-7B-D-0924 and Molmo-7B-O-0924 (decoder keys as published on the HF hub).
CONFIG_7B_D = {"architectures": ["MolmoForCausalLM"], "attention_layer_norm": False, "clip_qkv": None,
               "embedding_size": 152064, "hidden_size": 3584, "initializer_range": 0.02,
               "intermediate_size": 37888, "layer_norm_eps": 1e-06, "layer_norm_type": "rms",
               "max_position_embeddings": 4096, "model_type": "molmo", "norm_after": False,
               "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "qkv_bias": True,
               "rope_theta": 1000000.0, "tie_word_embeddings": False, "torch_dtype": "float32",
               "use_cache": True, "use_position_ids": True, "vocab_size": 152064, "weight_tying": False}
CONFIG_7B_O = dict(CONFIG_7B_D, attention_layer_norm=True, norm_after=True, hidden_size=4096,
                   intermediate_size=22016, num_attention_heads=32, num_hidden_layers=32,
                   num_key_value_heads=None, qkv_bias=False, rope_theta=500000.0, vocab_size=100278,
                   embedding_size=100352)


class OfficialLayout(unittest.TestCase):
    """The names and shapes the 7B-D config implies are those of the real checkpoint."""

    def test_7b_d_names_match_the_official_index(self):
        shapes = expected_shapes(MolmoConfig.from_hf_dict(CONFIG_7B_D))
        self.assertEqual(len(shapes), 585, "28 decoder blocks x 7 + 23 ViT blocks x 16 + 21 others")
        patterns = {re.sub(r"\.\d+\.", ".N.", "model." + name) for name in shapes}
        self.assertEqual(patterns, OFFICIAL_7B_D_NAME_PATTERNS)

    def test_7b_d_shapes_and_parameter_count(self):
        shapes = expected_shapes(MolmoConfig.from_hf_dict(CONFIG_7B_D))
        # total_parameters in the official index metadata.
        self.assertEqual(sum(math.prod(s) for s in shapes.values()), 8_021_025_280)
        spot_checks = {
            "transformer.wte.embedding": (152064, 3584), "transformer.wte.new_embedding": (128, 3584),
            "transformer.blocks.27.att_proj.weight": (4608, 3584), "transformer.blocks.0.att_proj.bias": (4608,),
            "transformer.blocks.0.ff_proj.weight": (37888, 3584), "transformer.blocks.0.ff_out.weight": (3584, 18944),
            "transformer.ff_out.weight": (152064, 3584),
            "vision_backbone.image_vit.positional_embedding": (577, 1024),
            "vision_backbone.image_vit.patch_embedding.weight": (1024, 588),
            "vision_backbone.image_vit.transformer.resblocks.22.feed_forward.w1.weight": (4096, 1024),
            "vision_backbone.image_pooling_2d.wq.weight": (1024, 2048),
            "vision_backbone.image_pooling_2d.wo.weight": (1024, 1024),
            "vision_backbone.image_projector.w1.weight": (18944, 1024),
            "vision_backbone.image_projector.w2.weight": (3584, 18944),
            "vision_backbone.pad_embed": (2, 2048),
        }
        for name, shape in spot_checks.items():
            self.assertEqual(shapes[name], shape, name)

    def test_7b_o_flavour_has_qk_norms_and_no_qkv_bias(self):
        shapes = expected_shapes(MolmoConfig.from_hf_dict(CONFIG_7B_O))
        self.assertEqual(shapes["transformer.blocks.0.q_norm.weight"], (4096,))
        self.assertEqual(shapes["transformer.blocks.0.k_norm.weight"], (4096,))
        self.assertEqual(shapes["transformer.blocks.0.att_proj.weight"], (3 * 4096, 4096))
        self.assertNotIn("transformer.blocks.0.att_proj.bias", shapes)
        self.assertEqual(shapes["transformer.wte.embedding"], (100352, 4096))


class TinyCheckpoint(unittest.TestCase):
    """The tiny random checkpoint, written by the CLI and loaded by name."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name) / "tiny"
        assert tiny_random_main(["--out", str(cls.dir), "--seed", "3"]) == 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_files_and_config(self):
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()),
                         ["config.json", "model.safetensors", "preprocessor_config.json"])
        config = load_config(self.dir)
        self.assertEqual(config, tiny_config())
        raw = json.loads((self.dir / "config.json").read_text())
        self.assertEqual(raw["vision_config"]["image_num_layers"], 9)
        self.assertEqual(raw["vision_config"]["vit_layers"], [-2, -9])
        preprocessor = json.loads((self.dir / "preprocessor_config.json").read_text())
        self.assertEqual(preprocessor["max_crops"], 12)
        self.assertEqual(preprocessor["overlap_margins"], [4, 4])

    def test_loads_by_official_names_with_the_written_values(self):
        model = load_pretrained(self.dir)
        stored = load_file(self.dir / "model.safetensors")
        self.assertTrue(all(name.startswith("model.") for name in stored))
        state = model.state_dict()
        self.assertEqual({"model." + n for n in state}, set(stored))
        for name, tensor in state.items():
            self.assertTrue(torch.equal(tensor, stored["model." + name]), name)
        # The tokenizer's ids, Molmo's image tokens (152064..152068) included, are all embeddable.
        self.assertEqual(model.embed_tokens(torch.tensor([[151643, 152064, 152068]])).shape, (1, 3, 16))
        self.assertEqual(model.transformer.ff_out.weight.shape, (152064, 16))

    def test_weights_are_exact_in_float16(self):
        stored = load_file(self.dir / "model.safetensors")
        for name, tensor in stored.items():
            self.assertTrue(torch.equal(tensor.half().float(), tensor), name)


class BadCheckpoints(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.config = support.small_config()
        self.weights = random_weights(self.config, 1)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, **kwargs) -> Path:
        return write_checkpoint(self.dir, self.config, self.weights, **kwargs)

    def rewrite_tensors(self, edit):
        path = self.dir / "model.safetensors"
        tensors = load_file(path)
        edit(tensors)
        save_file(tensors, path)

    def assert_checkpoint_error(self, code, *fragments):
        with self.assertRaises(CheckpointError) as caught:
            load_pretrained(self.dir)
        self.assertEqual(caught.exception.code, code, str(caught.exception))
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))

    def test_missing_tensor_is_named(self):
        self.write()
        self.rewrite_tensors(lambda t: t.pop("model.transformer.blocks.1.ff_norm.weight"))
        self.assert_checkpoint_error("keys_mismatch", "missing 1", "transformer.blocks.1.ff_norm.weight")

    def test_unexpected_tensor_is_named(self):
        self.write()
        self.rewrite_tensors(lambda t: t.update({"model.transformer.blocks.0.q_norm.weight": torch.ones(32)}))
        self.assert_checkpoint_error("keys_mismatch", "unexpected 1", "transformer.blocks.0.q_norm.weight")

    def test_shape_mismatch_is_named(self):
        self.write()
        self.rewrite_tensors(lambda t: t.update({"model.vision_backbone.pad_embed": torch.zeros(2, 8)}))
        self.assert_checkpoint_error("shape_mismatch", "vision_backbone.pad_embed is [2, 8], expected [2, 32]")

    def test_quantized_checkpoint_is_refused(self):
        self.write()
        self.rewrite_tensors(lambda t: t.update({"model.transformer.blocks.0.att_proj.weight.absmax": torch.ones(1)}))
        self.assert_checkpoint_error("quantized_checkpoint")

    def test_gh_names_without_prefix_and_sharded_files_load(self):
        save_file(self.weights, self.dir / "model.safetensors")  # GH naming: no "model." prefix
        (self.dir / "config.json").write_text(json.dumps(self.config.to_hf_dict()))
        model = load_pretrained(self.dir)
        self.assertTrue(torch.equal(model.vision_backbone.pad_embed, self.weights["vision_backbone.pad_embed"]))
        sharded = self.dir / "sharded"
        write_checkpoint(sharded, self.config, self.weights, shards=3, dtype=torch.float16)
        model = load_pretrained(sharded)  # float16 storage -> float32 model, exact on the fp16 grid
        for name, tensor in model.state_dict().items():
            self.assertTrue(torch.equal(tensor, self.weights[name]), name)

    def test_load_in_float16(self):
        self.write()
        model = load_pretrained(self.dir, dtype=torch.float16)
        self.assertEqual(model.transformer.ff_out.weight.dtype, torch.float16)


class BadConfigs(unittest.TestCase):
    def assert_config_error(self, code, data, *fragments):
        with self.assertRaises(ConfigError) as caught:
            MolmoConfig.from_hf_dict(data)
        self.assertEqual(caught.exception.code, code, str(caught.exception))
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))

    def test_missing_config_json(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaises(ConfigError) as caught:
            load_config(tmp)
        self.assertEqual(caught.exception.code, "config_missing")

    def test_molmoe_is_reported_as_not_supported(self):
        self.assert_config_error("unsupported_variant", dict(CONFIG_7B_D, architectures=["MOLMoEForCausalLM"]),
                                 "MolmoE")

    def test_required_keys(self):
        data = dict(CONFIG_7B_D)
        del data["hidden_size"]
        self.assert_config_error("config_invalid", data, "hidden_size")

    def test_vision_config_typos_and_ranges(self):
        self.assert_config_error("vision_config_invalid", dict(CONFIG_7B_D, vision_config={"image_emb_dims": 8}),
                                 "image_emb_dims")
        self.assert_config_error("vision_config_invalid",
                                 dict(CONFIG_7B_D, vision_config={"image_num_layers": 3}),
                                 "vit_layers entry -9 is out of range")

    def test_defaults_are_the_released_vision_encoder(self):
        config = MolmoConfig.from_hf_dict(CONFIG_7B_D)
        self.assertEqual(config.vision.image_num_layers, 23)
        self.assertEqual(config.vision.resolved_vit_layers(), (21, 14))
        self.assertEqual(config.vision.image_mlp_activations, "quick_gelu")
        self.assertEqual(MolmoConfig.from_hf_dict(CONFIG_7B_O).n_kv_heads, 32)


if __name__ == "__main__":
    unittest.main()
