"""Runs a PyTorch module loaded from the .pth LstmPort converted from a TF1 frozen graph, on the
graph's own input, and compares with the outputs real TensorFlow stored beside the graph.
Usage: tf1_torch_check.py SPEC.json  ->  {"max_abs_error": e}"""
import json, struct, sys
import numpy as np
import torch

spec = json.load(open(sys.argv[1]))
with open(spec["input"], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
e = header["in_0"]
x = np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]], dtype="<f4").reshape(e["shape"])

sd = torch.load(spec["pth"], weights_only=True)
prefix = spec["module"] + "."
state = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[spec["type"]]
m = cls(spec["input_size"], spec["units"], num_layers=spec["layers"], bidirectional=spec["bidirectional"], batch_first=True)
m.load_state_dict(state, strict=True)
with torch.no_grad():
    out = m(torch.from_numpy(x.copy()))[0].numpy()
expected = np.loadtxt(spec["expected_csv"], dtype=np.float64).reshape(spec["expected_shape"])
print(json.dumps({"max_abs_error": float(np.abs(out.reshape(expected.shape) - expected).max())}))
