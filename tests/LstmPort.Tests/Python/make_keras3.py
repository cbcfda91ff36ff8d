"""Writes Keras 3 weights files (.weights.h5) with h5py, as Keras 3's saver lays them out
(keras/src/saving/saving_lib.py: _save_state, _save_container_state, H5IOStore): a group per
object with state at its attribute path, its variables as datasets vars/0..n in creation order
(kernel, recurrent_kernel, bias; Dense kernel, bias; Embedding embeddings), a model's layers under
layers/<snake_case class name>[_<k>], numbered per class in layer order, a recurrent layer's
under cell/, a Bidirectional's under forward_layer/ and backward_layer/, a nested model's under its
own layers/, the optimizer's under optimizer/vars. Keras 3.10+ puts each object's name in the
"name" attribute of its vars group; earlier 3.x write no names. tf.keras 2.13-2.15 wrote the same
store with _layer_checkpoint_dependencies for layers.

Usage: make_keras3.py KIND OUT_PREFIX [--no-names] [--tf-keras] [--optimizer] [--archive]
  KIND: sequential (Embedding, Bidirectional LSTM, LSTM, LSTM, GRU, SimpleRNN relu, Dense),
        nested (a functional model with a nested Sequential and a reset-before GRU),
        lstm (LSTM and Dense), gru-no-bias (GRU(use_bias=False)), bad (per-layer problems: see below)
Writes OUT_PREFIX.weights.h5 and OUT_PREFIX.config.json (the model's config.json), with
--archive also OUT_PREFIX.keras (metadata.json, config.json, model.weights.h5). Prints JSON:
{"values": {dataset path: flat values}, "layers": [{name, class, path}]}."""
import io, json, sys, zipfile
import h5py, numpy as np

kind, prefix = sys.argv[1], sys.argv[2]
flags = set(sys.argv[3:])
names = "--no-names" not in flags
container = "_layer_checkpoint_dependencies" if "--tf-keras" in flags else "layers"
rng = np.random.default_rng(5)
values = {}
shapes = {}
listing = []


def arr(*shape):
    return (rng.standard_normal(shape) * 0.3).astype(np.float32)


def snake(cls):
    import re
    s = re.sub(r"\W+", "", cls)
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def rnn_config(cls, name, units, **extra):
    cfg = {"name": name, "trainable": True, "dtype": "float32", "return_sequences": True, "return_state": False,
           "go_backwards": False, "stateful": False, "unroll": False, "units": units, "activation": "tanh",
           "use_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None}
    if cls != "SimpleRNN":
        cfg["recurrent_activation"] = "sigmoid"
    if cls == "GRU":
        cfg["reset_after"] = True
    cfg.update(extra)
    return {"module": "keras.layers", "class_name": cls, "config": cfg, "registered_name": None}


def dense_config(name, units, activation="linear"):
    return {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "config": {"name": name, "units": units, "activation": activation, "use_bias": True}}


class Store:
    """The h5py side of H5IOStore in write mode: make(path, name) creates path/vars (with the name
    attribute as Keras 3.10+ writes it); variables go in as datasets 0..n."""

    def __init__(self, f):
        self.f = f

    def make(self, path, name, arrays=()):
        g = self.f.require_group(f"{path}/vars" if path else "vars")
        if names:
            g.attrs["name"] = name
        for i, a in enumerate(arrays):
            g.create_dataset(str(i), data=a)
            values[f"{g.name.lstrip('/')}/{i}"] = a.astype(np.float64).ravel().tolist()
            shapes[f"{g.name.lstrip('/')}/{i}"] = a.shape


class Model:
    """A model's layers: each gets layers/<snake class>[_k] like _save_container_state."""

    def __init__(self, store, path):
        self.store, self.path, self.used, self.configs = store, path, {}, []

    def slot(self, cls):
        base = snake(cls)
        if base in self.used:
            self.used[base] += 1
            base = f"{base}_{self.used[base]}"
        else:
            self.used[base] = 0
        return f"{self.path}{container}/{base}"

    def rnn_weights(self, cls, n_in, units, reset_after=True):
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cls]
        bias = arr(2, gates * units) if cls == "GRU" and reset_after else arr(gates * units)
        return [arr(n_in, gates * units), arr(units, gates * units), bias]

    def rnn(self, cls, name, n_in, units, **extra):
        config = rnn_config(cls, name, units, **extra)
        path = self.slot(cls)
        self.store.make(path, name)
        self.store.make(f"{path}/cell", f"{snake(cls)}_cell", self.rnn_weights(cls, n_in, units, extra.get("reset_after", True)))
        self.configs.append(config)
        listing.append({"name": name, "class": cls, "path": path})

    def bidirectional(self, name, cls, n_in, units, merge_mode="concat"):
        inner = rnn_config(cls, snake(cls), units)
        path = self.slot("Bidirectional")
        self.store.make(path, name)
        for side in ("forward", "backward"):
            self.store.make(f"{path}/{side}_layer", f"{side}_{snake(cls)}")
            self.store.make(f"{path}/{side}_layer/cell", f"{snake(cls)}_cell", self.rnn_weights(cls, n_in, units))
        back = json.loads(json.dumps(inner))
        back["config"]["name"], back["config"]["go_backwards"] = f"backward_{snake(cls)}", True
        self.configs.append({"module": "keras.layers", "class_name": "Bidirectional", "registered_name": None,
                             "config": {"name": name, "merge_mode": merge_mode, "layer": inner, "backward_layer": back}})
        listing.append({"name": name, "class": "Bidirectional", "path": path})

    def plain(self, cls, name, config, arrays):
        path = self.slot(cls)
        self.store.make(path, name, arrays)
        self.configs.append(config)
        if arrays:
            listing.append({"name": name, "class": cls, "path": path})


