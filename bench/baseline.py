"""The script people use today: h5py reads every array into numpy, transposes, torch.save writes
the state_dict. Keras Bidirectional LSTM and Dense layers of a save_weights file, as generate.ps1
writes them; key names as ConvertTo-TorchLayout gives them.

usage: baseline.py model.h5 model.pth
"""
import sys

import h5py
import numpy as np
import torch


def main(src, dst):
    state = {}
    with h5py.File(src, "r") as f:
        for layer in (n.decode() for n in f.attrs["layer_names"]):
            g = f[layer]
            names = [n.decode() for n in g.attrs["weight_names"]]
            arrays = {n: np.asarray(g[n]) for n in names}
            for name, value in arrays.items():
                part = name.split("/")[-1].split(":")[0]
                if "_lstm/" in name:
                    suffix = "_l0_reverse" if "/backward_lstm/" in name else "_l0"
                    if part == "kernel":
                        state[f"{layer}.weight_ih{suffix}"] = torch.from_numpy(np.ascontiguousarray(value.T))
                    elif part == "recurrent_kernel":
                        state[f"{layer}.weight_hh{suffix}"] = torch.from_numpy(np.ascontiguousarray(value.T))
                    else:  # Keras's one bias goes to bias_ih, bias_hh is zero; gate order i,f,c,o is PyTorch's i,f,g,o
                        state[f"{layer}.bias_ih{suffix}"] = torch.from_numpy(value)
                        state[f"{layer}.bias_hh{suffix}"] = torch.zeros_like(torch.from_numpy(value))
                elif part == "kernel":
                    state[f"{layer}.weight"] = torch.from_numpy(np.ascontiguousarray(value.T))
                else:
                    state[f"{layer}.bias"] = torch.from_numpy(value)
    torch.save(state, dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
