#!/usr/bin/env python3
"""Reference resize outputs for measuring resize backends (see models/preprocess/NOTES.md).

    /usr/bin/python3 tests/golden/resize_reference.py --molmo-repo /tmp/molmo-ref --out /tmp/resize-ref
    npx tsc -p . && node dist/tests/golden/measure-resize.js /tmp/resize-ref

For each golden image (plus a seeded random-noise image, the worst case for any resampler) and each
of several canvases, runs the REFERENCE `resize_and_pad` (allenai/molmo, torchvision bilinear with
antialias on float32) and writes the resized content (the canvas cut to the reference's own
image_mask) as raw float32 HWC, with the source pixels (as the reference loader decoded them) as raw
uint8 HWC and a jobs.json describing both. Nothing here is committed; the output is ~200 MB.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_loader  # noqa: E402


def canvases(height, width, mp):
    """The two canvases preprocessing uses for this image, plus an enlargement and a 4.5x reduction."""
    rows, cols = (int(v) for v in mp.select_tiling(height - 112, width - 112, 224, 12))
    out = {"hires": (rows * 224 + 112, cols * 224 + 112), "global": (336, 336)}
    if max(height, width) <= 700:
        out["up_x2.6"] = (int(height * 2.6), int(width * 2.6))
    if min(height, width) >= 450:
        out["down_x4.5"] = (int(height / 4.5), int(width / 4.5))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molmo-repo", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    mp = reference_loader.load_reference(args.molmo_repo)
    os.makedirs(args.out, exist_ok=True)

    images = {}
    images_dir = os.path.join(HERE, "images")
    for file in sorted(os.listdir(images_dir)):
        name = os.path.splitext(file)[0]
        image = mp.load_image(os.path.join(images_dir, file))
        if min(image.shape[:2]) >= 100:
            images[name] = image
    images["noise_1000x800"] = np.random.RandomState(0).randint(0, 256, (800, 1000, 3), dtype=np.uint8)

    jobs = []
    for name, image in images.items():
        height, width = image.shape[:2]
        src = f"{name}.u8"
        np.ascontiguousarray(image).tofile(os.path.join(args.out, src))
        for label, canvas in canvases(height, width, mp).items():
            resized, mask = mp.resize_and_pad(image, list(canvas))
            rows = np.nonzero(mask.any(axis=1))[0]
            cols = np.nonzero(mask.any(axis=0))[0]
            content = resized[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
            out = f"{name}__{label}.f32"
            np.ascontiguousarray(content).tofile(os.path.join(args.out, out))
            jobs.append({"name": f"{name} {label}", "src": src, "height": height, "width": width,
                         "out": out, "out_height": int(content.shape[0]), "out_width": int(content.shape[1])})
            print(f"{name} {label}: {width}x{height} -> {content.shape[1]}x{content.shape[0]}")
    with open(os.path.join(args.out, "jobs.json"), "w") as f:
        json.dump(jobs, f, indent=1)


if __name__ == "__main__":
    main()
