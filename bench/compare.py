"""Loads two weight files of the same format (.pth with torch, .safetensors with numpy + json,
.onnx's initializers with onnx) and checks that they hold the same names, dtypes, shapes and values.

usage: compare.py a b    (prints 'equal N tensors' or what differs; exit 1 when they differ)
"""
import json
import struct
import sys

import numpy as np


def load(path):
    if path.endswith(".safetensors"):
        types = {"F32": np.float32, "F64": np.float64, "F16": np.float16}
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            data = f.read()
        return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=types[v["dtype"]]).reshape(v["shape"])
                for k, v in header.items() if k != "__metadata__"}
    if path.endswith(".onnx"):
        import onnx
        from onnx import numpy_helper
        return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    import torch
    return {k: v.numpy() for k, v in torch.load(path, weights_only=True).items()}


a, b = load(sys.argv[1]), load(sys.argv[2])
problems = []
if sorted(a) != sorted(b):
    problems.append(f"keys differ: only in first {sorted(set(a) - set(b))}, only in second {sorted(set(b) - set(a))}")
for k in sorted(set(a) & set(b)):
    x, y = a[k], b[k]
    if x.dtype != y.dtype or x.shape != y.shape:
        problems.append(f"{k}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
    elif not np.array_equal(x, y):
        problems.append(f"{k}: values differ (max abs {float(np.abs(x - y).max())})")
if problems:
    print("DIFFERENT: " + "; ".join(problems))
    sys.exit(1)
print(f"equal {len(a)} tensors")
