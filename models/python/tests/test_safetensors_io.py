"""The safetensors reader/writer: round trips, the byte layout itself, and corrupt files."""

import json
import struct
import tempfile
import unittest
from pathlib import Path

import support  # noqa: F401  (puts molmo_onnx on the path)
import torch

from molmo_onnx.errors import CheckpointError, SafetensorsError
from molmo_onnx.safetensors_io import (INDEX_NAME, SafetensorsFile, ShardedCheckpoint, load_file, save_file,
                                       save_sharded)


def sample_tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "f64": torch.randn(3, generator=g, dtype=torch.float64),
        "f32": torch.randn(2, 3, 4, generator=g),
        "f16": torch.randn(5, generator=g).half(),
        "bf16": torch.randn(4, 2, generator=g).bfloat16(),
        "i64": torch.tensor([-(2 ** 40), 0, 2 ** 40]),
        "i32": torch.tensor([[-7, 8]], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "strided": torch.arange(12.0).reshape(3, 4).t(),  # non-contiguous input
    }


class RoundTrip(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_every_dtype_and_shape_survives(self):
        tensors = sample_tensors()
        path = self.dir / "all.safetensors"
        save_file(tensors, path, metadata={"format": "pt", "note": "x"})
        loaded = load_file(path)
        self.assertEqual(set(loaded), set(tensors))
        for name, tensor in tensors.items():
            self.assertEqual(loaded[name].dtype, tensor.dtype, name)
            self.assertEqual(loaded[name].shape, tensor.shape, name)
            self.assertTrue(torch.equal(loaded[name], tensor), name)
        self.assertEqual(SafetensorsFile(path).metadata, {"format": "pt", "note": "x"})

    def test_written_bytes_follow_the_format(self):
        tensors = {"b": torch.tensor([1.5, -2.0]), "a": torch.tensor([7], dtype=torch.int64),
                   "h": torch.tensor([1.0], dtype=torch.bfloat16)}
        path = self.dir / "layout.safetensors"
        save_file(tensors, path)
        raw = path.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0, "data section starts 8-byte aligned")
        header = json.loads(raw[8:8 + n])
        data = raw[8 + n:]
        self.assertEqual(header["a"], {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]})
        self.assertEqual(struct.unpack("<q", data[0:8]), (7,))
        begin, end = header["b"]["data_offsets"]
        self.assertEqual(header["b"]["dtype"], "F32")
        self.assertEqual(struct.unpack("<2f", data[begin:end]), (1.5, -2.0))
        begin, end = header["h"]["data_offsets"]
        self.assertEqual(data[begin:end], struct.pack("<H", 0x3F80), "bf16 1.0 is 0x3F80")
        self.assertEqual(len(data), 8 + 8 + 2)

    def test_reads_a_file_built_by_hand(self):
        header = {"__metadata__": {"k": "v"},
                  "w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
                  "i": {"dtype": "I32", "shape": [1, 1], "data_offsets": [4, 8]}}
        raw = json.dumps(header).encode()
        blob = struct.pack("<Q", len(raw)) + raw + struct.pack("<2e", 0.5, -3.0) + struct.pack("<i", -9)
        path = self.dir / "hand.safetensors"
        path.write_bytes(blob)
        loaded = load_file(path)
        self.assertTrue(torch.equal(loaded["w"], torch.tensor([0.5, -3.0], dtype=torch.float16)))
        self.assertTrue(torch.equal(loaded["i"], torch.tensor([[-9]], dtype=torch.int32)))

    def test_sharded_checkpoint_reads_all_shards(self):
        tensors = {f"t{i}": torch.full((i + 1,), float(i)) for i in range(7)}
        paths = save_sharded(tensors, self.dir, 3)
        self.assertEqual(len(paths), 3)
        index = json.loads((self.dir / INDEX_NAME).read_text())
        self.assertEqual(set(index["weight_map"]), set(tensors))
        checkpoint = ShardedCheckpoint(self.dir)
        self.assertEqual(set(checkpoint.keys()), set(tensors))
        for name, tensor in tensors.items():
            self.assertTrue(torch.equal(checkpoint.get_tensor(name), tensor))


class CorruptFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, blob: bytes) -> Path:
        path = self.dir / "bad.safetensors"
        path.write_bytes(blob)
        return path

    def file_with_header(self, header, data: bytes = b"\0" * 8) -> Path:
        raw = json.dumps(header).encode()
        return self.write(struct.pack("<Q", len(raw)) + raw + data)

    def assert_code(self, code, path):
        with self.assertRaises(SafetensorsError) as caught:
            SafetensorsFile(path)
        self.assertEqual(caught.exception.code, code, str(caught.exception))
        return caught.exception

    def test_too_short(self):
        self.assert_code("corrupt", self.write(b"\x01\x02"))

    def test_header_length_beyond_file(self):
        self.assert_code("corrupt", self.write(struct.pack("<Q", 10 ** 6) + b"{}"))

    def test_header_not_json(self):
        self.assert_code("corrupt", self.write(struct.pack("<Q", 4) + b"{no}"))

    def test_offsets_outside_data(self):
        self.assert_code("corrupt", self.file_with_header({"x": {"dtype": "F32", "shape": [4],
                                                                 "data_offsets": [0, 16]}}))

    def test_byte_count_does_not_match_shape(self):
        error = self.assert_code("corrupt", self.file_with_header({"x": {"dtype": "F32", "shape": [3],
                                                                         "data_offsets": [0, 8]}}))
        self.assertIn("needs 12", str(error))

    def test_unknown_dtype(self):
        self.assert_code("unsupported_dtype", self.file_with_header({"x": {"dtype": "F8_E4M3", "shape": [8],
                                                                           "data_offsets": [0, 8]}}))

    def test_missing_file(self):
        self.assert_code("file_missing", self.dir / "nope.safetensors")

    def test_folder_without_weights_names_bin_files(self):
        (self.dir / "pytorch_model.bin").write_bytes(b"")
        with self.assertRaises(CheckpointError) as caught:
            ShardedCheckpoint(self.dir)
        self.assertEqual(caught.exception.code, "weights_missing")
        self.assertIn("pytorch_model.bin", str(caught.exception))

    def test_index_naming_a_missing_shard(self):
        save_sharded({"a": torch.zeros(1), "b": torch.ones(1)}, self.dir, 2)
        (self.dir / "model-00002-of-00002.safetensors").unlink()
        with self.assertRaises(CheckpointError) as caught:
            ShardedCheckpoint(self.dir)
        self.assertEqual(caught.exception.code, "shard_missing")


if __name__ == "__main__":
    unittest.main()
