"""Independent check of a Keras-to-PyTorch conversion, with real PyTorch and a numpy
implementation of the Keras equations.

  conversion_check.py make KIND PATH   writes a tf.keras 2.x full-model .h5 (h5py) for a scenario
  conversion_check.py compare SPEC     prints {"layers": {name: max_abs_error}, "stack": error}

SPEC (JSON) names a safetensors file of Keras-layout weights (as LstmPort read them), the .pth
LstmPort wrote, and per layer its settings and tensor names. Inputs are seeded uniform(-1, 1)."""
import json, struct, sys
import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"]).astype(np.float64)
    return out


# ---- Keras equations (keras/layers/recurrent.py, tf.keras LSTMCell/GRUCell/SimpleRNNCell) ----
def activation(name, flavour):
    if name in (None, "linear"):
        return lambda x: x
    if name == "hard_sigmoid":
        if flavour == "keras3":
            return lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0)
        return lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0)
    return {"tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
            "softsign": lambda x: x / (1 + np.abs(x))}[name]


def cudnn_to_standard(kernel, recurrent, gates):
    # tf-keras hdf5_format._convert_rnn_weights, from CuDNN to plain: per gate k.T.reshape(k.shape, order='F'); recurrent k.T
    k = np.hstack([g.T.reshape(g.shape, order="F") for g in np.hsplit(kernel, gates)])
    r = np.hstack([g.T for g in np.hsplit(recurrent, gates)])
    return k, r


def keras_layer(x, layer, w):
    """x: (batch, seq, in) -> (batch, seq, units), final h, final c (LSTM)."""
    kind, h = layer["type"], layer["units"]
    act = activation(layer.get("activation") or "tanh", layer.get("hard_sigmoid"))
    rec = activation(layer.get("recurrent_activation") or "sigmoid", layer.get("hard_sigmoid"))
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
    K, R = w["kernel"], w["recurrent"]
    B = w.get("bias")
    if layer.get("cudnn"):
        K, R = cudnn_to_standard(K, R, gates)
        if B is not None and B.size == 2 * gates * h:
            B = B.reshape(2, -1)
            if kind == "LSTM":
                B = B[0] + B[1]
    if B is None:
        B = np.zeros(gates * h)
    batch, seq, _ = x.shape
    hs, c = np.zeros((batch, h)), np.zeros((batch, h))
    outs = []
    for t in range(seq):
        xt = x[:, t, :]
        if kind == "LSTM":
            z = xt @ K + hs @ R + B
            i, f, cc, o = np.split(z, 4, axis=1)
            c = rec(f) * c + rec(i) * act(cc)
            hs = rec(o) * act(c)
        elif kind == "GRU":
            reset_after = layer.get("reset_after") or layer.get("cudnn")
            bi, br = (B[0], B[1]) if B.ndim == 2 else (B, np.zeros_like(B))
            mx = xt @ K + bi
            xz, xr, xh = np.split(mx, 3, axis=1)
            if reset_after:
                mh = hs @ R + br
                hz, hr, hh = np.split(mh, 3, axis=1)
                zg, rg = rec(xz + hz), rec(xr + hr)
                cand = act(xh + rg * hh)
            else:
                Rz, Rr, Rh = np.split(R, 3, axis=1)
                zg, rg = rec(xz + hs @ Rz), rec(xr + hs @ Rr)
                cand = act(xh + (rg * hs) @ Rh)
            hs = zg * hs + (1 - zg) * cand
        else:
            hs = act(xt @ K + B + hs @ R)
        outs.append(hs)
    return np.stack(outs, axis=1), hs, c


def keras_forward(x, layer, weights):
    results = []
    for d, names in enumerate(layer["directions"]):
        w = {k: weights[v] for k, v in names.items() if v}
        xi = x[:, ::-1, :] if d == 1 else x
        out, hN, cN = keras_layer(xi, layer, w)
        results.append((out[:, ::-1, :] if d == 1 else out, hN, cN))
    return np.concatenate([r[0] for r in results], axis=2), results


# ---- PyTorch side: the real modules, loaded from the .pth LstmPort wrote ----
def torch_module(layer, depths, sd, module, cell=False):
    kind, h, n_in = layer["type"], layer["units"], layer["input"]
    dirs = len(layer["directions"])
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[kind]
    kw = {"nonlinearity": layer.get("activation") or "tanh"} if kind == "SimpleRNN" else {}
    m = cls(n_in, h, num_layers=depths, bidirectional=dirs == 2, batch_first=True, **kw).double()
    state = {k[len(module) + 1:]: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in sd.items() if k.startswith(module + ".")}
    m.load_state_dict(state, strict=True)
    return m


