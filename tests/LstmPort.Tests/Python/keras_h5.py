"""Keras weights files seen through h5py, for the Keras HDF5 writer's tests. Prints JSON.

Usage:
  keras_h5.py structure FILE        attributes (with their HDF5 string kind), groups and datasets
                                    (dtype, shape, storage layout, values) of the weights group
  keras_h5.py offsets FILE          every dataset's byte offset and storage size in the file (h5py's
                                    get_offset), in the order the weight_names list them
  keras_h5.py load FILE REFERENCE   tf.keras's load_weights on FILE for the model REFERENCE was saved
                                    from (its layers with weights and their shapes), then the values
                                    compared with REFERENCE's, loaded the same way

The loader below follows tf.keras 2.x keras/saving/hdf5_format.py (load_weights_from_hdf5_group,
load_attributes_from_hdf5_group) and Model.load_weights's choice of group, minus the Keras 1 and
CuDNN conversions (not used for Keras 2 files of plain layers) and with the shape check that
backend.batch_set_value's assign makes.
"""
import json, sys
import h5py, numpy as np

LAYOUTS = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked"}


def weights_group(f):
    # Model.load_weights: a full-model file keeps the weights under model_weights.
    if "layer_names" not in f.attrs and "model_weights" in f:
        return f["model_weights"]
    return f


def attribute(obj, name):
    t = obj.attrs.get_id(name).get_type()
    value = obj.attrs[name]
    info = {"python": type(value).__name__}
    if isinstance(t, h5py.h5t.TypeStringID):
        info["string"] = "variable" if t.is_variable_str() else "fixed"
        info["width"] = None if t.is_variable_str() else t.get_size()
    arr = np.asarray(value)
    info["shape"] = list(arr.shape)
    info["kind"] = arr.dtype.kind
    info["value"] = [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in arr.ravel()] if arr.dtype.kind in "SOU" else arr.tolist()
    return info


def structure(path):
    with h5py.File(path, "r") as f:
        g = weights_group(f)
        out = {"root": g.name, "attributes": {}, "groups": {}, "datasets": {}}

        def visit(name, obj):
            key = obj.name[len(g.name):].lstrip("/") if g.name != "/" else obj.name.lstrip("/")
            if isinstance(obj, h5py.Dataset):
                out["datasets"][key] = {
                    "dtype": obj.dtype.str, "shape": list(obj.shape), "chunks": obj.chunks,
                    "layout": LAYOUTS.get(obj.id.get_create_plist().get_layout(), "other"),
                    "compression": obj.compression, "values": np.asarray(obj, dtype=np.float64).ravel().tolist()}
            else:
                out["groups"][key] = {a: attribute(obj, a) for a in obj.attrs}

        out["attributes"] = {a: attribute(g, a) for a in g.attrs if a not in ("model_config", "training_config")}
        g.visititems(visit)
        return out


# --- tf.keras 2.x hdf5_format.py, the parts that read layer_names, weight_names and values ---
def load_attributes_from_hdf5_group(group, name):
    if name in group.attrs:
        data = [n.decode("utf8") if hasattr(n, "decode") else n for n in group.attrs[name]]
    else:
        data = []
        chunk_id = 0
        while "%s%d" % (name, chunk_id) in group.attrs:
            data.extend([n.decode("utf8") if hasattr(n, "decode") else n for n in group.attrs["%s%d" % (name, chunk_id)]])
            chunk_id += 1
    return data


def load_weights_from_hdf5_group(f, layers):
    """layers: [(name, [shape, ...])] for the model's layers (those without weights have [])."""
    if "keras_version" in f.attrs:
        original_keras_version = f.attrs["keras_version"]
        if hasattr(original_keras_version, "decode"):
            original_keras_version = original_keras_version.decode("utf8")
    else:
        original_keras_version = "1"
    if "backend" in f.attrs:
        original_backend = f.attrs["backend"]
        if hasattr(original_backend, "decode"):
            original_backend = original_backend.decode("utf8")
    else:
        original_backend = None

    filtered_layers = [layer for layer in layers if layer[1]]
    layer_names = load_attributes_from_hdf5_group(f, "layer_names")
    filtered_layer_names = []
    for name in layer_names:
        g = f[name]
        weight_names = load_attributes_from_hdf5_group(g, "weight_names")
        if weight_names:
            filtered_layer_names.append(name)
    layer_names = filtered_layer_names
    if len(layer_names) != len(filtered_layers):
        raise ValueError("You are trying to load a weight file containing %d layers into a model with %d layers."
                         % (len(layer_names), len(filtered_layers)))

    assigned = []
    for k, name in enumerate(layer_names):
        g = f[name]
        weight_names = load_attributes_from_hdf5_group(g, "weight_names")
        weight_values = [np.asarray(g[weight_name]) for weight_name in weight_names]
        layer_name, symbolic_shapes = filtered_layers[k]
        if len(weight_values) != len(symbolic_shapes):
            raise ValueError("Layer #%d (named %s) expects %d weights, but the saved weights have %d elements."
                             % (k, layer_name, len(symbolic_shapes), len(weight_values)))
        for shape, value in zip(symbolic_shapes, weight_values):
            if tuple(shape) != value.shape:  # what Variable.assign refuses
                raise ValueError("Layer %s: shape %s vs saved %s" % (layer_name, shape, value.shape))
        assigned.append((layer_name, weight_values))
    return original_keras_version, original_backend, assigned


def model_of(reference):
    """The layers of the model a reference file was saved from, as the loader sees their weights."""
    with h5py.File(reference, "r") as f:
        g = weights_group(f)
        layers = []
        for name in load_attributes_from_hdf5_group(g, "layer_names"):
            names = load_attributes_from_hdf5_group(g[name], "weight_names")
            layers.append((name, [g[name][w].shape for w in names]))
        return layers


def load(path, reference):
    model = model_of(reference)
    with h5py.File(path, "r") as f:
        version, backend, ours = load_weights_from_hdf5_group(weights_group(f), model)
    with h5py.File(reference, "r") as f:
        _, _, theirs = load_weights_from_hdf5_group(weights_group(f), model)
    diff = max(float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
               for (_, xs), (_, ys) in zip(ours, theirs) for a, b in zip(xs, ys))
    dtypes = sorted({a.dtype.str for _, xs in ours for a in xs})
    return {"keras_version": version, "backend": backend, "layers": [n for n, _ in ours],
            "weights": sum(len(xs) for _, xs in ours), "max_abs_diff": diff, "dtypes": dtypes,
            "same_dtypes": all(a.dtype == b.dtype for (_, xs), (_, ys) in zip(ours, theirs) for a, b in zip(xs, ys))}


def offsets(path):
    with h5py.File(path, "r") as f:
        g = weights_group(f)
        out = []
        for layer in load_attributes_from_hdf5_group(g, "layer_names"):
            for w in load_attributes_from_hdf5_group(g[layer], "weight_names"):
                d = g[layer][w]
                out.append({"name": layer + "/" + w, "offset": d.id.get_offset(), "size": d.id.get_storage_size()})
        return {"datasets": out}


if __name__ == "__main__":
    cmd = sys.argv[1]
    result = structure(sys.argv[2]) if cmd == "structure" else offsets(sys.argv[2]) if cmd == "offsets" else load(sys.argv[2], sys.argv[3])
    print(json.dumps(result))
