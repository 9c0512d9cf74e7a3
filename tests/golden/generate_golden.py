#!/usr/bin/env python3
"""Generate the golden test images and the reference outputs for Molmo-7B-D-0924 preprocessing.

Usage (Debian: apt-get install -y python3-numpy python3-torch python3-torchvision python3-pil):

    mkdir -p /tmp/molmo-ref && git -C <allenai/molmo clone> archive HEAD | tar -x -C /tmp/molmo-ref
    /usr/bin/python3 tests/golden/generate_golden.py --molmo-repo /tmp/molmo-ref

(`/usr/bin/python3` because Debian's torch is installed for the system interpreter, which a pyenv or
venv `python3` may not see.) Checked with allenai/molmo @ 793fa387edfd6fd0f5b21eb8e0a7620a1f3799e1,
numpy 1.24, torch 1.13, torchvision 0.14, Pillow 9.4.

What it does:
1. Draws deterministic synthetic images (gradients, flat shapes, hard edges, text-like glyph rows;
   no randomness outside a seeded numpy RandomState) and writes them to tests/golden/images/. They are
   committed; run with --keep-images to reuse the committed files instead of redrawing them (Pillow
   versions may encode PNG/JPEG bytes differently, and the goldens must describe the committed bytes).
2. Runs the REFERENCE implementation itself on every image: the official loader
   `olmo.data.model_preprocessor.load_image` (PIL convert("RGB") + ImageOps.exif_transpose) and
   `MultiModalPreprocessor.preprocess` configured as the released Molmo-7B-D-0924 (see
   reference_loader.released_7b_d_preprocessor: crop_mode overlap-and-resize-c2, max_crops 12, margins
   (4, 4), 336 px crops, 14 px patches, 2x2 pooling, CLIP normalisation, resize "default" =
   torchvision bilinear with antialias on float32, image_padding_mask on).
   The reference is imported from --molmo-repo unmodified; reference_loader.py only replaces the
   modules it imports but does not use (transformers, omegaconf-laden package __init__s, olmo.util) with
   minimal shims and passes a stand-in tokenizer that knows the five special tokens (ids 152064..152068).
3. Writes, per image, tests/golden/<case>/:
   - meta.json: sizes, tiling, counts, the content box of both resize_and_pad calls (from the
     reference's own image_mask), sha256 of the RGB pixels the reference decoded;
   - tokens.npy (int32): the image-token sequence (no BOS, no text);
   - image_input_idx.npy (int32 [n_crops, 144]): positions within tokens.npy, -100 where dropped
     (the value returned by the reference's build_image_input_idx, before the BOS/insert offsets);
   - image_masks.npy (float32 [n_crops, 576]): exactly as the reference returns it (off-by-one included);
   - crops_patch_mean.npy (float32 [n_crops, 576, 3]): per patch, per channel mean of the crop pixels;
   - crops_sample_idx.npy (int32 [K]) + crops_sample.npy (float32 [K]): exact crop values at K flat
     positions of the [n_crops, 576, 588] array: one whole patch per crop plus seeded random positions.
   The full crops (up to 17 MB per image) are not stored; the means and samples pin every patch.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_loader  # noqa: E402

IMAGES_DIR = os.path.join(HERE, "images")
RANDOM_SAMPLES_PER_IMAGE = 1500


# --------------------------------------------------------------------------------------------
# Synthetic images. Content is separable gradients (so PNG's Up/Sub filters make them nearly free),
# flat shapes, one-pixel lines and a few rows of random "glyphs", so that resizing has edges, fine
# detail and smooth areas to get right while the files stay small.
# --------------------------------------------------------------------------------------------

def synthetic_rgb(width, height, seed):
    rng = np.random.RandomState(seed)
    x = np.arange(width, dtype=np.float64)[None, :]
    y = np.arange(height, dtype=np.float64)[:, None]
    r = np.broadcast_to(20 + 215 * x / max(width - 1, 1), (height, width))
    g = np.broadcast_to(230 - 190 * y / max(height - 1, 1), (height, width))
    block = max(8, min(width, height) // 6)
    b = 60 + 40 * ((np.floor(x / block) + np.floor(y / block)) % 4)
    img = np.stack([r, g, b], axis=-1).round().astype(np.uint8)

    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for _ in range(6):
        x0, y0 = rng.randint(0, width), rng.randint(0, height)
        x1, y1 = x0 + rng.randint(1, max(2, width // 3)), y0 + rng.randint(1, max(2, height // 3))
        colour = tuple(int(v) for v in rng.randint(0, 256, 3))
        if rng.rand() < 0.5:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            draw.ellipse([x0, y0, x1, y1], fill=colour, outline=(0, 0, 0))
    for _ in range(8):
        x0, y0, x1, y1 = (int(v) for v in (rng.randint(0, width), rng.randint(0, height),
                                           rng.randint(0, width), rng.randint(0, height)))
        draw.line([x0, y0, x1, y1], fill=(255, 255, 255), width=1)
    img = np.array(pil)

    # Text-like rows: 3x5 glyph cells drawn 2 px per cell pixel, dark on a light strip.
    glyph_h, glyph_w, cell = 5, 3, max(2, min(width, height) // 500)
    line_h = (glyph_h + 2) * cell
    n_lines = min(6, max(1, height // (line_h * 4)))
    for line in range(n_lines):
        top = int(height * (0.15 + 0.12 * line))
        if top + line_h > height:
            break
        left = int(width * 0.05)
        right = min(width, left + min(int(width * 0.6), 900))
        img[top:top + line_h, left:right] = (245, 245, 240)
        x_pos = left + cell
        while x_pos + glyph_w * cell < right:
            if rng.rand() < 0.15:  # word gap
                x_pos += 3 * cell
                continue
            glyph = rng.rand(glyph_h, glyph_w) < 0.5
            glyph = np.kron(glyph, np.ones((cell, cell), dtype=bool))
            region = img[top + cell:top + cell + glyph.shape[0], x_pos:x_pos + glyph.shape[1]]
            region[glyph[:region.shape[0], :region.shape[1]]] = (20, 20, 30)
            x_pos += (glyph_w + 1) * cell
    return img


def save_png(array_or_image, path, **kwargs):
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    image.save(path, format="PNG", optimize=True, **kwargs)


def exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def draw_images(out_dir):
    """Writes every golden image; returns [(case name, file name)]."""
    os.makedirs(out_dir, exist_ok=True)
    cases = []

    def png(name, width, height, seed):
        file = f"{name}.png"
        save_png(synthetic_rgb(width, height, seed), os.path.join(out_dir, file))
        cases.append((name, file))

    png("screen_1920x1080", 1920, 1080, 1)
    png("portrait_1080x1920", 1080, 1920, 2)
    png("small_500x300", 500, 300, 3)
    png("square_336x336", 336, 336, 4)
    png("odd_337x335", 337, 335, 5)
    png("thin_28x500", 28, 500, 6)
    png("tiny_1x1", 1, 1, 7)
    png("upscale_100x100", 100, 100, 8)

    # A large photo-like JPEG; smooth content and optimised Huffman tables keep 12 MP near 260 KB.
    big = synthetic_rgb(4000, 3000, 9)
    Image.fromarray(big).save(os.path.join(out_dir, "photo_4000x3000.jpg"), format="JPEG", quality=75, optimize=True)
    cases.append(("photo_4000x3000", "photo_4000x3000.jpg"))

    # RGBA: alpha varies, and fully transparent pixels keep non-black colours; PIL convert("RGB")
    # drops the alpha band without compositing.
    rgb = synthetic_rgb(640, 400, 10)
    alpha = np.tile(np.linspace(0, 255, 640).round().astype(np.uint8)[None, :], (400, 1))
    alpha[:, :80] = 0
    save_png(np.dstack([rgb, alpha]), os.path.join(out_dir, "rgba_640x400.png"))
    cases.append(("rgba_640x400", "rgba_640x400.png"))

    # Palette ("P") image with a transparent palette entry (tRNS); convert("RGB") ignores it.
    pal = Image.fromarray(synthetic_rgb(300, 450, 11)).quantize(colors=32, method=Image.MEDIANCUT, dither=Image.NONE)
    save_png(pal, os.path.join(out_dir, "palette_300x450.png"), transparency=0)
    cases.append(("palette_300x450", "palette_300x450.png"))

    # Greyscale ("L").
    grey = Image.fromarray(synthetic_rgb(400, 260, 12)).convert("L")
    save_png(grey, os.path.join(out_dir, "grey_400x260.png"))
    cases.append(("grey_400x260", "grey_400x260.png"))

    # JPEG stored 640 wide x 360 high with EXIF Orientation 6 (rotate 90 CW to display): the upright
    # image is 360 x 640, which changes the tiling.
    stored = synthetic_rgb(640, 360, 13)
    Image.fromarray(stored).save(os.path.join(out_dir, "exif6_640x360.jpg"), format="JPEG", quality=85,
                                 exif=exif_with_orientation(6))
    cases.append(("exif6_640x360", "exif6_640x360.jpg"))
    return cases


def existing_images(out_dir):
    cases = []
    for file in sorted(os.listdir(out_dir)):
        name, ext = os.path.splitext(file)
        if ext in (".png", ".jpg"):
            cases.append((name, file))
    return cases


# --------------------------------------------------------------------------------------------
# Reference outputs.
# --------------------------------------------------------------------------------------------

def content_box(mask):
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    return {
        "height": int(rows[-1] - rows[0] + 1), "width": int(cols[-1] - cols[0] + 1),
        "top": int(rows[0]), "left": int(cols[0]),
        "canvas_height": int(mask.shape[0]), "canvas_width": int(mask.shape[1]),
    }


def sample_positions(n_crops, patches, pixels_per_patch, seed):
    rng = np.random.RandomState(seed)
    chosen = []
    for crop in range(n_crops):
        patch = (crop * 97 + 13) % patches
        start = (crop * patches + patch) * pixels_per_patch
        chosen.append(np.arange(start, start + pixels_per_patch))
    total = n_crops * patches * pixels_per_patch
    chosen.append(rng.randint(0, total, RANDOM_SAMPLES_PER_IMAGE))
    return np.unique(np.concatenate(chosen)).astype(np.int32)


# Extra cases run with non-default settings, to check that the implementation is parametrised like the
# reference: (case name, image case, keyword overrides of the released configuration).
VARIANTS = [
    ("rgba_640x400__margins_2_2", "rgba_640x400", {"overlap_margins": (2, 2)}),
    ("screen_1920x1080__max_crops_4", "screen_1920x1080", {"max_crops": 4}),
]


def write_case(mp, pre, name, image_path, out_dir, seed, overrides=None):
    image = mp.load_image(image_path)  # the reference loader: convert("RGB") + exif_transpose
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    crops, tokens, image_input_idx, image_masks = pre.preprocess(image, False, None)

    height, width = image.shape[:2]
    margin_px = pre.image_patch_size * sum(pre.overlap_margins)
    window_px = (pre.base_image_input_size[0] // pre.image_patch_size - sum(pre.overlap_margins)) * pre.image_patch_size
    rows, cols = (int(v) for v in mp.select_tiling(height - margin_px, width - margin_px, window_px, pre.max_crops))
    canvas = [rows * window_px + margin_px, cols * window_px + margin_px]
    _, hires_mask = mp.resize_and_pad(image, canvas)
    _, global_mask = mp.resize_and_pad(image, list(pre.base_image_input_size))

    n_crops, patches, ppp = crops.shape
    positions = sample_positions(n_crops, patches, ppp, seed)
    patch_mean = crops.reshape(n_crops, patches, ppp // 3, 3).astype(np.float64).mean(axis=2)

    case_dir = os.path.join(out_dir, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    np.save(os.path.join(case_dir, "tokens.npy"), tokens.astype(np.int32))
    np.save(os.path.join(case_dir, "image_input_idx.npy"), image_input_idx.astype(np.int32))
    np.save(os.path.join(case_dir, "image_masks.npy"), image_masks.astype(np.float32))
    np.save(os.path.join(case_dir, "crops_patch_mean.npy"), patch_mean.astype(np.float32))
    np.save(os.path.join(case_dir, "crops_sample_idx.npy"), positions)
    np.save(os.path.join(case_dir, "crops_sample.npy"), crops.reshape(-1)[positions].astype(np.float32))

    meta = {
        "image": f"images/{os.path.basename(image_path)}",
        "width": int(width),
        "height": int(height),
        "rgb_sha256": hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(),
        "tiling": {"rows": rows, "cols": cols},
        "n_crops": int(n_crops),
        "crops_shape": [int(n_crops), int(patches), int(ppp)],
        "n_tokens": int(tokens.shape[0]),
        "n_patch_tokens": int((tokens == reference_loader.QWEN2_SPECIAL_IDS["<im_patch>"]).sum()),
        "n_valid_idx": int((image_input_idx >= 0).sum()),
        "hires_content": content_box(hires_mask),
        "global_content": content_box(global_mask),
        "crops_abs_max": float(np.abs(crops).max()),
        "crops_mean": float(crops.astype(np.float64).mean()),
        "special_tokens": {k: v for k, v in reference_loader.QWEN2_SPECIAL_IDS.items()},
        "config_overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in (overrides or {}).items()},
    }
    with open(os.path.join(case_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molmo-repo", required=True, help="checkout of allenai/molmo (a work tree)")
    parser.add_argument("--out", default=HERE, help="golden directory (default: this script's directory)")
    parser.add_argument("--keep-images", action="store_true", help="use the images already in images/")
    args = parser.parse_args()

    mp = reference_loader.load_reference(args.molmo_repo)
    pre = reference_loader.released_7b_d_preprocessor(mp)
    images_dir = os.path.join(args.out, "images")
    cases = existing_images(images_dir) if args.keep_images else draw_images(images_dir)

    index = []
    files = dict(cases)
    jobs = [(name, file, pre, None) for name, file in sorted(cases)]
    for name, base, overrides in VARIANTS:
        jobs.append((name, files[base], reference_loader.released_7b_d_preprocessor(mp, **overrides), overrides))
    for seed, (name, file, preprocessor, overrides) in enumerate(jobs):
        meta = write_case(mp, preprocessor, name, os.path.join(images_dir, file), args.out, 1000 + seed, overrides)
        index.append(name)
        print(f"{name}: {meta['width']}x{meta['height']} tiling {meta['tiling']['rows']}x{meta['tiling']['cols']} "
              f"crops {meta['n_crops']} tokens {meta['n_tokens']} ({meta['n_patch_tokens']} patches)")
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"cases": index}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
