"""Real PyTorch on both sides of LstmPort's .pth support. Prints JSON.

  save <path> <kind> [legacy]   torch.save a state_dict of <kind>; prints what it saved
  load <path>                   torch.load(path, weights_only=True); prints what it holds
  loadst <path>                 parses a .safetensors file by hand from the published format
  lstm <reference.pth> <candidate.pth> <kind>
                                loads both into the module <kind> describes (load_state_dict strict)
                                and runs both on the same input; prints the largest difference
  hostile <dir> <marker>        writes .pth files whose pickles would create <marker> if executed;
                                proves the payload is live by running one copy with plain pickle

Printed tensors: {name: {"dtype", "shape", "values" (flattened, as floats)}}.
"""
import collections, io, json, os, pickle, struct, sys, zipfile
import torch

NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
         torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32", torch.int16: "int16",
         torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}

def module(kind):
    torch.manual_seed(11)
    if kind == "lstm":
        return torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    if kind == "gru":
        return torch.nn.GRU(3, 6, num_layers=2, bidirectional=True, batch_first=True)
    raise SystemExit("no module for " + kind)

def state_dict(kind):
    torch.manual_seed(7)
    if kind in ("lstm", "gru"):
        sd = collections.OrderedDict(("rnn." + k, v) for k, v in module(kind).state_dict().items())
        head = torch.nn.Linear(8 if kind == "lstm" else 12, 3)
        sd.update(("head." + k, v) for k, v in head.state_dict().items())
        return sd
    if kind == "dtypes":
        base = torch.randn(2, 3) * 10
        return collections.OrderedDict((NAMES[d], (base > 0) if d == torch.bool else base.to(d)) for d in NAMES)
    if kind == "strided":
        big = torch.arange(60, dtype=torch.float32).reshape(6, 10)
        return collections.OrderedDict([
            ("transposed", big.t()),                 # non-contiguous strides
            ("slice", big[2:5, 3:7]),                # offset into a shared storage, strided
            ("row", big[4]),                         # contiguous view with an offset
            ("whole", big),                          # the storage the others share
            ("column", big[:, 1]),                   # stride 10
            ("expanded", torch.tensor([1.5, -2.5]).expand(3, 2)),  # stride 0
            ("scalar", torch.tensor(3.25)),          # zero dimensions
            ("empty", torch.zeros(0, 4)),            # no elements
        ])
    if kind == "wrapped":
        return {"epoch": 3, "state_dict": state_dict("lstm"), "optimizer": {"lr": 0.1}}
    if kind == "model":
        return {"model": state_dict("gru"), "args": ["x", 1]}
    if kind == "parameters":
        lin = torch.nn.Linear(4, 2)
        return collections.OrderedDict([("fc.weight", lin.weight), ("fc.bias", lin.bias)])
    raise SystemExit("unknown kind " + kind)

def describe(sd, prefix=""):
    out = {}
    for k, v in sd.items():
        if isinstance(v, dict):
            if any(isinstance(x, torch.Tensor) for x in v.values()):
                out.update(describe(v, ""))
            continue
        if isinstance(v, torch.Tensor):
            out[prefix + k] = {"dtype": NAMES[v.dtype], "shape": list(v.shape),
                               "values": v.detach().double().flatten().tolist()}
    return out

def save(path, kind, legacy=False):
    sd = state_dict(kind)
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    print(json.dumps(describe(sd)))

def load(path):
    sd = torch.load(path, weights_only=True)
    assert isinstance(sd, collections.OrderedDict), type(sd)
    out = describe(sd)
    print(json.dumps({"keys": list(sd.keys()), "tensors": out}))

CODES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
         "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
         "U8": torch.uint8, "BOOL": torch.bool}

def loadst(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    assert n % 8 == 0, "header not padded to 8 bytes"
    meta = header.pop("__metadata__", None)
    body = data[8 + n:]
    ends = sorted((v["data_offsets"][0], v["data_offsets"][1]) for v in header.values())
    assert ends[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ends, ends[1:])) and ends[-1][1] == len(body), "data not packed"
    sd = collections.OrderedDict()
    for k, v in header.items():
        b, e = v["data_offsets"]
        dtype = CODES[v["dtype"]]
        sd[k] = torch.frombuffer(bytearray(body[b:e]), dtype=dtype).reshape(v["shape"]) if e > b else torch.zeros(v["shape"], dtype=dtype)
    print(json.dumps({"keys": list(sd.keys()), "metadata": meta, "tensors": describe(sd)}))

