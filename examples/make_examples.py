"""Regenerates the example weight files shipped in examples/ from real PyTorch modules.
Run with Debian's python3-torch: /usr/bin/python3 examples/make_examples.py"""
import json, os, struct
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

def write_safetensors(path, sd):
    header, blobs, offset = {}, [], 0
    for name, t in sd.items():
        raw = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

torch.manual_seed(2026)
lstm, head = torch.nn.LSTM(5, 8), torch.nn.Linear(8, 1)
sd = {"lstm." + k: v for k, v in lstm.state_dict().items()}
sd.update({"head." + k: v for k, v in head.state_dict().items()})
write_safetensors(os.path.join(HERE, "tiny_lstm.safetensors"), sd)
