"""Exports a Hugging Face Molmo checkpoint to the ONNX bundle the TypeScript engine loads.

    python3 -m molmo_onnx.export <hf-checkpoint-dir> <bundle-dir> [--dtype fp32|fp16|q4|q8] [--opset 17]
        [--overwrite] [--external-data auto|always|never] [--tokenizer PATH] [--no-tokenizer-json]
        [--weight-storage native|fp16-lossless] [--block-size 32] [--decoder-ops plain|fused]

(run from models/python). The bundle (see shared/docs/architecture.md, "Model bundle"):

    config.json                      the checkpoint's config.json + a "molmo_onnx" section
                                     (bundle_manifest.py): dims, dtypes, graph I/O, KV cache, files
    preprocessor_config.json         copied (or the released defaults, with a warning)
    tokenizer.json, tokenizer_config.json, special_tokens_map.json   copied when present
    onnx/vision_encoder.onnx         crops [n, 576, 588] + image_masks [n, 576] -> image_features [n, 144, d]
    onnx/embed_tokens.onnx           input_ids [B, L] -> inputs_embeds [B, L, d]
    onnx/decoder_model_merged.onnx   inputs_embeds, attention_mask, position_ids, num_logits_to_keep,
                                     past_key_values.* -> logits, present.*   (one graph for prefill and
                                     decode; num_logits_to_keep: 0 = logits for every position, k = the
                                     last k, cut before the LM head)
    onnx/<graph>.onnx_data           the weights, for graphs over 1.8 GB (or with --external-data always)

--decoder-ops picks how the decoder graph is written (same inputs, outputs and KV cache either way):
    plain (default)  traced by torch.onnx.export: standard ONNX ops only, runs on every onnxruntime
                     build and execution provider; attention_mask may hold padding anywhere.
    fused            written with onnxruntime's contrib operators (fused_decoder.py:
                     GroupQueryAttention with its rotary embedding, SkipSimplifiedLayerNormalization,
                     SimplifiedLayerNormalization): what onnxruntime's GPU kernels (WebGPU, CUDA) are
                     tuned for. Needs an onnxruntime with contrib ops (onnxruntime-node has them); the
                     CPU kernel needs head_dim to be a multiple of 16 (Molmo-7B-D: 128); positions come
                     from attention_mask (no left padding); Qwen2-style decoders (7B-D, 72B) only.

q4 / q8: float32 graphs whose decoder MatMuls (attention and MLP projections, LM head) carry int4 /
int8 block-quantised weights (com.microsoft.MatMulNBits, quantize.py); embeddings and the vision
encoder stay float32.

The export is atomic: everything is written into a hidden folder beside <bundle-dir> and renamed
into place at the end, so a failed or interrupted export leaves no half bundle (and, with
--overwrite, the previous bundle untouched). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import onnx
import torch

from . import bundle_manifest as manifest
from .checkpoint import load_pretrained
from .config import MolmoConfig, load_config
from .errors import MolmoError
from .export_errors import ExportError
from .external_data import EXTERNAL_DATA_MODES, place_weights
from .fused_decoder import DECODER_OPS, ORT_OPS_IN_ONNX_DOMAIN, build_fused_decoder, check_supported, checkable_copy
from .onnx_graphs import DECODER, GRAPH_KEYS, GraphSpec, export_graph, graph_specs
from .quantize import DEFAULT_ACCURACY_LEVEL, quantize_file
from .tiny_random import RELEASED_PREPROCESSOR_CONFIG
from .weight_storage import store_float16_where_lossless

log = logging.getLogger("molmo_onnx.export")

# Bundle dtype name -> (torch dtype of the traced model, ONNX I/O dtype name).
DTYPES = {"fp32": (torch.float32, "float32"), "fp16": (torch.float16, "float16"),
          "q4": (torch.float32, "float32"), "q8": (torch.float32, "float32")}
QUANTIZED_BITS = {"q4": 4, "q8": 8}
_DTYPE_ALIASES = {"fp32": "fp32", "float32": "fp32", "fp16": "fp16", "float16": "fp16", "half": "fp16",
                  "q4": "q4", "int4": "q4", "q8": "q8", "int8": "q8"}
WEIGHT_STORAGES = ("native", "fp16-lossless")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
MIN_OPSET = 14


@dataclass
class ExportOptions:
    """What `export_bundle` does besides the defaults; mirrors the CLI flags."""

    dtype: str = "fp32"
    opset: int = 17
    overwrite: bool = False
    external_data: str = "auto"
    # Where tokenizer.json (and its tokenizer_config.json) come from when the checkpoint has none:
    # a tokenizer.json file or a folder holding one.
    tokenizer: Optional[Path] = None
    # False: read the special token ids from tokenizer.json but leave the file out of the bundle,
    # recording in the manifest that the runtime supplies it (the committed fixture does this).
    include_tokenizer_json: bool = True
    weight_storage: str = "native"
    # q4 / q8: weights per quantisation block along K (a power of two >= 16).
    block_size: int = 32
    # "plain" (torch.onnx.export) or "fused" (onnxruntime contrib operators, fused_decoder.py).
    decoder_ops: str = "plain"


def normalise_dtype(dtype: str) -> str:
    key = _DTYPE_ALIASES.get(str(dtype).lower())
    if key is None:
        raise ExportError("unsupported_dtype", f"unknown dtype {dtype!r}: use fp32, fp16, q4 or q8")
    return key


# ----------------------------------------------------------------------------------------------
# Inputs besides the weights: preprocessor and tokenizer files


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError("bad_input", f"{path} is not readable JSON: {error}") from error


def preprocessor_config_for(checkpoint_dir: Path, config: MolmoConfig) -> Dict[str, Any]:
    """The checkpoint's preprocessor_config.json (or the released one), checked against the ViT."""
    path = checkpoint_dir / "preprocessor_config.json"
    if path.is_file():
        data = _read_json(path)
        if not isinstance(data, dict):
            raise ExportError("bad_input", f"{path} must hold a JSON object")
    else:
        log.warning("warning: %s has no preprocessor_config.json; writing the released Molmo-7B-D-0924 "
                    "settings (336 px crops, max_crops 12, overlap margins [4, 4])", checkpoint_dir)
        data = dict(RELEASED_PREPROCESSOR_CONFIG)
    vc = config.vision
    expected = {
        "base_image_input_size": list(vc.image_default_input_size),
        "image_patch_size": vc.image_patch_size,
        "image_token_length_h": vc.pooled_grid[0],
        "image_token_length_w": vc.pooled_grid[1],
    }
    mismatched = [f"{key} is {data[key]!r}, the vision encoder needs {value!r}"
                  for key, value in expected.items() if key in data and data[key] != value]
    if mismatched:
        raise ExportError("config_mismatch", f"preprocessor_config.json does not fit config.json: {'; '.join(mismatched)}")
    return data


