"""The Python side of `npm run bench:engine-gpu` (tests/bench/engine-gpu.bench.ts drives it).

    python3 tests/bench/engine_gpu_reference.py prepare --out DIR --tokenizer TOKENIZER_JSON [--layers 4]
        [--small] [--seed 0]
    python3 tests/bench/engine_gpu_reference.py serve --checkpoint DIR --inputs DIR [--new-tokens 16]
        [--device cuda] [--dtype bf16]     (then "run" lines on stdin, one question each, and "end")

`prepare` makes a random-weight Hugging Face-format checkpoint - Molmo-7B-D-0924's real widths
(decoder d_model 3584, 28 query / 4 KV heads of 128, SwiGLU 2 x 18944, vocabulary 152064 + 128, the
released CLIP ViT-L/14 with 23 blocks) but `--layers` decoder blocks; `--small`: the tiny test
architecture with d_model 64 (head_dim 16, which onnxruntime's CPU GroupQueryAttention needs), for
checking the bench end to end on a CPU in a minute - and exports it, fp16, three ways:

    DIR/plain/       `molmo_onnx.export --dtype fp16` (decoder traced by torch.onnx.export)
    DIR/fused/       the same bundle with the decoder written by molmo_onnx.fused_decoder (what
                     `--decoder-ops fused` writes): the other graphs and files are hard links into
                     plain/, config.json's molmo_onnx section says decoder.ops "fused"
    DIR/head_only.onnx   the fused decoder with 0 blocks (final norm + LM head), to split a decode step
                     into its per-block and fixed parts on the engine side

Weights are drawn on the GPU when there is one (the CPU's generator takes minutes for 2.3 B values)
with random_weights' scales, stored as float16. Prints one JSON object with sizes and timings.

`serve` loads the checkpoint into the project's PyTorch model (model.py) on --device in --dtype and,
per `run` line, runs eagerly on the inputs the TypeScript side wrote: the vision encoder on all crops,
embeddings + features, prefill (last position's logits), greedy decode with the KV cache; every
phase is timed between torch.cuda.synchronize() calls. `end` also reports the fixed part of a decode
step - the same step with no decoder blocks (final norm + LM head, the token's embedding) - so that
the per-block time is (step - fixed) / layers, the same split the engine side makes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO_ROOT / "models" / "python"
sys.path.insert(0, str(PYTHON_DIR))


def _say(message: Dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bench_config(small: bool, layers: int):
    from dataclasses import replace

    from molmo_onnx.config import MolmoConfig, VisionConfig
    from molmo_onnx.tiny_random import tiny_config

    if small:
        return replace(tiny_config(hidden_size=64, num_hidden_layers=layers))
    config = MolmoConfig(num_hidden_layers=layers, vision=VisionConfig())  # Molmo-7B-D-0924's values
    config.validate()
    return config


def bench_weights(config, seed: int, device: str):
    """random_weights' distributions (linear ~ N(0, 1/fan_in), norms ~ 1 + N(0, 0.01), the rest
    N(0, 0.25)) drawn on `device`, returned as float16 CPU tensors by official name."""
    import torch

    from molmo_onnx.checkpoint import expected_shapes

    generator = torch.Generator(device=device).manual_seed(seed)
    weights = {}
    for name, shape in sorted(expected_shapes(config).items()):
        noise = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
        if name.endswith("norm.weight") or name.endswith("pre_ln.weight") or name.endswith("ln_f.weight"):
            value = 1.0 + 0.1 * noise
        elif name.endswith(".weight") and len(shape) == 2:
            value = noise / math.sqrt(shape[1])
        else:
            value = 0.5 * noise
        weights[name] = value.to(torch.float16).cpu()
    return weights


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(16 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def derive_fused_bundle(plain: Path, fused: Path, model, opset: int) -> None:
    """`fused` = `plain` with its decoder replaced by the fused one (other files hard-linked)."""
    from molmo_onnx import bundle_manifest
    from molmo_onnx.fused_decoder import build_fused_decoder
    from molmo_onnx.onnx_graphs import DECODER, graph_specs

    decoder_files = {f"onnx/{DECODER}.onnx", f"onnx/{DECODER}.onnx_data"}
    for path in plain.rglob("*"):
        relative = path.relative_to(plain).as_posix()
        target = fused / relative
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif relative not in decoder_files and relative != "config.json":
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    spec = graph_specs(model.config, "float16")[DECODER]
    data = build_fused_decoder(model, spec, fused / "onnx" / f"{DECODER}.onnx", opset, "auto")
    config = json.loads((plain / "config.json").read_text(encoding="utf-8"))
    section = config[bundle_manifest.SECTION]
    section["decoder"] = bundle_manifest.decoder_entry("fused")
    section["graphs"][DECODER]["external_data"] = f"onnx/{data.name}" if data else None
    for relative in decoder_files:
        section["files"].pop(relative, None)
        path = fused / relative
        if path.is_file():
            section["files"][relative] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    (fused / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def prepare(args: argparse.Namespace) -> Dict[str, Any]:
    import torch

    from molmo_onnx.checkpoint import load_pretrained
    from molmo_onnx.export import ExportOptions, export_bundle
    from molmo_onnx.fused_decoder import build_fused_decoder
    from molmo_onnx.onnx_graphs import DECODER, graph_specs
    from molmo_onnx.tiny_random import write_checkpoint

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = bench_config(args.small, args.layers)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    record: Dict[str, Any] = {"torch": torch.__version__, "weights_device": device, "layers": args.layers,
                              "small": args.small, "d_model": config.hidden_size, "vocab": config.n_embeddings}
    started = time.monotonic()
    weights = bench_weights(config, args.seed, device)
    record["parameters"] = sum(w.numel() for w in weights.values())
    write_checkpoint(out / "checkpoint", config, weights, dtype=torch.float16)
    del weights
    record["checkpoint_s"] = time.monotonic() - started
    _log(f"checkpoint: {record['parameters']:,} parameters in {record['checkpoint_s']:.1f} s")

    tokenizer_dir = out / "tokenizer"
    tokenizer_dir.mkdir()
    shutil.copyfile(args.tokenizer, tokenizer_dir / "tokenizer.json")
    tokenizer_config = REPO_ROOT / "tests" / "fixtures" / "tokenizer" / "molmo-7b-d-tokenizer-config.json"
    shutil.copyfile(tokenizer_config, tokenizer_dir / "tokenizer_config.json")
    started = time.monotonic()
    export_bundle(out / "checkpoint", out / "plain", ExportOptions(dtype="fp16", tokenizer=tokenizer_dir))
    record["export_plain_s"] = time.monotonic() - started
    _log(f"plain fp16 bundle in {record['export_plain_s']:.1f} s")

    started = time.monotonic()
    model = load_pretrained(out / "checkpoint", torch.float16)
    derive_fused_bundle(out / "plain", out / "fused", model, 17)
    spec = graph_specs(config, "float16")[DECODER]
    build_fused_decoder(model, spec, out / "head_only.onnx", 17, "auto", num_layers=0)
    del model
    record["export_fused_s"] = time.monotonic() - started
    _log(f"fused decoder and head-only graph in {record['export_fused_s']:.1f} s")
    record.update(checkpoint=str(out / "checkpoint"), plain=str(out / "plain"), fused=str(out / "fused"),
                  head_only=str(out / "head_only.onnx"), plain_bytes=_folder_bytes(out / "plain"),
                  decoder_bytes={kind: sum(p.stat().st_size for p in (out / kind / "onnx").glob(f"{DECODER}.onnx*"))
                                 for kind in ("plain", "fused")})
    return record


# ----------------------------------------------------------------------------------------------
# serve


def read_inputs(folder: Path, device: str):
    import numpy as np
    import torch

    meta = json.loads((folder / "inputs.json").read_text(encoding="utf-8"))

    def tensor(name: str, dtype) -> "torch.Tensor":
        entry = meta[name]
        return torch.from_numpy(np.fromfile(folder / entry["file"], dtype=dtype).reshape(entry["shape"])).to(device)

    return (tensor("input_ids", "<i8"), tensor("crops", "<f4"), tensor("image_masks", "<f4"),
            tensor("image_input_idx", "<i8"))


def median(values: List[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class Clock:
    """Wall time between points where the device has finished its queued work."""

    def __init__(self, device: str):
        import torch

        self.sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def now(self) -> float:
        self.sync()
        return time.perf_counter()


def one_question(model, inputs, new_tokens: int, clock: Clock, dtype) -> Dict[str, Any]:
    import torch

    from molmo_onnx.model import add_image_features

    input_ids, crops, image_masks, image_input_idx = inputs
    device = input_ids.device
    length = input_ids.shape[1]
    t0 = clock.now()
    features = model.encode_images(crops.to(dtype), image_masks.to(dtype))
    t1 = clock.now()
    embeds = add_image_features(model.embed_tokens(input_ids), features[None], image_input_idx[None])
    t2 = clock.now()
    logits, cache = model.decode(embeds, torch.ones(1, length, dtype=torch.int64, device=device),
                                 torch.arange(length, device=device)[None], model.empty_kv_cache(1), last_logits_only=True)
    token = int(torch.argmax(logits[0, -1]))
    t3 = clock.now()
    tokens, step_ms = [token], []
    for step in range(1, new_tokens):
        s0 = clock.now()
        logits, cache = model.decode(model.embed_tokens(torch.tensor([[token]], device=device)),
                                     torch.ones(1, length + step, dtype=torch.int64, device=device),
                                     torch.tensor([[length + step - 1]], device=device), cache)
        token = int(torch.argmax(logits[0, -1]))
        step_ms.append((clock.now() - s0) * 1000)
        tokens.append(token)
    return {"vision_ms": (t1 - t0) * 1000, "embed_ms": (t2 - t1) * 1000, "prefill_ms": (t3 - t2) * 1000,
            "ttft_ms": (t3 - t0) * 1000, "step_ms": step_ms, "tokens": tokens, "cache_length": length + new_tokens - 1}


def fixed_step_ms(model, clock: Clock, runs: int = 30) -> float:
    """A decode step with no decoder blocks: the token's embedding, final norm, LM head, argmax (what
    Molmo.decode computes around its blocks for one new token)."""
    import torch

    device = model.transformer.ff_out.weight.device
    times = []
    for _ in range(runs):
        s0 = clock.now()
        x = model.embed_tokens(torch.tensor([[7]], device=device))
        logits = model.transformer.ff_out(model.transformer.ln_f(x))
        int(torch.argmax(logits[0, -1]))
        times.append((clock.now() - s0) * 1000)
    return median(times[3:])


def serve(args: argparse.Namespace) -> None:
    import torch

    from molmo_onnx.checkpoint import load_pretrained

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    started = time.perf_counter()
    model = load_pretrained(args.checkpoint, dtype, device=device)
    load_ms = (time.perf_counter() - started) * 1000
    inputs = read_inputs(Path(args.inputs), device)
    clock = Clock(device)
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    _say({"ready": {"torch_version": torch.__version__, "device": gpu, "dtype": args.dtype, "load_ms": load_ms,
                    "sequence_length": int(inputs[0].shape[1]), "n_crops": int(inputs[1].shape[0])}})
    for line in sys.stdin:
        command = line.strip()
        if command == "end":
            break
        if command != "run":
            raise SystemExit(f"unknown command {command!r}")
        with torch.no_grad():
            _say({"run": one_question(model, inputs, args.new_tokens, clock, dtype)})
    with torch.no_grad():
        fixed = fixed_step_ms(model, clock)
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else None
    _say({"end": {"fixed_step_ms": fixed, "peak_device_bytes": peak}})


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("--out", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--small", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    s = commands.add_parser("serve")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--inputs", required=True)
    s.add_argument("--new-tokens", type=int, default=16)
    s.add_argument("--device", default="cuda")
    s.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        _say(prepare(args))
    else:
        serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
