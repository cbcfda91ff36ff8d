"""Writes a safetensors file from real torch tensors, independently of LstmPort, and prints what
it wrote as JSON: {name: {"dtype", "shape", "values"}}. The format is written by hand from its
published definition (8-byte little-endian header length, JSON header, raw little-endian data)."""
import json, struct, sys
import torch

CODES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
         torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
         torch.uint8: "U8", torch.bool: "BOOL"}
NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
         torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32", torch.int16: "int16",
         torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}

def tensors(kind):
    torch.manual_seed(7)
    if kind == "lstm":
        lstm = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True)
        head = torch.nn.Linear(8, 3)
        sd = {"lstm." + k: v for k, v in lstm.state_dict().items()}
        sd.update({"head." + k: v for k, v in head.state_dict().items()})
        return sd
    if kind == "dtypes":
        base = torch.randn(2, 3) * 10
        return {NAMES[d]: (base > 0) if d == torch.bool else base.to(d) for d in CODES}
    raise SystemExit("unknown kind " + kind)

def main(path, kind):
    sd = tensors(kind)
    header, blobs, offset = {}, [], 0
    for name, t in sd.items():
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(json.dumps({n: {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                          "values": t.float().flatten().tolist()} for n, t in sd.items()}))

main(sys.argv[1], sys.argv[2])
