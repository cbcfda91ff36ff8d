"""Writes Keras weight files with h5py in layouts the shared fixtures do not cover, following the
layouts Keras' own savers write (keras/src/legacy/saving/legacy_h5_format.py, saving_lib.py,
tf.keras hdf5_format.py). Prints JSON {weight name: flattened values} for value checks.
Usage: make_keras.py KIND PATH"""
import io, json, sys, zipfile
import h5py, numpy as np

kind, path = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
values = {}


def arr(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def layer_group(root, name, weights, vlen=False):
    g = root.create_group(name)
    names = [n for n, _ in weights]
    g.attrs["weight_names"] = names if vlen else np.array([n.encode() for n in names])
    for n, v in weights:
        g.create_dataset(n, data=v)
        values[n] = v.astype(np.float64).ravel().tolist()
    return g


def rnn_cfg(cls, name, units, **extra):
    cfg = {"name": name, "units": units, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
           "return_sequences": False, "go_backwards": False, "stateful": False}
    cfg.update(extra)
    return {"class_name": cls, "config": cfg}


if kind == "gru-reset-after-weights":          # TF 2 tf.keras save_weights: cell group in the names, bias [2,3h]
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.4.0", "tensorflow"
        f.attrs["layer_names"] = np.array([b"gru", b"dense"])
        layer_group(f, "gru", [("gru/gru_cell/kernel:0", arr(3, 12)), ("gru/gru_cell/recurrent_kernel:0", arr(4, 12)), ("gru/gru_cell/bias:0", arr(2, 12))])
        layer_group(f, "dense", [("dense/kernel:0", arr(4, 2)), ("dense/bias:0", arr(2))])
elif kind == "cudnn-gru-weights":              # Keras 2 CuDNNGRU save_weights: bias [6h]
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.1.5", "tensorflow"
        f.attrs["layer_names"] = np.array([b"cu_dnngru_1"])
        layer_group(f, "cu_dnngru_1", [("cu_dnngru_1/kernel:0", arr(5, 9)), ("cu_dnngru_1/recurrent_kernel:0", arr(3, 9)), ("cu_dnngru_1/bias:0", arr(18))])
elif kind in ("keras3-legacy", "shape-mismatch", "chunked-names"):
    keras3 = kind == "keras3-legacy"
    with h5py.File(path, "w") as f:
        layers = [rnn_cfg("LSTM", "lstm", 8 if kind == "shape-mismatch" else 6, recurrent_activation="hard_sigmoid", return_sequences=True),
                  {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "softmax", "use_bias": True}}]
        f.attrs["keras_version"], f.attrs["backend"] = ("3.5.0" if keras3 else "2.2.4"), "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}})
        mw = f.create_group("model_weights")
        names = ["lstm", "dense"]
        if kind == "chunked-names":                 # Keras splits long name lists into layer_names0, layer_names1, ...
            mw.attrs["layer_names0"], mw.attrs["layer_names1"] = np.array([b"lstm"]), np.array([b"dense"])
        else:
            mw.attrs["layer_names"] = names if keras3 else np.array([n.encode() for n in names])
        p = "sequential/lstm/lstm_cell/" if keras3 else "lstm/"
        layer_group(mw, "lstm", [(p + "kernel" + ("" if keras3 else ":0"), arr(3, 24)), (p + "recurrent_kernel" + ("" if keras3 else ":0"), arr(6, 24)),
                                 (p + "bias" + ("" if keras3 else ":0"), arr(24))], vlen=keras3)
        p = "sequential/dense/" if keras3 else "dense/"
        layer_group(mw, "dense", [(p + "kernel" + ("" if keras3 else ":0"), arr(6, 2)), (p + "bias" + ("" if keras3 else ":0"), arr(2))], vlen=keras3)
elif kind == "not-keras":
    with h5py.File(path, "w") as f:
        f.create_dataset("inputs", data=arr(4, 3))
        f.attrs["note"] = "plain HDF5, no Keras structure"
elif kind == "archive":                         # Keras 3 .keras: config.json + positional vars
    layers = [{"module": "keras.layers", "class_name": "Embedding", "config": {"name": "embedding", "input_dim": 10, "output_dim": 4}},
              {"module": "keras.layers", "class_name": "Bidirectional", "config": {"name": "bidirectional", "merge_mode": "sum",
               "layer": {"module": "keras.layers", "class_name": "LSTM", "config": rnn_cfg("LSTM", "lstm", 5, return_sequences=True)["config"]}}},
              {"module": "keras.layers", "class_name": "GRU", "config": rnn_cfg("GRU", "gru_2", 3, reset_after=False, go_backwards=True)["config"]},
              {"module": "keras.layers", "class_name": "Dense", "config": {"name": "head", "units": 1, "activation": "linear", "use_bias": True}}]
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        def var_group(p, name, arrays):
            g = f.require_group(p + "/vars")
            g.attrs["name"] = name
            for i, v in enumerate(arrays):
                g.create_dataset(str(i), data=v)
                values[p + "/vars/" + str(i)] = v.astype(np.float64).ravel().tolist()
        var_group("layers/embedding", "embedding", [arr(10, 4)])
        var_group("layers/bidirectional", "bidirectional", [])
        for half in ("forward", "backward"):
            var_group(f"layers/bidirectional/{half}_layer", f"{half}_lstm", [])
            var_group(f"layers/bidirectional/{half}_layer/cell", "lstm_cell", [arr(4, 20), arr(5, 20), arr(20)])
        var_group("layers/gru", "gru_2", [])
        var_group("layers/gru/cell", "gru_cell", [arr(10, 9), arr(3, 9), arr(9)])
        var_group("layers/dense", "head", [arr(3, 1), arr(1)])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buf.getvalue())
else:
    sys.exit(f"unknown kind {kind}")
print(json.dumps(values))
