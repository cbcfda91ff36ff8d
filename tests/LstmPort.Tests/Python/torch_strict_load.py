"""Loads a .pth into real PyTorch modules with strict=True (every key present, none extra, shapes right).
Usage: torch_strict_load.py PTH SPEC.json, SPEC: [{"module": prefix, "class": "LSTM"|"GRU"|"RNN"|"Linear"|"LSTMCell"|..., "args": [...], "kwargs": {...}}]
prints {"loaded": {prefix: [keys]}, "unclaimed": [keys of the .pth no module took]}"""
import json, sys
import torch

sd = torch.load(sys.argv[1], weights_only=True)
spec = json.load(open(sys.argv[2]))
loaded, claimed = {}, set()
for m in spec:
    prefix = m["module"] + "."
    state = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    module = getattr(torch.nn, m["class"])(*m.get("args", []), **m.get("kwargs", {}))
    module.load_state_dict(state, strict=True)
    loaded[m["module"]] = sorted(state)
    claimed.update(prefix + k for k in state)
print(json.dumps({"loaded": loaded, "unclaimed": sorted(set(sd) - claimed)}))
