"""Import the official Molmo preprocessing code (allenai/molmo) without its heavy dependencies.

`olmo/data/model_preprocessor.py` only needs numpy, torch, torchvision and PIL to do its work, but
its imports pull in `transformers`, `omegaconf`, `boto3`, `rich` and friends through the `olmo`
package `__init__` files. Those are not available as Debian packages, so this module registers
minimal stand-ins in `sys.modules` before importing the reference:

* `olmo` and `olmo.data` become bare packages pointing at the checkout's directories, so their
  `__init__.py` files (which import the whole training stack) are skipped;
* `olmo.util` provides only `is_url`, the one name `olmo/tokenizer.py` takes from it;
* `transformers` provides a placeholder `AutoTokenizer` (never called here) and
  `transformers.image_utils` the OpenAI CLIP mean/std constants (same values as transformers'
  `OPENAI_CLIP_MEAN` / `OPENAI_CLIP_STD`) plus the `ImageInput` type name;
* `einops` is not needed by the GH preprocessor and is not shimmed.

Everything that computes pixels, tilings, tokens and indices is the unmodified reference code:
`olmo.data.model_preprocessor` and `olmo.tokenizer` are imported from the checkout as they are.
The tokenizer passed to `MultiModalPreprocessor` is a tiny object whose `encode` maps the five
special token strings to the Molmo-7B-D ids 152064..152068 (what the real Qwen2 tokenizer
returns for them, see added_tokens.json), which is all `get_special_token_ids` needs.
"""
import os
import re
import sys
import types

# Token ids of Molmo-7B-D-0924 (HF added_tokens.json).
QWEN2_SPECIAL_IDS = {
    "<im_start>": 152064,
    "<im_end>": 152065,
    "<im_patch>": 152066,
    "<im_col>": 152067,
    "<|image|>": 152068,
}

# transformers.image_utils.OPENAI_CLIP_MEAN / OPENAI_CLIP_STD.
OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


class SpecialTokenOnlyTokenizer:
    """Stands in for the Qwen2 tokenizer: `get_special_token_ids` only encodes the special tokens."""

    bos_token_id = None
    eos_token_id = 151643

    def encode(self, text):
        ids = []
        for piece in text.split(" "):
            if piece not in QWEN2_SPECIAL_IDS:
                raise ValueError(f"shim tokenizer only knows Molmo's special tokens, got {piece!r}")
            ids.append(QWEN2_SPECIAL_IDS[piece])
        return ids


def _package(name, path):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
    return module


def load_reference(molmo_repo):
    """Returns the reference module `olmo.data.model_preprocessor` from the checkout at `molmo_repo`."""
    olmo_dir = os.path.join(os.path.abspath(molmo_repo), "olmo")
    if not os.path.isfile(os.path.join(olmo_dir, "data", "model_preprocessor.py")):
        raise SystemExit(f"{molmo_repo} is not a checkout of allenai/molmo (olmo/data/model_preprocessor.py missing)")

    _package("olmo", olmo_dir)
    _package("olmo.data", os.path.join(olmo_dir, "data"))

    util = types.ModuleType("olmo.util")
    util.is_url = lambda path: re.match(r"[a-z0-9]+://.*", str(path)) is not None
    sys.modules["olmo.util"] = util

    transformers = types.ModuleType("transformers")

    class AutoTokenizer:  # never used: the generator passes its own tokenizer object
        @classmethod
        def from_pretrained(cls, *args, **kwargs):
            raise RuntimeError("AutoTokenizer is not available in the golden generator")

    transformers.AutoTokenizer = AutoTokenizer
    image_utils = types.ModuleType("transformers.image_utils")
    image_utils.OPENAI_CLIP_MEAN = OPENAI_CLIP_MEAN
    image_utils.OPENAI_CLIP_STD = OPENAI_CLIP_STD
    image_utils.ImageInput = object
    transformers.image_utils = image_utils
    sys.modules["transformers"] = transformers
    sys.modules["transformers.image_utils"] = image_utils

    import importlib
    return importlib.import_module("olmo.data.model_preprocessor")


def released_7b_d_preprocessor(mp, max_crops=12, overlap_margins=(4, 4)):
    """The MultiModalPreprocessor as GH `olmo/data/__init__.py::build_mm_preprocessor` builds it for
    the ModelConfig of GH `olmo/hf_molmo.py::load_hf_model("allenai/Molmo-7B-D-0924")`; the keyword
    arguments change one setting for the golden variants."""
    return mp.MultiModalPreprocessor(
        tokenizer=SpecialTokenOnlyTokenizer(),
        normalize="openai",                  # vision_backbone.image_model_type
        crop_mode="overlap-and-resize-c2",
        max_crops=max_crops,
        overlap_margins=overlap_margins,     # ModelConfig default (4, 4)
        resize="default",                    # VisionBackboneConfig.resize_mode default -> torch-bilinear
        use_col_tokens=True,
        base_image_input_size=(336, 336),
        image_pooling_w=2,
        image_pooling_h=2,
        image_token_length_w=12,             # llm_patches_per_crop(): ceil(24 / 2)
        image_token_length_h=12,
        image_patch_size=14,
        image_padding_mask=1,                # image_padding_embed set, fix_image_padding=False
        pad_value=0,
        loss_token_weighting="root_subsegments",
    )
