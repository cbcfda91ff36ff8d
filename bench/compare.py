"""Loads two .pth files with torch and checks that they hold the same keys, dtypes, shapes and values.

usage: compare.py a.pth b.pth    (prints 'equal N tensors' or what differs; exit 1 when they differ)
"""
import sys

import torch

a = torch.load(sys.argv[1], weights_only=True)
b = torch.load(sys.argv[2], weights_only=True)
problems = []
if sorted(a) != sorted(b):
    problems.append(f"keys differ: only in first {sorted(set(a) - set(b))}, only in second {sorted(set(b) - set(a))}")
for k in sorted(set(a) & set(b)):
    x, y = a[k], b[k]
    if x.dtype != y.dtype or x.shape != y.shape:
        problems.append(f"{k}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
    elif not torch.equal(x, y):
        problems.append(f"{k}: values differ (max abs {float((x - y).abs().max())})")
if problems:
    print("DIFFERENT: " + "; ".join(problems))
    sys.exit(1)
print(f"equal {len(a)} tensors")
