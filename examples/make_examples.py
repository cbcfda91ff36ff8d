"""Regenerates the example weight files shipped in examples/, deterministically.
Run with Debian's python3-torch and python3-h5py: /usr/bin/python3 examples/make_examples.py

  tiny_lstm.safetensors  a PyTorch LSTM(5, 8) and Linear(8, 1) state_dict, as safetensors
  stacked_lstm.h5        a tf.keras 2.x full model: 4 stacked LSTM(8) layers on 5 inputs, then Dense(1)
"""
import json, os, struct
import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, sd):
    header, blobs, offset = {}, [], 0
    for name, t in sd.items():
        raw = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_stacked_keras(path):
    """The layout tf.keras 2.x model.save() writes: model_config plus model_weights/<layer>/<weight names>."""
    rng = np.random.default_rng(2026)
    layers, groups = [], []
    for i in range(4):
        name = "lstm" if i == 0 else f"lstm_{i}"
        layers.append({"class_name": "LSTM", "config": {"name": name, "units": 8, "activation": "tanh", "recurrent_activation": "sigmoid",
                                                        "use_bias": True, "return_sequences": i < 3, "go_backwards": False, "stateful": False}})
        n_in = 5 if i == 0 else 8
        groups.append((name, [(f"{name}/lstm_cell/kernel:0", rng.normal(0, 0.3, (n_in, 32))),
                              (f"{name}/lstm_cell/recurrent_kernel:0", rng.normal(0, 0.3, (8, 32))),
                              (f"{name}/lstm_cell/bias:0", rng.normal(0, 0.1, 32))]))
    layers.append({"class_name": "Dense", "config": {"name": "dense", "units": 1, "activation": "linear", "use_bias": True}})
    groups.append(("dense", [("dense/kernel:0", rng.normal(0, 0.3, (8, 1))), ("dense/bias:0", rng.normal(0, 0.1, 1))]))
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.4.0", "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}})
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([n.encode() for n, _ in groups])
        mw.attrs["keras_version"], mw.attrs["backend"] = "2.4.0", "tensorflow"
        for name, weights in groups:
            g = mw.create_group(name)
            g.attrs["weight_names"] = np.array([n.encode() for n, _ in weights])
            for n, v in weights:
                g.create_dataset(n, data=v.astype(np.float32))


torch.manual_seed(2026)
lstm, head = torch.nn.LSTM(5, 8), torch.nn.Linear(8, 1)
sd = {"lstm." + k: v for k, v in lstm.state_dict().items()}
sd.update({"head." + k: v for k, v in head.state_dict().items()})
write_safetensors(os.path.join(HERE, "tiny_lstm.safetensors"), sd)
write_stacked_keras(os.path.join(HERE, "stacked_lstm.h5"))