def sequential_config(name, layers, input_shape):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": "float32",
                       "layers": [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                                   "config": {"batch_shape": [None] + input_shape, "dtype": "float32", "name": name + "_input"}}] + layers}}


with h5py.File(prefix + ".weights.h5", "w") as f:
    store = Store(f)
    if kind == "sequential":
        store.make("", "sequential")
        m = Model(store, "")
        m.plain("Embedding", "embedding", {"module": "keras.layers", "class_name": "Embedding", "registered_name": None,
                                           "config": {"name": "embedding", "input_dim": 30, "output_dim": 6}}, [arr(30, 6)])
        m.bidirectional("bidirectional", "LSTM", 6, 5)
        m.plain("Dropout", "dropout", {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.1}}, [])
        m.rnn("LSTM", "lstm", 10, 4)
        m.rnn("LSTM", "lstm_1", 4, 4)
        m.rnn("GRU", "gru", 4, 3)
        m.rnn("SimpleRNN", "simple_rnn", 3, 3, activation="relu", return_sequences=False)
        m.plain("Dense", "dense", dense_config("dense", 2, "tanh"), [arr(3, 2), arr(2)])
        config = sequential_config("sequential", m.configs, [None])
    elif kind == "lstm":
        store.make("", "sequential")
        m = Model(store, "")
        m.rnn("LSTM", "lstm", 3, 4, return_sequences=False)
        m.plain("Dense", "dense", dense_config("dense", 1), [arr(4, 1), arr(1)])
        config = sequential_config("sequential", m.configs, [None, 3])
    elif kind == "gru-no-bias":
        # GRU(use_bias=False): a kernel and a recurrent kernel only; reset_after (True by default) still matters.
        store.make("", "sequential")
        m = Model(store, "")
        path = m.slot("GRU")
        store.make(path, "gru")
        store.make(f"{path}/cell", "gru_cell", [arr(3, 6), arr(2, 6)])
        m.configs.append(rnn_config("GRU", "gru", 2, use_bias=False, return_sequences=False))
        listing.append({"name": "gru", "class": "GRU", "path": path})
        config = sequential_config("sequential", m.configs, [None, 3])
    elif kind == "nested":
        # Functional: Input -> Sequential(LSTM, Dense) -> GRU(reset_after=False) over a RepeatVector -> Dense
        store.make("", "functional")
        top = Model(store, "")
        top.plain("InputLayer", "input_layer", {"module": "keras.layers", "class_name": "InputLayer",
                                                "config": {"name": "input_layer", "batch_shape": [None, None, 3]}}, [])
        inner_path = top.slot("Sequential")
        store.make(inner_path, "encoder")
        inner = Model(store, inner_path + "/")
        inner.rnn("LSTM", "encoder_lstm", 3, 4, return_sequences=False)
        inner.plain("Dense", "encoder_dense", dense_config("encoder_dense", 4, "tanh"), [arr(4, 4), arr(4)])
        listing.insert(0, {"name": "encoder", "class": "Sequential", "path": inner_path})
        top.configs.append(sequential_config("encoder", inner.configs, [None, 3]))
        top.plain("RepeatVector", "repeat", {"module": "keras.layers", "class_name": "RepeatVector", "config": {"name": "repeat", "n": 5}}, [])
        top.rnn("GRU", "decoder_gru", 4, 2, reset_after=False)
        top.plain("Dense", "head", dense_config("head", 1), [arr(2, 1), arr(1)])
        config = {"module": "keras", "class_name": "Functional", "registered_name": None,
                  "config": {"name": "functional", "trainable": True, "layers": [
                      {**c, "name": c["config"]["name"], "inbound_nodes": []} for c in top.configs],
                      "input_layers": [["input_layer", 0, 0]], "output_layers": [["head", 0, 0]]}}
    elif kind == "bad":
        # lstm: fine; lstm_1: only two of its three variables (its config says use_bias); batch_normalization:
        # a kind LstmPort does not know; gru: a string dataset; dense: fine.
        store.make("", "sequential")
        m = Model(store, "")
        m.rnn("LSTM", "lstm", 3, 4)
        path = m.slot("LSTM")
        store.make(path, "lstm_1")
        store.make(f"{path}/cell", "lstm_cell", [arr(4, 16), arr(4, 16)])
        m.configs.append(rnn_config("LSTM", "lstm_1", 4))
        m.plain("BatchNormalization", "batch_normalization",
                {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "batch_normalization", "axis": -1}},
                [arr(4), arr(4), arr(4), np.abs(arr(4))])
        path = m.slot("GRU")
        store.make(path, "gru")
        store.make(f"{path}/cell", "gru_cell", [arr(4, 6), arr(2, 6)])
        f[f"{path}/cell/vars"].create_dataset("2", data=np.array([b"not a number"] * 2))
        m.configs.append(rnn_config("GRU", "gru", 2))
        m.plain("Dense", "dense", dense_config("dense", 1), [arr(2, 1), arr(1)])
        config = sequential_config("sequential", m.configs, [None, 3])
    else:
        sys.exit(f"unknown kind {kind}")
    if "--optimizer" in flags:
        # Adam: iterations, learning_rate, then a momentum and a velocity per model variable.
        g = f.require_group("optimizer/vars")
        if names:
            g.attrs["name"] = "adam"
        g.create_dataset("0", data=np.array(7, dtype=np.int64))
        g.create_dataset("1", data=np.array(0.001, dtype=np.float32))
        n = 2
        for shape in shapes.values():
            for _ in range(2):
                g.create_dataset(str(n), data=np.zeros(shape, dtype=np.float32)); n += 1

config_text = json.dumps(config)
with open(prefix + ".config.json", "w") as c:
    c.write(config_text)
if "--archive" in flags:
    with open(prefix + ".weights.h5", "rb") as w:
        weights = w.read()
    with zipfile.ZipFile(prefix + ".keras", "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.8.0", "date_saved": "2026-01-01@00:00:00"}))
        z.writestr("config.json", config_text)
        z.writestr("model.weights.h5", weights)
print(json.dumps({"values": values, "layers": listing}))
