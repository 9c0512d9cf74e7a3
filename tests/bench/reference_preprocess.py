"""Times the reference preprocessing (allenai/molmo) on one image file, for `npm run bench:preprocess`.

Each run does what the TypeScript side does in the same benchmark: decode the file
(`load_image`: PIL convert("RGB") + exif_transpose) and build the crops, masks, token sequence
and index (`MultiModalPreprocessor.image_to_patches_and_tokens`, configured as the released
Molmo-7B-D-0924). The reference module is imported unmodified through
tests/golden/reference_loader.py. Prints the per-run milliseconds as one JSON list on the last line.

Usage: /usr/bin/python3 tests/bench/reference_preprocess.py --molmo-repo <checkout> [--runs N] IMAGE
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from reference_loader import load_reference, released_7b_d_preprocessor  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--molmo-repo", required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("image")
    args = parser.parse_args()

    mp = load_reference(args.molmo_repo)
    preprocessor = released_7b_d_preprocessor(mp)
    samples = []
    for i in range(args.runs + 1):
        started = time.perf_counter()
        image = mp.load_image(args.image)
        preprocessor.image_to_patches_and_tokens(image, is_training=False)
        elapsed = (time.perf_counter() - started) * 1000.0
        if i > 0:  # the first run warms up imports and allocator caches, as on the TS side
            samples.append(elapsed)
    import torch
    print(f"reference: torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
