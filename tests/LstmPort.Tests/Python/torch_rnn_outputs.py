"""Runs a real PyTorch recurrent module on a seeded input and writes what it computed.

usage: torch_rnn_outputs.py OUT.safetensors KIND   (KIND: lstm, gru, rnn_relu)

Writes the module's state_dict (key prefix "rnn.") as safetensors, written by hand from the
format's definition, and prints JSON: {"input": {shape, values}, "output": ..., "h_n": ...,
"c_n": ... (LSTM)}; input is time-major [T, B, in]."""
import json, struct, sys
import torch

def write_safetensors(path, sd):
    header, blobs, offset = {}, [], 0
    for name, t in sd.items():
        raw = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

def js(t):
    return {"shape": list(t.shape), "values": t.detach().flatten().tolist()}

def main(path, kind):
    torch.manual_seed(11)
    if kind == "lstm":
        m = torch.nn.LSTM(5, 7, num_layers=2, bidirectional=True)
    elif kind == "gru":
        m = torch.nn.GRU(5, 7, num_layers=2, bidirectional=True)
    elif kind == "rnn_relu":
        m = torch.nn.RNN(5, 7, num_layers=2, nonlinearity="relu", bidirectional=True)
    else:
        raise SystemExit("unknown kind " + kind)
    x = torch.rand(40, 3, 5) * 2 - 1
    with torch.no_grad():
        out = m(x)
    write_safetensors(path, {"rnn." + k: v for k, v in m.state_dict().items()})
    result = {"input": js(x), "output": js(out[0])}
    if kind == "lstm":
        result["h_n"], result["c_n"] = js(out[1][0]), js(out[1][1])
    else:
        result["h_n"] = js(out[1])
    print(json.dumps(result))

main(sys.argv[1], sys.argv[2])
