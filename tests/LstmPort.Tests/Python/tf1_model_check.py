"""A TF1 model written out layer by layer, computed in numpy from the raw TF1 variables
(tf.layers.dense / fully_connected: x @ kernel + bias; BasicLSTMCell in a MultiRNNCell:
tensorflow/python/ops/rnn_cell_impl.py), against real PyTorch modules (nn.Linear, nn.LSTM)
loaded strictly from the .pth LstmPort converted the model to, on the same random input.

SPEC: {"tf1": safetensors of the TF1 variables, "pth": converted file, "input": n, "seq": T, "batch": B,
       "stages": [{"dense": {"kernel", "bias"}, "module": prefix} |
                  {"lstm": [{"kernel", "bias", "forget_bias"}] (depth order), "module": prefix}]}
prints {"max_abs_error": e, "modules": {prefix: [state_dict keys]}}"""
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
    K, b = w[cell["kernel"]], w[cell["bias"]]
    h = K.shape[1] // 4
    B, T, _ = x.shape
    c, m = np.zeros((B, h)), np.zeros((B, h))
    ys = []
    for t in range(T):
        i, j, f, o = np.split(np.concatenate([x[:, t, :], m], axis=1) @ K + b, 4, axis=1)
        c = sigmoid(f + cell["forget_bias"]) * c + sigmoid(i) * np.tanh(j)
        m = sigmoid(o) * np.tanh(c)
        ys.append(m)
    return np.stack(ys, axis=1)


spec = json.load(open(sys.argv[1]))
w = read_safetensors(spec["tf1"])
sd = torch.load(spec["pth"], weights_only=True)
x = np.random.default_rng(5).uniform(-1, 1, (spec["batch"], spec["seq"], spec["input"]))

y_tf, y_torch = x, torch.from_numpy(x)
keys = {}
with torch.no_grad():
    for stage in spec["stages"]:
        prefix = stage["module"] + "."
        state = {k[len(prefix):]: v.double() for k, v in sd.items() if k.startswith(prefix)}
        keys[stage["module"]] = sorted(state)
        if "dense" in stage:
            K, b = w[stage["dense"]["kernel"]], w[stage["dense"]["bias"]]
            y_tf = y_tf @ K + b
            m = torch.nn.Linear(K.shape[0], K.shape[1]).double()
        else:
            cells = stage["lstm"]
            for cell in cells:
                y_tf = tf1_lstm(y_tf, cell, w)
            m = torch.nn.LSTM(y_torch.shape[2], w[cells[0]["kernel"]].shape[1] // 4, num_layers=len(cells), batch_first=True).double()
        m.load_state_dict(state, strict=True)
        y_torch = m(y_torch) if "dense" in stage else m(y_torch)[0]
print(json.dumps({"max_abs_error": float(np.abs(y_torch.numpy() - y_tf).max()), "modules": keys}))
