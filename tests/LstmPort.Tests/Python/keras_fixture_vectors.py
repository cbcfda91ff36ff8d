"""Reads a Keras 1/2 model file and its stored test vectors with h5py, independently of LstmPort.

usage: keras_fixture_vectors.py MODEL.h5 VECTORS.h5 RECURRENT_LAYER DENSE_LAYER

Prints JSON: the recurrent layer's weights in the fused Keras 2 layout (Keras 1 per-gate arrays
W_*, U_*, b_* are concatenated in gate order i,f,c,o, by name, not by file order), its config
from model_config, the Dense layer's kernel and bias, and the stored inputs, recurrent-layer
activations and model predictions (each {shape, values})."""
import json, sys
import h5py
import numpy as np

def js(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "values": a.flatten().tolist()}

def weights(f, layer):
    g = f["model_weights"][layer] if "model_weights" in f else f[layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
    arrays = {n.split("/")[-1].split(":")[0]: np.array(g[n]) for n in names}
    return arrays

def fused(arrays, layer):
    if "kernel" in arrays:
        return arrays["kernel"], arrays["recurrent_kernel"], arrays["bias"]
    pick = lambda kind: np.concatenate([arrays[f"{layer}_{kind}_{gate}"] for gate in "ifco"], axis=-1)
    return pick("W"), pick("U"), pick("b")

def main(model, vectors, rnn, dense):
    with h5py.File(model, "r") as f:
        config = json.loads(f.attrs["model_config"])
        version = f.attrs.get("keras_version", b"")
        version = version.decode() if isinstance(version, bytes) else str(version)
        layers = config["config"]["layers"] if isinstance(config["config"], dict) else config["config"]
        cfg = next(l["config"] for l in layers if l["config"]["name"] == rnn)
        w = weights(f, rnn)
        # Keras 1 SimpleRNN and Dense use W, U, b without gate suffixes.
        if "W" in {k.split("_")[-1] for k in w} and f"{rnn}_W_i" not in w:
            w = {{"W": "kernel", "U": "recurrent_kernel", "b": "bias"}[k.split("_")[-1]]: v for k, v in w.items()}
        kernel, recurrent, bias = fused(w, rnn)
        d = weights(f, dense)
        dk = next(v for k, v in d.items() if k.endswith("kernel") or k.endswith("_W"))
        db = next(v for k, v in d.items() if k.endswith("bias") or k.endswith("_b"))
    with h5py.File(vectors, "r") as v:
        inputs = np.array(v["inputs"][list(v["inputs"].keys())[0]])
        activations = np.array(v["activations"][rnn])
        predictions = np.array(v["predictions"][dense])
    print(json.dumps({
        "keras_version": version,
        "activation": cfg.get("activation", "tanh"),
        "recurrent_activation": cfg.get("recurrent_activation", cfg.get("inner_activation", "sigmoid")),
        "kernel": js(kernel), "recurrent_kernel": js(recurrent), "bias": js(bias),
        "dense_kernel": js(dk), "dense_bias": js(db),
        "inputs": js(inputs), "activations": js(activations), "predictions": js(predictions),
    }))

main(*sys.argv[1:])
