"""The model's behaviour: KV cache, image feature placement, pad embeddings, padding, variants."""

import unittest

import support
import torch

from molmo_onnx.generate import greedy_generate
from molmo_onnx.model import Molmo, add_image_features, repeat_kv


def full_logits(model: Molmo, ids, images, masks, idx) -> torch.Tensor:
    return model(ids, images[None], masks[None], idx[None])[0]  # (L, V)


class KVCache(unittest.TestCase):
    def check_cache_matches_full_forward(self, config):
        model = support.random_model(config)
        ids, images, masks, idx = support.random_inputs(config)
        expected = full_logits(model, ids, images, masks, idx)
        length = ids.shape[1]
        embeds = add_image_features(model.embed_tokens(ids), model.encode_images(images, masks)[None], idx[None])
        # Prefill in two chunks, then the rest one position at a time.
        cache = model.empty_kv_cache(1)
        pieces = [(0, 17), (17, 31)] + [(i, i + 1) for i in range(31, length)]
        for start, end in pieces:
            logits, cache = model.decode(embeds[:, start:end], torch.ones(1, end, dtype=torch.long),
                                         torch.arange(start, end)[None], cache)
            torch.testing.assert_close(logits[0], expected[start:end], rtol=0, atol=2e-5)
        self.assertEqual(len(cache), 2 * config.num_hidden_layers)
        self.assertEqual(cache[0].shape, (1, config.n_kv_heads, length, config.head_dim))

    def test_qwen2_style(self):
        self.check_cache_matches_full_forward(support.small_config())

    def test_olmo_style(self):
        self.check_cache_matches_full_forward(support.olmo_config())

    def test_greedy_generation_agrees_with_full_forward(self):
        config = support.small_config()
        model = support.random_model(config, seed=4)
        ids, images, masks, idx = support.random_inputs(config, seed=4)
        result = greedy_generate(model, ids, images, masks, idx, max_new_tokens=6)
        self.assertEqual(len(result.tokens), 6)
        sequence = torch.cat([ids, torch.tensor([result.tokens[:-1]])], dim=1)
        logits = full_logits(model, sequence, images, masks, idx)
        self.assertEqual(logits[ids.shape[1] - 1:].argmax(-1).tolist(), result.tokens)
        stopped = greedy_generate(model, ids, images, masks, idx, max_new_tokens=6, stop_token_ids=[result.tokens[1]])
        self.assertEqual(stopped.tokens, result.tokens[:2])

    def test_num_logits_to_keep_gives_the_last_k_positions(self):
        # Hugging Face's logits_to_keep: 0 = all positions, k = the last k (all when k exceeds them);
        # int and int64 scalar tensor alike (the exporter traces it with a tensor).
        config = support.small_config()
        model = support.random_model(config, seed=2)
        embeds = torch.randn(1, 9, config.hidden_size, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            run = lambda **kw: model.decode(embeds, torch.ones(1, 9, dtype=torch.long),  # noqa: E731
                                            torch.arange(9)[None], model.empty_kv_cache(1), **kw)
            full, full_cache = run()
            for k, rows in ((0, 9), (1, 1), (3, 3), (9, 9), (20, 9)):
                for value in (k, torch.tensor(k)):
                    logits, cache = run(num_logits_to_keep=value)
                    self.assertEqual(logits.shape, (1, rows, config.n_embeddings))
                    torch.testing.assert_close(logits, full[:, 9 - rows:], rtol=0, atol=1e-6)
                    torch.testing.assert_close(cache, full_cache, rtol=0, atol=0)
            torch.testing.assert_close(run(last_logits_only=True)[0], run(num_logits_to_keep=1)[0], rtol=0, atol=0)


class ImageFeatures(unittest.TestCase):
    def setUp(self):
        self.config = support.small_config()
        self.model = support.random_model(self.config)
        self.ids, self.images, self.masks, self.idx = support.random_inputs(self.config)

    def test_features_are_added_at_image_input_idx_only(self):
        embeds = self.model.embed_tokens(self.ids)
        features = self.model.encode_images(self.images, self.masks)  # (2, 144, d)
        self.assertEqual(features.shape, (2, 144, self.config.hidden_size))
        merged = add_image_features(embeds, features[None], self.idx[None])
        changed = (merged != embeds).any(-1)[0].nonzero().flatten().tolist()
        self.assertEqual(changed, list(range(5, 15)) + list(range(20, 30)))
        torch.testing.assert_close(merged[0, 5:15] - embeds[0, 5:15], features[0, 3:13], rtol=0, atol=1e-6)
        torch.testing.assert_close(merged[0, 20:30] - embeds[0, 20:30], features[1, 100:110], rtol=0, atol=1e-6)

    def test_changing_a_crop_changes_logits_from_its_first_position_on(self):
        before = full_logits(self.model, self.ids, self.images, self.masks, self.idx)
        images = self.images.clone()
        images[1] += 0.5  # crop 1 feeds positions 20..29
        after = full_logits(self.model, self.ids, images, self.masks, self.idx)
        self.assertTrue(torch.equal(before[:20], after[:20]), "attention is causal: earlier logits cannot move")
        self.assertGreater(float((before[20] - after[20]).abs().max()), 1e-3)

    def test_pad_embed_rows_follow_the_mask_values(self):
        backbone = self.model.vision_backbone
        images = self.images[:1].expand(4, -1, -1)
        masks = torch.ones(4, self.config.vision.num_patches)
        masks[1], masks[2], masks[3] = 0.0, 0.25, -1.0
        features = backbone.patch_features(images, masks)
        pad = backbone.pad_embed
        torch.testing.assert_close(features[1] - features[0], pad[0].expand_as(features[0]), rtol=0, atol=1e-5)
        torch.testing.assert_close(features[2] - features[0], pad[1].expand_as(features[0]), rtol=0, atol=1e-5)
        torch.testing.assert_close(features[3] - features[0], pad[1].expand_as(features[0]), rtol=0, atol=1e-5)

    def test_crops_of_all_minus_one_have_zero_vit_features(self):
        images = torch.full((1, self.config.vision.num_patches, self.config.vision.patch_dim), -1.0)
        features = self.model.vision_backbone.patch_features(images, torch.ones(1, self.config.vision.num_patches))
        self.assertTrue(torch.equal(features, torch.zeros_like(features)))

    def test_vit_blocks_after_the_deepest_read_layer_are_not_needed(self):
        expected = self.model.encode_images(self.images, self.masks)
        last = self.model.vision_backbone.image_vit.transformer.resblocks[-1]  # block 8; [-2, -9] reads 7 and 0
        with torch.no_grad():
            last.feed_forward.w1.weight.mul_(3.0)
        torch.testing.assert_close(self.model.encode_images(self.images, self.masks), expected, rtol=0, atol=0)
        block7 = self.model.vision_backbone.image_vit.transformer.resblocks[7]
        with torch.no_grad():
            block7.feed_forward.w1.weight.mul_(3.0)
        self.assertFalse(torch.equal(self.model.encode_images(self.images, self.masks), expected))


class Embeddings(unittest.TestCase):
    def test_new_embedding_rows_and_padding_id(self):
        config = support.small_config()
        model = support.random_model(config)
        wte = model.transformer.wte
        out = model.embed_tokens(torch.tensor([[0, 7, 319, 320, 324, 447, -1]]))[0]
        self.assertTrue(torch.equal(out[1], wte.embedding[7]))
        self.assertTrue(torch.equal(out[2], wte.embedding[319]))
        self.assertTrue(torch.equal(out[3], wte.new_embedding[0]))  # id 320 = embedding_size
        self.assertTrue(torch.equal(out[4], wte.new_embedding[4]))
        self.assertTrue(torch.equal(out[5], wte.new_embedding[127]))
        self.assertTrue(torch.equal(out[6], wte.embedding[0]))  # -1 (padding) reads row 0, as the reference
        with self.assertRaises(AssertionError):
            model.embed_tokens(torch.tensor([[448]]))

    def test_repeat_kv_is_repeat_interleave(self):
        x = torch.randn(2, 3, 5, 4)
        self.assertTrue(torch.equal(repeat_kv(x, 4), x.repeat_interleave(4, dim=1)))


class Batching(unittest.TestCase):
    def test_left_padding_does_not_change_real_positions(self):
        config = support.small_config()
        model = support.random_model(config)
        ids, images, masks, idx = support.random_inputs(config)
        pad = 5
        padded_ids = torch.cat([torch.full((1, pad), -1), ids], dim=1)
        padded_idx = torch.where(idx >= 0, idx + pad, idx)
        batch_ids = torch.cat([torch.cat([ids, torch.zeros(1, pad, dtype=ids.dtype)], dim=1), padded_ids])
        # Row 0 is right-extended with real tokens so both rows have the same length.
        logits = model(batch_ids, torch.stack([images, images]), torch.stack([masks, masks]),
                       torch.stack([idx, padded_idx]))
        alone = full_logits(model, ids, images, masks, idx)
        torch.testing.assert_close(logits[1, pad:], alone, rtol=0, atol=2e-5)
        torch.testing.assert_close(logits[0, :ids.shape[1]], alone, rtol=0, atol=2e-5)


class Variants(unittest.TestCase):
    def test_olmo_variant_runs_and_uses_its_norms(self):
        config = support.olmo_config()
        model = support.random_model(config)
        names = set(model.state_dict())
        self.assertIn("transformer.blocks.0.q_norm.weight", names)
        self.assertNotIn("transformer.blocks.0.att_proj.bias", names)
        ids, images, masks, idx = support.random_inputs(config)
        logits = full_logits(model, ids, images, masks, idx)
        self.assertEqual(logits.shape, (ids.shape[1], config.n_embeddings))
        self.assertTrue(torch.isfinite(logits).all())
        with torch.no_grad():  # the q/k norms take part in the computation
            model.transformer.blocks[0].q_norm.weight.mul_(2.0)
        self.assertFalse(torch.equal(full_logits(model, ids, images, masks, idx), logits))

    def test_three_block_vit_with_its_own_layers(self):
        config = support.small_config()
        config.vision.image_num_layers, config.vision.vit_layers = 3, (-1, -3)
        model = support.random_model(config)
        self.assertEqual(model.vision_backbone.layers, (2, 0))
        ids, images, masks, idx = support.random_inputs(config)
        self.assertEqual(full_logits(model, ids, images, masks, idx).shape, (ids.shape[1], config.n_embeddings))


if __name__ == "__main__":
    unittest.main()
