"""Reads two Keras weights files with h5py and checks that they hold the same root attributes, layer
and weight names, dtypes, shapes and values.

usage: compare_h5.py a.h5 b.h5    (prints 'equal N datasets' or what differs; exit 1 when they differ)
"""
import sys

import h5py
import numpy as np


def names(obj, attr):
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.atleast_1d(obj.attrs[attr])]


problems = []
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
    for attr in ("layer_names", "backend", "keras_version"):
        if names(a, attr) != names(b, attr):
            problems.append(f"{attr}: {names(a, attr)} vs {names(b, attr)}")
    count = 0
    for layer in names(a, "layer_names"):
        wa, wb = names(a[layer], "weight_names"), names(b[layer], "weight_names")
        if wa != wb:
            problems.append(f"{layer} weight_names: {wa} vs {wb}")
            continue
        for w in wa:
            x, y = a[layer][w], b[layer][w]
            count += 1
            if x.dtype != y.dtype or x.shape != y.shape:
                problems.append(f"{layer}/{w}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
            elif not np.array_equal(x[()], y[()]):
                problems.append(f"{layer}/{w}: values differ")
if problems:
    print("DIFFERENT: " + "; ".join(problems))
    sys.exit(1)
print(f"equal {count} datasets")