def compare(spec):
    keras_w = read_safetensors(spec["keras_weights"])
    sd = {k: v.double().numpy() for k, v in torch.load(spec["torch_weights"], weights_only=True).items()}
    rng = np.random.default_rng(spec.get("seed", 1))
    seq, batch = spec.get("seq", 7), spec.get("batch", 3)
    result = {"layers": {}}
    for layer in spec["layers"]:
        x = rng.uniform(-1, 1, (batch, seq, layer["input"]))
        expected, _ = keras_forward(x, layer, keras_w)
        t = layer["torch"]
        m = torch_module(layer, 1, {k.replace(f"_l{t['depth']}", "_l0"): v for k, v in sd.items()
                                   if k.startswith(t["module"] + ".") and f"_l{t['depth']}" in k}, t["module"])
        with torch.no_grad():
            got = m(torch.from_numpy(x))[0].numpy()
        result["layers"][layer["name"]] = float(np.abs(got - expected).max())
    if spec.get("stack"):
        st = spec["stack"]
        layers = [l for l in spec["layers"] if l["name"] in st["layers"]]
        x = rng.uniform(-1, 1, (batch, seq, layers[0]["input"]))
        y = x
        for layer in layers:
            y, _ = keras_forward(y, layer, keras_w)
        m = torch_module(layers[0], len(layers), sd, st["module"])
        with torch.no_grad():
            got = m(torch.from_numpy(x))[0].numpy()
        result["stack"] = float(np.abs(got - y).max())
        if st.get("dense"):
            dk, db = keras_w[st["dense"]["kernel"]], keras_w[st["dense"]["bias"]]
            lin = torch.nn.Linear(dk.shape[0], dk.shape[1]).double()
            lin.load_state_dict({"weight": torch.from_numpy(sd[st["dense"]["module"] + ".weight"]), "bias": torch.from_numpy(sd[st["dense"]["module"] + ".bias"])})
            with torch.no_grad():
                head = lin(torch.from_numpy(got[:, -1, :])).numpy()
            result["dense"] = float(np.abs(head - (y[:, -1, :] @ dk + db)).max())
    print(json.dumps(result))


# ---- Keras files for the scenarios (tf.keras 2.x full-model h5 layout) ----
def make(kind, path):
    import h5py
    rng = np.random.default_rng(11)
    arr = lambda *s: (rng.standard_normal(s) * 0.3).astype(np.float32)
    layers, weights = [], []   # weights: (layer name, [(weight name, array)])

    def rnn(cls, name, units, n_in, bidirectional=False, **cfg):
        inner = {"class_name": cls, "config": {"name": name if not bidirectional else cls.lower(), "units": units, "activation": "tanh",
                 "recurrent_activation": "sigmoid", "use_bias": True, "return_sequences": True, "go_backwards": False, "stateful": False, **cfg}}
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cls]
        cell = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}[cls]
        bias = arr(2, gates * units) if cls == "GRU" and cfg.get("reset_after", True) else arr(gates * units)
        def ws(prefix):
            return [(f"{prefix}/{cell}/kernel:0", arr(n_in, gates * units)), (f"{prefix}/{cell}/recurrent_kernel:0", arr(units, gates * units)),
                    (f"{prefix}/{cell}/bias:0", bias.copy())]
        if bidirectional:
            layers.append({"class_name": "Bidirectional", "config": {"name": name, "layer": inner, "merge_mode": "concat"}})
            weights.append((name, ws(f"{name}/forward_{cls.lower()}") + ws(f"{name}/backward_{cls.lower()}")))
        else:
            layers.append(inner)
            weights.append((name, ws(name)))

    if kind == "stacked4":
        for i, n_in in enumerate([5, 8, 8, 8]):
            rnn("LSTM", "lstm" if i == 0 else f"lstm_{i}", 8, n_in)
        layers.append({"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "linear", "use_bias": True}})
        weights.append(("dense", [("dense/kernel:0", arr(8, 2)), ("dense/bias:0", arr(2))]))
    elif kind == "bilstm":
        rnn("LSTM", "bidirectional", 6, 6, bidirectional=True)
    elif kind == "gru":
        rnn("GRU", "gru", 5, 4, reset_after=True)
    elif kind == "gru-reset-before":
        rnn("GRU", "gru", 5, 4, reset_after=False)
    elif kind == "simplernn-relu":
        rnn("SimpleRNN", "simple_rnn", 6, 3, activation="relu")
    elif kind == "lstm-hard-sigmoid":
        rnn("LSTM", "lstm", 4, 3, recurrent_activation="hard_sigmoid")
    else:
        raise SystemExit("unknown kind " + kind)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.4.0", "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}})
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([n.encode() for n, _ in weights])
        mw.attrs["keras_version"], mw.attrs["backend"] = "2.4.0", "tensorflow"
        for name, ws in weights:
            g = mw.create_group(name)
            g.attrs["weight_names"] = np.array([n.encode() for n, _ in ws])
            for n, v in ws:
                g.create_dataset(n, data=v)


def make_torch(kind, path):
    """A PyTorch state_dict saved by real torch.save."""
    torch.manual_seed(5)
    if kind == "bilstm2":
        modules = {"lstm": torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True), "head": torch.nn.Linear(8, 3)}
    elif kind == "gru2":
        modules = {"gru": torch.nn.GRU(4, 5, num_layers=2, bidirectional=True)}
    elif kind == "rnn":
        modules = {"rnn": torch.nn.RNN(3, 6)}
    else:
        raise SystemExit("unknown kind " + kind)
    sd = {}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            sd[f"{name}.{k}"] = v * 2 if "bias" in k else v   # non-trivial biases on both sides
    torch.save(sd, path)


if sys.argv[1] == "make":
    make(sys.argv[2], sys.argv[3])
    print("{}")
elif sys.argv[1] == "make-torch":
    make_torch(sys.argv[2], sys.argv[3])
    print("{}")
else:
    compare(json.load(open(sys.argv[2])))
