"""Keras 3 weights files (.weights.h5, a .keras archive's model.weights.h5) seen through h5py, for the
Keras 3 reader's and writer's tests. Prints JSON.

Usage:
  keras3_h5.py structure FILE     root attributes; every group with its attributes (name, Python
                                  type, HDF5 string kind, shape); every dataset with dtype, shape,
                                  layout, chunks, compression and a SHA-256 of its raw bytes
  keras3_h5.py count FILE GROUP   how many datasets GROUP holds, all levels down
  keras3_h5.py loop FILE MODE     adds hard links that loop: MODE layer (inside the first layer
                                  with a cell, back to that layer), container (under layers/, back
                                  to layers) or branch (two links back to that layer, so a walk
                                  that follows them doubles at every level)
  keras3_h5.py load FILE REFERENCE   Keras 3's load_weights_only, minus the model: for every
                                  vars group of REFERENCE with datasets, FILE must have the same
                                  group with as many datasets of the same shapes and dtypes (that
                                  is what Layer.load_own_variables checks); prints the groups
                                  loaded and the largest difference of values
"""
import hashlib, json, sys
import h5py, numpy as np

LAYOUTS = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked"}


def attribute(obj, name):
    t = obj.attrs.get_id(name).get_type()
    value = obj.attrs[name]
    info = {"python": type(value).__name__, "shape": list(obj.attrs.get_id(name).shape)}
    if isinstance(t, h5py.h5t.TypeStringID):
        info["string"] = "variable" if t.is_variable_str() else "fixed"
        info["utf8"] = t.get_cset() == h5py.h5t.CSET_UTF8
    info["value"] = value.decode() if isinstance(value, bytes) else value if isinstance(value, str) else np.asarray(value).tolist()
    return info


def structure(path):
    with h5py.File(path, "r") as f:
        out = {"attributes": {a: attribute(f, a) for a in f.attrs}, "groups": {}, "datasets": {}}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                raw = np.asarray(obj)
                out["datasets"][name] = {
                    "dtype": obj.dtype.str, "shape": list(obj.shape), "chunks": obj.chunks, "compression": obj.compression,
                    "layout": LAYOUTS.get(obj.id.get_create_plist().get_layout(), "other"),
                    "sha256": hashlib.sha256(raw.tobytes()).hexdigest(),
                    "values": raw.astype(np.float64).ravel().tolist() if raw.size <= 4096 and raw.dtype.kind in "fiu" else None}
            else:
                out["groups"][name] = {a: attribute(obj, a) for a in obj.attrs}

        f.visititems(visit)
        return out


def count(path, group):
    n = [0]
    with h5py.File(path, "r") as f:
        f[group].visititems(lambda _, o: n.__setitem__(0, n[0] + isinstance(o, h5py.Dataset)))
    return {"count": n[0]}


def loop(path, mode):
    with h5py.File(path, "a") as f:
        if mode in ("layer", "branch"):
            layer = next(f["layers"][k] for k in f["layers"] if "cell" in f["layers"][k])
            layer["cell"]["again"] = layer          # layers/lstm/cell/again -> layers/lstm
            if mode == "branch":
                layer["cell"]["twice"] = layer
            return {"looped": layer.name}
        f["layers"]["back"] = f["layers"]           # layers/back -> layers
        return {"looped": "/layers"}


def load(path, reference):
    loaded, diff = [], 0.0
    with h5py.File(path, "r") as f, h5py.File(reference, "r") as r:
        groups = []
        r.visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) and n.split("/")[-1] == "vars"
                     and not n.startswith("optimizer") and any(isinstance(v, h5py.Dataset) for v in o.values()) else None)
        for g in groups:
            if g not in f:
                raise SystemExit(f"{path} has no {g}")
            mine, theirs = f[g], r[g]
            if len(mine.keys()) != len(theirs.keys()):
                raise SystemExit(f"{g}: {len(mine.keys())} variables, the model has {len(theirs.keys())}")
            for i in range(len(theirs.keys())):
                a, b = np.asarray(mine[str(i)]), np.asarray(theirs[str(i)])
                if a.shape != b.shape or a.dtype != b.dtype:
                    raise SystemExit(f"{g}/{i}: {a.dtype}{a.shape}, the model has {b.dtype}{b.shape}")
                diff = max(diff, float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0)
            loaded.append(g)
    return {"groups": loaded, "max_abs_diff": diff}


cmd = sys.argv[1]
if cmd == "structure":
    print(json.dumps(structure(sys.argv[2])))
elif cmd == "count":
    print(json.dumps(count(sys.argv[2], sys.argv[3])))
elif cmd == "loop":
    print(json.dumps(loop(sys.argv[2], sys.argv[3])))
elif cmd == "load":
    print(json.dumps(load(sys.argv[2], sys.argv[3])))
else:
    sys.exit(f"unknown command {cmd}")
