"""Runs a real PyTorch module loaded (strictly) from the .pth LstmPort converted from an ONNX model,
on the ONNX test's own input, and prints what it computed, for the test to compare with the
outputs stored beside the ONNX model.

Usage: onnx_torch_check.py SPEC.json
SPEC: {"pth", "module" (key prefix), "type" (LSTM/GRU/SimpleRNN), "input_size", "units",
       "bias", "bidirectional", "reverse" (a one-direction reverse layer: weights in l0, the sequence is
       reversed before and the outputs after), "x": {"shape": [T,B,in], "values"},
       optional "h0", "c0": {"shape": [dirs,B,h], "values"}}
Prints {"output": {"shape", "values"} [T,B,dirs*h], "h_n": [dirs,B,h], "c_n" (LSTM)}."""
import json, sys
import torch

spec = json.load(open(sys.argv[1]))
def tensor(d):
    return torch.tensor(d["values"], dtype=torch.float32).reshape(d["shape"])
def js(t):
    return {"shape": list(t.shape), "values": [float(v) for v in t.flatten()]}

sd = torch.load(spec["pth"], weights_only=True)
prefix = spec["module"] + "."
state = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[spec["type"]]
m = cls(spec["input_size"], spec["units"], bias=spec.get("bias", True), bidirectional=spec["bidirectional"])
m.load_state_dict(state, strict=True)
x = tensor(spec["x"])
if spec.get("reverse"):
    x = x.flip(0)
h0 = tensor(spec["h0"]) if "h0" in spec else None
with torch.no_grad():
    if spec["type"] == "LSTM":
        state0 = (h0, tensor(spec["c0"])) if h0 is not None else None
        out, (h, c) = m(x, state0)
    else:
        out, h = m(x, h0)
        c = None
if spec.get("reverse"):
    out = out.flip(0)
result = {"output": js(out), "h_n": js(h), "torch": torch.__version__}
if c is not None:
    result["c_n"] = js(c)
print(json.dumps(result))