def tokenizer_files_for(checkpoint_dir: Path, override: Optional[Path]) -> Dict[str, Path]:
    """The tokenizer files to use, by bundle name: from `override` if given, else the checkpoint."""
    if override is not None:
        override = Path(override)
        if override.is_dir():
            folder, main = override, override / "tokenizer.json"
        else:
            folder, main = override.parent, override
        if not main.is_file():
            raise ExportError("tokenizer_missing", f"--tokenizer {override}: no tokenizer.json there")
    else:
        folder, main = checkpoint_dir, checkpoint_dir / "tokenizer.json"
    files = {"tokenizer.json": main} if main.is_file() else {}
    for name in TOKENIZER_FILES[1:]:
        if (folder / name).is_file():
            files[name] = folder / name
    return files


# ----------------------------------------------------------------------------------------------
# Graph checks


_ELEM_TYPES = {"float32": onnx.TensorProto.FLOAT, "float16": onnx.TensorProto.FLOAT16, "int64": onnx.TensorProto.INT64}


def _value_info_dims(value: onnx.ValueInfoProto) -> List[Any]:
    return [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
            for d in value.type.tensor_type.shape.dim]


def check_graph(path: Path, spec: GraphSpec) -> None:
    """onnx.checker on the saved file, then names, element types and (symbolic) shapes of its I/O.

    A fused decoder is checked through a copy that moves onnxruntime's SimplifiedLayerNormalization out
    of the ai.onnx domain (the checker has no schema for it there; see fused_decoder.checkable_copy)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    ort_ops = any(n.op_type in ORT_OPS_IN_ONNX_DOMAIN and n.domain in ("", "ai.onnx") for n in graph.node)
    checked = checkable_copy(path) if ort_ops else path
    try:
        onnx.checker.check_model(str(checked))
    except onnx.checker.ValidationError as error:
        raise ExportError("check_failed", f"{path.name} fails onnx.checker: {error}") from error
    finally:
        if checked != path:
            checked.unlink()
    for kind, found, wanted in (("inputs", graph.input, spec.inputs), ("outputs", graph.output, spec.outputs)):
        names = [v.name for v in found]
        if names != [t.name for t in wanted]:
            raise ExportError("check_failed", f"{path.name} {kind} are {names}, expected {[t.name for t in wanted]}")
        for value, tensor in zip(found, wanted):
            elem, dims = value.type.tensor_type.elem_type, _value_info_dims(value)
            if elem != _ELEM_TYPES[tensor.dtype] or dims != list(tensor.shape):
                raise ExportError("check_failed",
                                  f"{path.name} {value.name} is {onnx.TensorProto.DataType.Name(elem)} {dims}, "
                                  f"expected {tensor.dtype} {list(tensor.shape)}")


# ----------------------------------------------------------------------------------------------
# The export


def _staging_dir(bundle_dir: Path) -> Path:
    """A hidden folder beside the bundle (same filesystem, so the final rename is atomic)."""
    bundle_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle_dir.name}.partial-", dir=bundle_dir.parent))
    umask = os.umask(0)  # mkdtemp makes the folder private; give the bundle the usual permissions
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    return staging


def _move_into_place(staging: Path, bundle_dir: Path, overwrite: bool) -> None:
    if not bundle_dir.exists() and not bundle_dir.is_symlink():
        os.rename(staging, bundle_dir)
        return
    if not overwrite:
        raise ExportError("bundle_exists", f"{bundle_dir} appeared during the export; pass --overwrite to replace it")
    if not bundle_dir.is_dir():
        raise ExportError("bundle_exists", f"{bundle_dir} exists and is not a folder; not replacing it")
    retired = Path(tempfile.mkdtemp(prefix=f".{bundle_dir.name}.old-", dir=bundle_dir.parent))
    os.rmdir(retired)
    os.rename(bundle_dir, retired)
    try:
        os.rename(staging, bundle_dir)
    except BaseException:
        os.rename(retired, bundle_dir)  # put the previous bundle back
        raise
    shutil.rmtree(retired, ignore_errors=True)


def export_bundle(checkpoint_dir: "str | Path", bundle_dir: "str | Path",
                  options: Optional[ExportOptions] = None) -> Path:
    """Writes the bundle for `checkpoint_dir` at `bundle_dir` (see the module docstring).

    Raises ConfigError / CheckpointError for a bad checkpoint (missing config.json or weights,
    MolmoE, names or shapes that do not match) and ExportError for bad options, an existing
    bundle without overwrite, and graphs that fail their checks. Returns the bundle path.
    """
    options = options or ExportOptions()
    checkpoint_dir, bundle_dir = Path(checkpoint_dir), Path(bundle_dir)
    dtype = normalise_dtype(options.dtype)
    torch_dtype, io_dtype = DTYPES[dtype]
    if options.external_data not in EXTERNAL_DATA_MODES:
        raise ExportError("bad_option", f"external data mode must be one of {', '.join(EXTERNAL_DATA_MODES)}, "
                                        f"got {options.external_data!r}")
    if options.weight_storage not in WEIGHT_STORAGES:
        raise ExportError("bad_option", f"weight storage must be one of {', '.join(WEIGHT_STORAGES)}, "
                                        f"got {options.weight_storage!r}")
    if options.weight_storage == "fp16-lossless" and dtype != "fp32":
        raise ExportError("bad_option", "--weight-storage fp16-lossless applies to --dtype fp32 only "
                                        "(an fp16 bundle stores float16 already)")
    if dtype in QUANTIZED_BITS and (options.block_size < 16 or options.block_size & (options.block_size - 1)):
        raise ExportError("bad_option", f"--block-size must be a power of two >= 16, got {options.block_size}")
    if options.decoder_ops not in DECODER_OPS:
        raise ExportError("bad_option", f"decoder ops must be one of {', '.join(DECODER_OPS)}, got {options.decoder_ops!r}")
    if not isinstance(options.opset, int) or options.opset < MIN_OPSET:
        raise ExportError("bad_option", f"opset must be an integer >= {MIN_OPSET}, got {options.opset!r}")
    if (bundle_dir.exists() or bundle_dir.is_symlink()) and not options.overwrite:
        raise ExportError("bundle_exists", f"{bundle_dir} already exists; pass --overwrite to replace it")
    if not checkpoint_dir.is_dir():
        raise ExportError("checkpoint_missing", f"checkpoint folder not found: {checkpoint_dir}")

    started = time.monotonic()
    config = load_config(checkpoint_dir)  # ConfigError: missing, malformed, MolmoE
    if options.decoder_ops == "fused":
        check_supported(config)  # before the long part
        if config.head_dim % 16:
            log.warning("warning: head_dim %d is not a multiple of 16: onnxruntime's CPU GroupQueryAttention kernel "
                        "refuses it (GPU providers may not)", config.head_dim)
    hf_config = _read_json(checkpoint_dir / "config.json")
    preprocessor = preprocessor_config_for(checkpoint_dir, config)
    tokenizer_files = tokenizer_files_for(checkpoint_dir, options.tokenizer)
    special_tokens = None  # read before the long part, so a bad tokenizer fails at once
    if "tokenizer.json" in tokenizer_files:
        tokenizer_json = _read_json(tokenizer_files["tokenizer.json"])
        tokenizer_config = (_read_json(tokenizer_files["tokenizer_config.json"])
                            if "tokenizer_config.json" in tokenizer_files else None)
        special_tokens = manifest.special_tokens_from(tokenizer_json, tokenizer_config)
        _check_special_tokens(special_tokens, config)
    else:
        log.warning("warning: no tokenizer.json in %s; the bundle will have none and no special token ids "
                    "(pass --tokenizer PATH)", checkpoint_dir)

    log.info("loading %s as %s (%s, %d layers, d_model %d)", checkpoint_dir, dtype, manifest.variant_of(config),
             config.num_hidden_layers, config.hidden_size)
    model = load_pretrained(checkpoint_dir, torch_dtype)  # CheckpointError: weights missing or mismatched
    log.info("loaded %s parameters in %.1f s", f"{sum(p.numel() for p in model.parameters()):,}",
             time.monotonic() - started)

    specs = graph_specs(config, io_dtype)
    staging = _staging_dir(bundle_dir)
    try:
        onnx_dir = staging / "onnx"
        onnx_dir.mkdir()
        graphs: Dict[str, Dict[str, Any]] = {}
        converted = quantized = 0
        for key in GRAPH_KEYS:
            spec = specs[key]
            path = onnx_dir / spec.file_name
            log.info("exporting %s", path.relative_to(staging))
            try:
                if key == DECODER and options.decoder_ops == "fused":
                    build_fused_decoder(model, spec, path, options.opset, options.external_data)
                else:
                    export_graph(model, spec, path, options.opset)
            except MolmoError:
                raise
            except Exception as error:  # torch's own failures: say which graph, keep the cause
                raise ExportError("export_failed", f"torch.onnx.export failed for {key}: {error}") from error
            if options.weight_storage == "fp16-lossless":
                converted += store_float16_where_lossless(path)
            if dtype in QUANTIZED_BITS and key == DECODER:
                quantized = quantize_file(path, QUANTIZED_BITS[dtype], options.block_size)
                log.info("  quantised %d MatMuls to int%d (blocks of %d)", quantized, QUANTIZED_BITS[dtype],
                         options.block_size)
            data_path = place_weights(path, options.external_data)
            check_graph(path, spec)
            size = path.stat().st_size + (data_path.stat().st_size if data_path else 0)
            log.info("  %s: %.1f MB%s", spec.file_name, size / 1e6,
                     f" (weights in {data_path.name})" if data_path else "")
            graphs[key] = manifest.graph_entry(spec, f"onnx/{data_path.name}" if data_path else None)
        del model

        (staging / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n", encoding="utf-8")
        for name, source in tokenizer_files.items():
            if name == "tokenizer.json" and not options.include_tokenizer_json:
                continue
            shutil.copyfile(source, staging / name)

        section = {
            "export_version": manifest.EXPORT_VERSION,
            "exporter": {"tool": "molmo_onnx.export", "torch": torch.__version__, "onnx": onnx.__version__,
                         "opset": options.opset},
            "variant": manifest.variant_of(config),
            "dtype": dtype,
            "precision": _precision(dtype, io_dtype, options.weight_storage, converted, options.block_size,
                                    quantized),
            "dims": manifest.dims_of(config),
            "vision": manifest.vision_of(config),
            "special_tokens": special_tokens,
            "tokenizer": _tokenizer_entry(tokenizer_files, options.include_tokenizer_json),
            "graphs": graphs,
            "kv_cache": manifest.kv_cache_entry(config, io_dtype),
            "decoder": manifest.decoder_entry(options.decoder_ops),
            "files": manifest.file_entries(staging),
        }
        manifest.write_config(staging, hf_config, section)
        _move_into_place(staging, bundle_dir, options.overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    total = sum(p.stat().st_size for p in bundle_dir.rglob("*") if p.is_file())
    log.info("wrote %s: %.1f MB in %.1f s", bundle_dir, total / 1e6, time.monotonic() - started)
    return bundle_dir


def _check_special_tokens(tokens: Mapping[str, Optional[int]], config: MolmoConfig) -> None:
    limit = config.n_embeddings + config.additional_vocab_size
    missing = [k for k in manifest.IMAGE_TOKENS if tokens.get(k) is None]
    if missing:
        log.warning("warning: the tokenizer lacks Molmo's image tokens %s", ", ".join(missing))
    outside = {k: v for k, v in tokens.items() if v is not None and not 0 <= v < limit}
    if outside:
        raise ExportError("config_mismatch", f"token ids {outside} do not fit the model's {limit} embedding rows")


def _precision(dtype: str, io_dtype: str, storage: str, converted: int, block_size: int,
               quantized: int) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "activations": io_dtype,
        "logits": "float32",
        "kv_cache": io_dtype,
        "image_features": io_dtype,
        "inputs_embeds": io_dtype,
        "vision_inputs": "float32",
        "weights": "float16" if dtype == "fp16" else "float32",
    }
    if dtype == "fp16":
        entry["float32_regions"] = manifest.FLOAT16_FLOAT32_REGIONS
    if dtype in QUANTIZED_BITS:
        bits = QUANTIZED_BITS[dtype]
        entry["weights"] = f"int{bits} for the decoder's MatMuls, float32 elsewhere"
        entry["quantization"] = {
            "op": "com.microsoft.MatMulNBits", "bits": bits, "block_size": block_size,
            "scheme": "asymmetric, per block of K: uint zero point + float32 scale",
            "accuracy_level": DEFAULT_ACCURACY_LEVEL, "graphs": [DECODER], "matmuls_quantized": quantized,
            "not_quantized": "embed_tokens (Gather) and vision_encoder stay float32",
        }
    if storage == "fp16-lossless":
        entry["weight_storage"] = {
            "mode": "fp16-lossless",
            "note": "float32 weights that are exactly representable in float16 are stored as float16 and cast "
                    "back when the session loads; arithmetic is float32",
            "tensors_converted": converted,
        }
    return entry


def _tokenizer_entry(files: Mapping[str, Path], include_json: bool) -> Dict[str, Any]:
    if "tokenizer.json" not in files:
        return {"present": False, "files": [],
                "note": "no tokenizer.json was available at export time; supply the checkpoint's tokenizer.json"}
    bundled = [name for name in files if include_json or name != "tokenizer.json"]
    entry: Dict[str, Any] = {"present": include_json, "files": bundled,
                             "special_tokens_from": files["tokenizer.json"].name}
    if not include_json:
        entry["note"] = ("tokenizer.json is supplied separately (left out to keep the bundle small); "
                         "special_tokens were read from it at export time")
    return entry


# ----------------------------------------------------------------------------------------------
# CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m molmo_onnx.export",
                                     description="Export a Hugging Face Molmo checkpoint to an ONNX bundle.")
    parser.add_argument("checkpoint", type=Path, help="folder with config.json and model.safetensors (or shards)")
    parser.add_argument("bundle", type=Path, help="folder to create (must not exist unless --overwrite)")
    parser.add_argument("--dtype", default="fp32",
                        help="fp32 (default), fp16, or q4 / q8 (int4 / int8 weight-only decoder MatMuls)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle (atomically)")
    parser.add_argument("--external-data", default="auto", choices=EXTERNAL_DATA_MODES,
                        help="weights in <graph>.onnx_data: auto (over 1.8 GB), always, never")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer.json (or its folder) if the checkpoint has none")
    parser.add_argument("--no-tokenizer-json", dest="include_tokenizer_json", action="store_false",
                        help="read special token ids from tokenizer.json but leave it out of the bundle")
    parser.add_argument("--weight-storage", default="native", choices=WEIGHT_STORAGES,
                        help="fp16-lossless: store float32 weights that fit float16 exactly as float16 (fp32 only)")
    parser.add_argument("--block-size", type=int, default=32, help="q4/q8: weights per quantisation block (32)")
    parser.add_argument("--decoder-ops", default="plain", choices=DECODER_OPS,
                        help="plain (default): torch.onnx.export, standard ops; fused: onnxruntime contrib ops "
                             "(GroupQueryAttention, SkipSimplifiedLayerNormalization), faster on GPU providers")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False
    options = ExportOptions(dtype=args.dtype, opset=args.opset, overwrite=args.overwrite,
                            external_data=args.external_data, tokenizer=args.tokenizer,
                            include_tokenizer_json=args.include_tokenizer_json, weight_storage=args.weight_storage,
                            block_size=args.block_size, decoder_ops=args.decoder_ops)
    try:
        export_bundle(args.checkpoint, args.bundle, options)
    except MolmoError as error:
        print(f"export failed: {error}", file=sys.stderr)
        return 1
    finally:
        log.removeHandler(handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
