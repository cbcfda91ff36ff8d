"""TF1 LSTMCell equations (tensorflow/python/ops/rnn_cell_impl.py) in numpy, on the raw TF1
variables, against real PyTorch modules loaded from the .pth LstmPort converted them to.

SPEC: {"tf1": safetensors of the TF1 variables, "pth": converted file, "input": n, "seq": T, "batch": B,
       "cells": [{"kernel", "bias", "projection"|null, "forget_bias", "direction": "fw"|"bw"}] (in depth order, fw before bw),
       "torch": {"mode": "stack"|"cells", "module": prefix | "modules": [cell module per cell]}}
prints {"max_abs_error": e}"""
import json, struct, sys
import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]], dtype="<f4").reshape(e["shape"]).astype(np.float64)
            for k, e in header.items() if k != "__metadata__"}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def tf1_lstm(x, cell, w):
    """x (B,T,in): LSTMCell with optional num_proj; returns outputs m (B,T,out)."""
    K, b = w[cell["kernel"]], w[cell["bias"]] if cell.get("bias") else None
    P = w[cell["projection"]] if cell.get("projection") else None
    h = K.shape[1] // 4
    out = P.shape[1] if P is not None else h
    B, T, _ = x.shape
    c, m = np.zeros((B, h)), np.zeros((B, out))
    ys = []
    for t in range(T):
        z = np.concatenate([x[:, t, :], m], axis=1) @ K
        if b is not None:
            z = z + b
        i, j, f, o = np.split(z, 4, axis=1)
        c = sigmoid(f + cell["forget_bias"]) * c + sigmoid(i) * np.tanh(j)
        m = sigmoid(o) * np.tanh(c)
        if P is not None:
            m = m @ P
        ys.append(m)
    return np.stack(ys, axis=1)


spec = json.load(open(sys.argv[1]))
w = read_safetensors(spec["tf1"])
sd = torch.load(spec["pth"], weights_only=True)
rng = np.random.default_rng(3)
x = rng.uniform(-1, 1, (spec["batch"], spec["seq"], spec["input"]))

# TF1 side: depth by depth, fw and bw (bw reads the reversed sequence) concatenated.
y = x
cells = spec["cells"]
depths = []
for cell in cells:
    if cell["direction"] == "fw":
        depths.append([cell])
    else:
        depths[-1].append(cell)
for pair in depths:
    outs = [tf1_lstm(y, pair[0], w)]
    if len(pair) == 2:
        outs.append(tf1_lstm(y[:, ::-1, :], pair[1], w)[:, ::-1, :])
    y = np.concatenate(outs, axis=2)

t = spec["torch"]
xt = torch.from_numpy(x)
with torch.no_grad():
    if t["mode"] == "stack":
        prefix = t["module"] + "."
        state = {k[len(prefix):]: v.double() for k, v in sd.items() if k.startswith(prefix)}
        K0 = w[cells[0]["kernel"]]
        P0 = w[cells[0]["projection"]] if cells[0].get("projection") else None
        h = K0.shape[1] // 4
        m = torch.nn.LSTM(spec["input"], h, num_layers=len(depths), bidirectional=len(depths[0]) == 2, batch_first=True,
                          proj_size=P0.shape[1] if P0 is not None else 0).double()
        m.load_state_dict(state, strict=True)
        got = m(xt)[0].numpy()
    else:  # one nn.LSTMCell per cell, stepped by hand (unidirectional stacks only)
        seq = xt
        for name, cell in zip(t["modules"], cells):
            prefix = name + "."
            state = {k[len(prefix):]: v.double() for k, v in sd.items() if k.startswith(prefix)}
            h = w[cell["kernel"]].shape[1] // 4
            lc = torch.nn.LSTMCell(seq.shape[2], h).double()
            lc.load_state_dict(state, strict=True)
            hx = (torch.zeros(seq.shape[0], h, dtype=torch.float64), torch.zeros(seq.shape[0], h, dtype=torch.float64))
            steps = []
            for s in range(seq.shape[1]):
                hx = lc(seq[:, s, :], hx)
                steps.append(hx[0])
            seq = torch.stack(steps, 1)
        got = seq.numpy()
print(json.dumps({"max_abs_error": float(np.abs(got - y).max())}))