def lstm(reference, candidate, kind):
    a, b = module(kind), module(kind)
    a.load_state_dict({k[4:]: v for k, v in torch.load(reference, weights_only=True).items() if k.startswith("rnn.")})
    b.load_state_dict({k[4:]: v for k, v in torch.load(candidate, weights_only=True).items() if k.startswith("rnn.")})
    x = torch.randn(2, 7, a.input_size)
    ya, yb = a(x)[0], b(x)[0]
    print(json.dumps({"max_abs_diff": (ya - yb).abs().max().item(), "output_abs_sum": ya.abs().sum().item()}))

class Payload:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg
    def __reduce__(self):
        return (self.func, (self.arg,))

def torch_zip(path, pkl):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")

def legacy(path, pkl):
    with open(path, "wb") as f:
        for obj in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(pkl)
        pickle.dump([], f, protocol=2)

def hostile(folder, marker):
    system = pickle.dumps({"w": Payload(os.system, "touch " + marker)}, protocol=2)
    evil = pickle.dumps(collections.OrderedDict(w=Payload(eval, "open(%r, 'w').close()" % marker)), protocol=2)
    stack_global = pickle.dumps({"w": Payload(os.system, "touch " + marker)}, protocol=4)
    torch_zip(os.path.join(folder, "os_system.pth"), system)
    legacy(os.path.join(folder, "eval_legacy.pth"), evil)
    torch_zip(os.path.join(folder, "stack_global.pth"), stack_global)
    # The same payload with another marker, loaded by plain pickle, proves it is live.
    live = marker + ".live"
    pickle.loads(pickle.dumps(Payload(os.system, "touch " + live), protocol=2))
    print(json.dumps({"live": os.path.exists(live),
                      "globals": {"os_system.pth": "posix.system", "eval_legacy.pth": "__builtin__.eval", "stack_global.pth": "posix.system"}}))

def zipcheck(path):
    """The zip structure as Python's zipfile sees it: CRCs checked, each entry's data offset and the
    extra-field tags of its local header, and whether the zip64 end records are there."""
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        bad = z.testzip()
        entries = []
        for i in z.infolist():
            f.seek(i.header_offset)
            h = f.read(30)
            assert struct.unpack("<I", h[:4])[0] == 0x04034b50, "no local header at " + str(i.header_offset)
            n, m = struct.unpack("<HH", h[26:30])
            extra = f.read(n + m)[n:]
            tags, j = [], 0
            while j + 4 <= len(extra):
                tag, size = struct.unpack("<HH", extra[j:j + 4])
                tags.append(tag)
                j += 4 + size
            central, j = [], 0
            while j + 4 <= len(i.extra):
                tag, size = struct.unpack("<HH", i.extra[j:j + 4])
                central.append(tag)
                j += 4 + size
            entries.append({"name": i.filename, "method": i.compress_type, "size": i.file_size,
                            "data": i.header_offset + 30 + n + m, "local_tags": tags, "central_tags": central})
        f.seek(0, 2)
        length = f.tell()
        f.seek(max(0, length - 22 - 20 - 56))
        zip64_end = struct.pack("<I", 0x06064b50) in f.read()
    print(json.dumps({"bad": bad, "entries": entries, "zip64_end": zip64_end}))

cmd = sys.argv[1]
if cmd == "save": save(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "legacy")
elif cmd == "load": load(sys.argv[2])
elif cmd == "loadst": loadst(sys.argv[2])
elif cmd == "lstm": lstm(sys.argv[2], sys.argv[3], sys.argv[4])
elif cmd == "hostile": hostile(sys.argv[2], sys.argv[3])
elif cmd == "zipcheck": zipcheck(sys.argv[2])
else: raise SystemExit("unknown command " + cmd)
