"""The reverse script people use today: torch.load reads the state_dict, numpy transposes, h5py
writes the tf.keras 2.x save_weights layout (layer_names, weight_names, backend, keras_version;
one group per layer, datasets at their weight names) that ConvertTo-KerasLayout | Export-LstmWeights
writes for the Bidirectional LSTM and Dense layers of generate.ps1's model.

usage: baseline_reverse.py model.pth model.h5
"""
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch


def main(src, dst):
    state = torch.load(src, weights_only=True)
    layers = OrderedDict()
    for key, value in state.items():
        layer, param = key.split(".", 1)
        layers.setdefault(layer, {})[param] = value.numpy()
    with h5py.File(dst, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        f.attrs["backend"] = np.bytes_("tensorflow")
        f.attrs["keras_version"] = np.bytes_("2.4.0")
        for layer, params in layers.items():
            g = f.create_group(layer)
            weights = []
            if "weight_ih_l0" in params:
                for half, suffix in (("forward_lstm", "_l0"), ("backward_lstm", "_l0_reverse")):
                    cell = f"{layer}/{half}/lstm_cell"
                    weights += [(f"{cell}/kernel:0", np.ascontiguousarray(params["weight_ih" + suffix].T)),
                                (f"{cell}/recurrent_kernel:0", np.ascontiguousarray(params["weight_hh" + suffix].T)),
                                (f"{cell}/bias:0", params["bias_ih" + suffix] + params["bias_hh" + suffix])]
            else:
                weights += [(f"{layer}/kernel:0", np.ascontiguousarray(params["weight"].T)), (f"{layer}/bias:0", params["bias"])]
            g.attrs["weight_names"] = np.array([n.encode() for n, _ in weights])
            for name, value in weights:
                g.create_dataset(name, data=value)  # below the layer's group: /dense/dense/kernel:0, as Keras does


if __name__ == "__main__":
    main(*sys.argv[1:3])
