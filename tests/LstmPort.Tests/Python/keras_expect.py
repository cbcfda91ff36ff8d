"""Independent look at a Keras weight file with h5py (no LstmPort logic): prints JSON with, per layer
that has weights, its class and settings from the model config, and each stored weight's name,
shape, dtype and values. Keras 1 per-gate arrays are also concatenated here (numpy, i,f,c,o /
z,r,h order by their gate letter) so tests can compare value by value.
Usage: keras_expect.py FILE"""
import io, json, re, sys, zipfile
import h5py, numpy as np

MODELS = {"Sequential", "Model", "Functional"}


def names(attrs, key):
    if key in attrs:
        raw = attrs[key]
    elif key + "0" in attrs:
        raw, i = [], 0
        while f"{key}{i}" in attrs:
            raw.extend(list(attrs[f"{key}{i}"])); i += 1
    else:
        return None
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(raw).ravel()]


def text(v):
    return v.decode() if isinstance(v, bytes) else (None if v is None else str(v))


def config_layers(model, out):
    cfg = model.get("config")
    layers = cfg if isinstance(cfg, list) else (cfg or {}).get("layers", []) if isinstance(cfg, dict) else []
    for layer in layers:
        name = (layer.get("config") or {}).get("name") or layer.get("name")
        out.setdefault(name, layer)
        if layer.get("class_name") in MODELS:
            config_layers(layer, out)
    return out


def settings(layer):
    if layer is None:
        return None
    cls, cfg, merge = layer["class_name"], layer.get("config", {}), None
    bidi = False
    while cls in ("Bidirectional", "TimeDistributed"):
        if cls == "Bidirectional":
            bidi, merge = True, cfg.get("merge_mode")
        cls, cfg = cfg["layer"]["class_name"], cfg["layer"].get("config", {})
    act = lambda k: cfg.get(k) if not isinstance(cfg.get(k), dict) else None
    return {"class_name": cls, "bidirectional": bidi, "merge_mode": merge,
            "units": cfg.get("units", cfg.get("output_dim")),
            "activation": act("activation"),
            "recurrent_activation": act("recurrent_activation") or act("inner_activation"),
            "go_backwards": cfg.get("go_backwards"), "return_sequences": cfg.get("return_sequences"),
            "stateful": cfg.get("stateful"), "reset_after": cfg.get("reset_after")}


def weight(name, d):
    a = np.asarray(d)
    return {"name": name, "shape": list(a.shape), "dtype": str(a.dtype),
            "sum": float(a.astype(np.float64).sum()), "values": a.astype(np.float64).ravel().tolist() if a.size <= 20000 else None}


def keras1_joined(weights, arrays):
    """Keras 1 per-gate arrays -> {joined name: values} in Keras gate order."""
    out = {}
    groups = {}
    for w in weights:
        m = re.match(r"^(.*_[WUb])_([a-z])(:\d+)?$", w["name"])
        if m:
            groups.setdefault(m.group(1) + (m.group(3) or ""), {})[m.group(2)] = arrays[w["name"]]
    for joined, gates in groups.items():
        order = "ifco" if set(gates) == set("ifco") else "zrh"
        out[joined] = np.concatenate([gates[g] for g in order], axis=-1).astype(np.float64).ravel().tolist()
    return out


def from_h5(path):
    f = h5py.File(path, "r")
    version, backend = text(f.attrs.get("keras_version")), text(f.attrs.get("backend"))
    root = f
    if names(f.attrs, "layer_names") is None and "model_weights" in f:
        root = f["model_weights"]
        version = version or text(root.attrs.get("keras_version"))
        backend = backend or text(root.attrs.get("backend"))
    layer_names = names(root.attrs, "layer_names")
    if layer_names is None:
        return {"keras": False}
    configs = config_layers(json.loads(text(f.attrs["model_config"])), {}) if "model_config" in f.attrs else {}
    layers = []
    for ln in layer_names:
        g = root[ln]
        wn = names(g.attrs, "weight_names") or []
        if not wn:
            continue
        ws = [weight(n, g[n]) for n in wn]
        arrays = {n: np.asarray(g[n]) for n in wn}
        layers.append({"name": ln, "config": settings(configs.get(ln)), "weights": ws,
                       "keras1_joined": keras1_joined(ws, arrays)})
    return {"keras": True, "keras_version": version, "backend": backend, "layers": layers}


def from_archive(path):
    z = zipfile.ZipFile(path)
    config = json.loads(z.read("config.json"))
    version = json.loads(z.read("metadata.json")).get("keras_version") if "metadata.json" in z.namelist() else None
    f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    owners = {}
    def visit(name, obj):
        if isinstance(obj, h5py.Group) and name.endswith("/vars") and "name" in obj.attrs:
            owners.setdefault(text(obj.attrs["name"]), name[: -len("/vars")])
    f.visititems(visit)
    configs = config_layers(config, {})
    layers = []
    for ln, layer in configs.items():
        if layer.get("class_name") in MODELS or ln not in owners:
            continue
        ws = []
        def collect(name, obj):
            if isinstance(obj, h5py.Dataset):
                ws.append((name, obj))
        f[owners[ln]].visititems(collect)
        if not ws:
            continue
        # Keras order: forward before backward, then by position.
        key = lambda nw: (("backward_layer" in nw[0]), nw[0].rsplit("/", 1)[0], int(nw[0].rsplit("/", 1)[1]))
        ws = [weight(owners[ln] + "/" + n, d) for n, d in sorted(ws, key=key)]
        layers.append({"name": ln, "config": settings(layer), "weights": ws, "keras1_joined": {}})
    return {"keras": True, "keras_version": version, "backend": None, "layers": layers}


path = sys.argv[1]
print(json.dumps(from_archive(path) if zipfile.is_zipfile(path) else from_h5(path)))
