"""The PyTorch side of `npm run bench:engine-cpu` (tests/bench/engine-cpu.bench.ts drives it).

    python3 tests/bench/engine_cpu_reference.py prepare --cache DIR [--preset 7b-d] [--layers 2]
        [--vit-layers 23] [--seed 0] [--fresh] --tokenizer TOKENIZER_JSON
    python3 tests/bench/engine_cpu_reference.py serve --checkpoint DIR --inputs DIR [--new-tokens 16]
        [--threads 2]      (then "run" lines on stdin, one question each, and "end")

`prepare` makes (once; later calls find it in the cache) a random-weight Hugging Face-format
checkpoint with Molmo-7B-D-0924's real widths - decoder d_model 3584, 28 query / 4 KV heads of 128,
SwiGLU 2 x 18944, vocabulary 152064 + 128, the released CLIP ViT-L/14 (width 1024, 16 heads, MLP
4096) with its pooling and projector - but only `--layers` decoder blocks and `--vit-layers` ViT
blocks, then exports it to an fp32 bundle with the project's exporter (python3 -m molmo_onnx.export,
in a child process whose time and peak resident memory are reported). It prints one JSON object.

`serve` loads that checkpoint into the project's PyTorch model (models/python/molmo_onnx/model.py),
prints a `ready` line, then for every `run` line on stdin runs it eagerly on the inputs the
TypeScript side wrote (input_ids, crops, image_masks, image_input_idx): vision encoder on all crops
in one batch, embeddings + image features, prefill (last position's logits only), then greedy
decoding with the KV cache for --new-tokens tokens, no stop token. Every part is timed; each run
prints one JSON line, and `end` prints the process's peak resident memory and the decode-step split
(per decoder block, LM head) measured with forward hooks.

Threads: this Debian torch build starts with one intra-op thread and torch.set_num_threads alone
does not widen its OpenMP pool, so the bench sets OMP_NUM_THREADS before torch is imported (and
calls set_num_threads too); `serve` reports what torch ended up with and which BLAS library is loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO_ROOT / "models" / "python"
sys.path.insert(0, str(PYTHON_DIR))

# Bumped whenever what `prepare` writes changes, so an old cache entry is not reused by mistake.
CACHE_VERSION = 1


def _peak_rss_bytes() -> int:
    """This process's peak resident set (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _current_rss_bytes() -> int:
    """This process's resident set now (Linux /proc; 0 where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _loaded_blas() -> str:
    """The BLAS shared library mapped into this process (torch's matmuls go through it)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown (no /proc/self/maps)"
    return ", ".join(sorted(paths)) or "none found"


def exporter_digest() -> str:
    """A digest of the exporter's sources, recorded with a cached bundle: a bundle made by an older
    exporter is still used (re-exporting takes minutes) but the bench says so."""
    digest = hashlib.sha256()
    for path in sorted((PYTHON_DIR / "molmo_onnx").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# prepare


def bench_config(preset: str, layers: int, vit_layers: int):
    """Molmo-7B-D's widths with `layers` decoder blocks and `vit_layers` ViT blocks ("tiny": the
    test fixture's architecture, for checking the bench's plumbing in seconds)."""
    from dataclasses import replace

    from molmo_onnx.config import MolmoConfig, VisionConfig
    from molmo_onnx.tiny_random import tiny_config

    if preset == "tiny":
        config = tiny_config(num_hidden_layers=layers)
        return replace(config, vision=replace(config.vision, image_num_layers=vit_layers))
    # The defaults of MolmoConfig / VisionConfig are Molmo-7B-D-0924's released values.
    config = MolmoConfig(num_hidden_layers=layers, vision=VisionConfig(image_num_layers=vit_layers))
    config.validate()
    return config


def cache_key(args: argparse.Namespace) -> str:
    settings = {"version": CACHE_VERSION, "preset": args.preset, "layers": args.layers,
                "vit_layers": args.vit_layers, "seed": args.seed, "dtype": "fp32"}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return f"{args.preset}-L{args.layers}-vit{args.vit_layers}-seed{args.seed}-fp32-{digest}"


def run_export(checkpoint: Path, bundle: Path, tokenizer: Path) -> Dict[str, Any]:
    """python3 -m molmo_onnx.export in a child process: its wall time and peak resident memory."""
    command = [sys.executable, "-m", "molmo_onnx.export", str(checkpoint), str(bundle), "--dtype", "fp32",
               "--tokenizer", str(tokenizer), "--overwrite"]
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=PYTHON_DIR, stdout=sys.stderr, stderr=sys.stderr)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if child.returncode != 0:
        raise SystemExit(f"export failed (exit {child.returncode}): {' '.join(command)}")
    return {"export_s": seconds, "export_peak_rss_bytes": usage.ru_maxrss * 1024}


def prepare(args: argparse.Namespace) -> Dict[str, Any]:
    from molmo_onnx.tiny_random import random_weights, write_checkpoint

    root = Path(args.cache) / cache_key(args)
    checkpoint, bundle, record_path = root / "checkpoint", root / "bundle", root / "prepare.json"
    if not args.fresh and record_path.is_file() and checkpoint.is_dir() and bundle.is_dir():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        record["cached"] = True
        record["exporter_changed"] = record.get("exporter_digest") != exporter_digest()
        return record
    shutil.rmtree(root, ignore_errors=True)  # a half-made entry from an interrupted run
    root.mkdir(parents=True)

    config = bench_config(args.preset, args.layers, args.vit_layers)
    started = time.monotonic()
    weights = random_weights(config, args.seed)
    parameters = sum(w.numel() for w in weights.values())
    write_checkpoint(checkpoint, config, weights)
    del weights
    checkpoint_s = time.monotonic() - started
    print(f"wrote {checkpoint}: {parameters:,} parameters in {checkpoint_s:.1f} s", file=sys.stderr)

    record: Dict[str, Any] = {
        "checkpoint": str(checkpoint), "bundle": str(bundle), "preset": args.preset,
        "layers": args.layers, "vit_layers": args.vit_layers, "seed": args.seed, "parameters": parameters,
        "checkpoint_s": checkpoint_s, "checkpoint_peak_rss_bytes": _peak_rss_bytes(),
        "checkpoint_bytes": _folder_bytes(checkpoint),
        "exporter_digest": exporter_digest(),
    }
    record.update(run_export(checkpoint, bundle, Path(args.tokenizer)))
    record["bundle_bytes"] = _folder_bytes(bundle)
    record["bundle_files"] = {str(p.relative_to(bundle)): p.stat().st_size
                              for p in sorted(bundle.rglob("*")) if p.is_file()}
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    record["cached"] = False
    record["exporter_changed"] = False
    return record


# ----------------------------------------------------------------------------------------------
# run


def read_inputs(folder: Path):
    import numpy as np
    import torch

    meta = json.loads((folder / "inputs.json").read_text(encoding="utf-8"))

    def tensor(name: str, dtype) -> "torch.Tensor":
        entry = meta[name]
        array = np.fromfile(folder / entry["file"], dtype=dtype).reshape(entry["shape"])
        return torch.from_numpy(array)

    return (meta, tensor("input_ids", "<i8"), tensor("crops", "<f4"), tensor("image_masks", "<f4"),
            tensor("image_input_idx", "<i8"))


def median(values: List[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class BlockTimer:
    """Times the decoder blocks and the LM head inside each decode step with forward hooks, so the
    28-layer extrapolation of the PyTorch side can use a measured split (per block vs fixed cost)."""

    def __init__(self, model):
        self.layer_ms: List[float] = []
        self.head_ms: List[float] = []
        self._blocks = 0.0
        self._started = 0.0
        self._count = len(model.transformer.blocks)
        self.enabled = False  # only decode steps are recorded
        self._handles = []
        for block in model.transformer.blocks:
            self._handles.append(block.register_forward_pre_hook(self._begin))
            self._handles.append(block.register_forward_hook(self._end_block))
        head = model.transformer.ff_out
        self._handles.append(head.register_forward_pre_hook(self._begin))
        self._handles.append(head.register_forward_hook(self._end_head))

    def start_step(self) -> None:
        self._blocks = 0.0

    def _begin(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _end_block(self, *_: Any) -> None:
        self._blocks += time.perf_counter() - self._started

    def _end_head(self, *_: Any) -> None:
        if not self.enabled:
            return
        self.head_ms.append((time.perf_counter() - self._started) * 1000)
        self.layer_ms.append(self._blocks / self._count * 1000)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def one_question(model, input_ids, crops, image_masks, image_input_idx, new_tokens: int,
                 timer: "BlockTimer") -> Dict[str, Any]:
    """Vision encoder, embeddings + features, prefill and greedy decode of one question, timed."""
    import torch

    from molmo_onnx.model import add_image_features

    length = input_ids.shape[1]
    t0 = time.perf_counter()
    features = model.encode_images(crops, image_masks)  # (n, 144, d)
    t1 = time.perf_counter()
    embeds = model.embed_tokens(input_ids)
    embeds = add_image_features(embeds, features[None], image_input_idx[None])
    t2 = time.perf_counter()
    mask = torch.ones(1, length, dtype=torch.int64)
    positions = torch.arange(length)[None]
    logits, cache = model.decode(embeds, mask, positions, model.empty_kv_cache(1), last_logits_only=True)
    token = int(torch.argmax(logits[0, -1]))
    t3 = time.perf_counter()
    top = torch.topk(logits[0, -1], 5)
    tokens, step_ms = [token], []
    timer.enabled = True
    for step in range(1, new_tokens):
        timer.start_step()
        s0 = time.perf_counter()
        step_embeds = model.embed_tokens(torch.tensor([[token]]))
        mask = torch.ones(1, length + step, dtype=torch.int64)
        positions = torch.tensor([[length + step - 1]])
        logits, cache = model.decode(step_embeds, mask, positions, cache)
        token = int(torch.argmax(logits[0, -1]))
        step_ms.append((time.perf_counter() - s0) * 1000)
        tokens.append(token)
    timer.enabled = False
    return {
        "vision_ms": (t1 - t0) * 1000,
        "embed_ms": (t2 - t1) * 1000,
        "prefill_ms": (t3 - t2) * 1000,
        # From the preprocessed tensors to the first token (the engine's own figure also includes
        # decoding and preprocessing the image, which the bench reports separately).
        "time_to_first_token_ms": (t3 - t0) * 1000,
        "step_ms": step_ms,
        "tokens": tokens,
        "first_logits_top5": {"ids": top.indices.tolist(), "values": top.values.tolist()},
    }


def _say(message: Dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def serve(args: argparse.Namespace) -> None:
    """Loads the checkpoint, says `ready`, then answers one question per `run` line on stdin until
    `end` (or end of input). The bench alternates these runs with the engine's, so that both sides
    meet the same machine conditions; the summaries (best run, median step) are made there."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from molmo_onnx.checkpoint import load_pretrained

    rss_before = _current_rss_bytes()
    started = time.perf_counter()
    model = load_pretrained(args.checkpoint, torch.float32)
    load_ms = (time.perf_counter() - started) * 1000
    meta, input_ids, crops, image_masks, image_input_idx = read_inputs(Path(args.inputs))
    _say({"ready": {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "blas": _loaded_blas(),
        "load_ms": load_ms,
        "rss_before_load_bytes": rss_before,
        "rss_loaded_bytes": _current_rss_bytes(),
        "sequence_length": int(input_ids.shape[1]),
        "n_crops": int(crops.shape[0]),
        "inputs_sha256": meta.get("sha256"),
    }})
    timer = BlockTimer(model)
    for line in sys.stdin:
        command = line.strip()
        if command == "end":
            break
        if command != "run":
            raise SystemExit(f"unknown command {command!r} (expected 'run' or 'end')")
        with torch.no_grad():
            _say({"run": one_question(model, input_ids, crops, image_masks, image_input_idx, args.new_tokens, timer)})
    timer.remove()
    _say({"end": {
        # Per decode step: the decoder blocks' time divided by their number, and the LM head's.
        "median_layer_ms": median(timer.layer_ms) if timer.layer_ms else None,
        "median_head_ms": median(timer.head_ms) if timer.head_ms else None,
        "rss_end_bytes": _current_rss_bytes(),
        "peak_rss_bytes": _peak_rss_bytes(),
    }})


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="make (or find) the random checkpoint and its fp32 bundle")
    p.add_argument("--cache", required=True, help="cache folder (one sub-folder per settings)")
    p.add_argument("--preset", choices=("7b-d", "tiny"), default="7b-d")
    p.add_argument("--layers", type=int, default=2, help="decoder blocks (Molmo-7B-D has 28)")
    p.add_argument("--vit-layers", type=int, default=23,
                   help="ViT blocks (the release stores 23 and reads blocks -2 and -9, so >= 9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", required=True, help="tokenizer.json to put in the bundle")
    p.add_argument("--fresh", action="store_true", help="make the checkpoint and bundle again even if cached")
    r = commands.add_parser("serve", help="PyTorch eager: vision, prefill and greedy decode, timed, per 'run' line")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--inputs", required=True, help="folder with inputs.json and the tensors it names")
    r.add_argument("--new-tokens", type=int, default=16)
    r.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave it)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        _say(prepare(args))
    else:
        serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
