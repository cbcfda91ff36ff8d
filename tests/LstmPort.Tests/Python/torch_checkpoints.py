"""PyTorch files as people save them, made by real torch, and what torch itself reads from them.
Prints JSON.

  make <path> <kind> [legacy]   saves a file of <kind> (KINDS below); prints
                                {"expected": {name: tensor}, "globals": [...], "errors": [...]}:
                                the names LstmPort should give (the rule of docs/Get-LstmWeights.md,
                                built here from the structure), with the values torch.load (or
                                torch.jit.load(p).state_dict()) gives; the foreign globals the pickle
                                names; the names whose tensors cannot be read
  damage <src> <dst>            rewrites a torch zip without the record of the model's 2nd storage and
                                with its 4th cut short; prints {"dropped": [names], "short": [names]}
  rnn <checkpoint> <kind> <candidate.pth> <prefix>
                                loads <prefix>* of the candidate (a state_dict) into the checkpoint's
                                module strictly (load_state_dict(strict=True)) and runs both on one
                                input; prints the largest difference

A tensor: {"dtype", "shape", "values" (flattened, as floats)}.
"""
import argparse, collections, io, json, os, pickle, sys, zipfile
import torch
from torch import nn

NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
         torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32", torch.int16: "int16",
         torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.norm = nn.BatchNorm1d(8)


class Net(nn.Module):
    """An embedding, a stacked bidirectional LSTM, a GRU, a Linear head, BatchNorm buffers and a 0-dim buffer."""
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 5)
        self.encoder = Encoder()
        self.decoder = nn.GRU(8, 6, batch_first=True)
        self.head = nn.Linear(6, 3)
        self.register_buffer("scale", torch.tensor(0.5))
        self.register_buffer("cache", torch.zeros(2), persistent=False)

    def forward(self, tokens):
        x = self.embed(tokens)
        y, _ = self.encoder.rnn(x)
        y = self.encoder.norm(y.transpose(1, 2)).transpose(1, 2)
        z, _ = self.decoder(y)
        return self.head(z) * self.scale + torch.tensor([1.0, 2.0, 3.0])


class Containers(nn.Module):
    """ModuleList, Sequential, ModuleDict, an LSTM with proj_size, a bias-less Linear and tied weights."""
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.LSTM(4, 4, proj_size=2), nn.GRU(2, 3)])
        self.seq = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4))
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Linear(4, 4, bias=False)})
        self.emb = nn.Embedding(7, 4)
        self.out = nn.Linear(4, 7)
        self.out.weight = self.emb.weight

    def forward(self, x):
        y, _ = self.layers[0](x)
        z, _ = self.layers[1](y)
        w = self.seq(z)
        return self.out(self.heads["a"](w) + self.heads["b"](w))


class Compiled(nn.Module):
    """What torch.compile's OptimizedModule looks like to state_dict(): the model under _orig_mod."""
    def __init__(self, inner):
        super().__init__()
        self._orig_mod = inner


class Vocab:
    """A vocabulary object, as OpenNMT and torchtext pickle them."""
    def __init__(self, words):
        self.itos = list(words)
        self.stoi = collections.defaultdict(int, {w: i for i, w in enumerate(words)})


class Options:
    """An optimizer wrapper object (OpenNMT's onmt.utils.Optimizer) holding a torch optimizer."""
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.learning_rate = 0.1


def net():
    torch.manual_seed(5)
    n = Net()
    with torch.no_grad():  # running statistics that are not the defaults
        n.encoder.norm.running_mean.uniform_(-1, 1)
        n.encoder.norm.running_var.uniform_(0.5, 2)
        n.encoder.norm.num_batches_tracked += 7
    return n


def trained(model):
    """An Adam optimizer after one step, so its state holds momentum tensors."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    loss = model(torch.randint(0, 10, (2, 7))).sum()
    loss.backward()
    opt.step()
    sched.step()
    return opt, sched


def describe(sd):
    return {k: {"dtype": NAMES[v.dtype], "shape": list(v.shape), "values": v.detach().double().flatten().tolist()}
            for k, v in sd.items()}


def prefixed(prefix, sd):
    return collections.OrderedDict((prefix + k, v) for k, v in sd.items())


def flat_views():
    """An nn.LSTM state_dict whose tensors are views into one flat storage, at offsets (what an
    LSTM saved from CUDA after flatten_parameters() holds), plus a strided (transposed) view."""
    torch.manual_seed(3)
    lstm = nn.LSTM(3, 2, num_layers=1, bidirectional=True)
    flat = torch.randn(sum(p.numel() for p in lstm.parameters()) + 12)
    sd, at = collections.OrderedDict(), 5
    for k, p in lstm.state_dict().items():
        sd["rnn." + k] = flat[at:at + p.numel()].view(p.shape)
        at += p.numel()
    sd["proj.weight"] = flat[:6].view(3, 2).t()   # stride (1, 2) over the same storage
    return sd


def make(path, kind, legacy=False):
    zipped = not legacy
    save = lambda obj: torch.save(obj, path, _use_new_zipfile_serialization=zipped)
    errors, script = [], False
    if kind in ("checkpoint", "state_dict", "net", "deep", "several", "dataparallel", "compiled", "half", "bfloat16",
                "namespace", "whole_model", "lightning", "fairseq", "opennmt", "sparse", "hostile_tensors"):
        model = net()
        opt, sched = trained(model)
        sd = model.state_dict()
    if kind == "checkpoint":
        save({"model": sd, "optimizer": opt.state_dict(), "epoch": 3, "step": 120, "args": ["x", 1, 2.5],
              "best_acc": torch.tensor(0.93)})
        pick = lambda c: c["model"]
    elif kind == "state_dict":
        save({"state_dict": sd, "epoch": 1})
        pick = lambda c: c["state_dict"]
    elif kind == "net":
        save({"net": sd, "acc": 91.5, "epoch": 7})
        pick = lambda c: c["net"]
    elif kind == "deep":
        save({"trainer": {"model": {"state_dict": sd, "config": {"hidden": 4, "layers": [2, 2]}}},
              "optimizer_state_dict": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": {"scale": 65536.0}})
        pick = lambda c: c["trainer"]["model"]["state_dict"]
    elif kind == "several":
        gen = nn.Sequential(nn.Linear(6, 3), nn.LogSoftmax(dim=-1))
        save({"model": model.encoder.state_dict(), "generator": gen.state_dict(), "optim": opt.state_dict(), "opt": {"layers": 2}})
        pick = lambda c: collections.OrderedDict(list(prefixed("model.", c["model"]).items()) + list(prefixed("generator.", c["generator"]).items()))
    elif kind == "dataparallel":
        save({"state_dict": nn.DataParallel(model).state_dict(), "epoch": 2})
        pick = lambda c: collections.OrderedDict((k[len("module."):], v) for k, v in c["state_dict"].items())
    elif kind == "compiled":
        save(Compiled(model).state_dict())
        pick = lambda c: collections.OrderedDict((k[len("_orig_mod."):], v) for k, v in c.items())
    elif kind == "flat_views":
        save(flat_views())
        pick = lambda c: c
    elif kind in ("half", "bfloat16"):
        model = model.to(torch.float16 if kind == "half" else torch.bfloat16)
        save({"model": model.state_dict(), "epoch": 1})
        pick = lambda c: c["model"]
    elif kind == "namespace":
        save({"args": argparse.Namespace(lr=0.01, layers=2, dropout=0.1), "model": sd, "optimizer": opt,
              "vocab": Vocab(["<unk>", "a", "b"]), "epoch": 3})
        pick = lambda c: c["model"]
    elif kind == "whole_model":
        save(model)
        pick = lambda m: m.state_dict()
    elif kind == "lightning":
        save({"epoch": 4, "global_step": 40, "pytorch-lightning_version": "1.9.0",
              "state_dict": prefixed("model.", sd),
              "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 4}}}},
              "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {"best_model_score": torch.tensor(0.25),
                                                                                      "best_k_models": {"a.ckpt": torch.tensor(0.25)}}},
              "optimizer_states": [opt.state_dict()], "lr_schedulers": [sched.state_dict()],
              "hparams_name": "kwargs", "hyper_parameters": {"hidden": 4}})
        pick = lambda c: c["state_dict"]
    elif kind == "fairseq":
        save({"args": argparse.Namespace(arch="lstm", lr=[0.1]), "model": sd,
              "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam",
                                     "lr_scheduler_state": {"best": 3.2}, "num_updates": 10}],
              "extra_state": {"epoch": 2, "val_loss": 3.1, "train_iterator": {"epoch": 2, "iterations_in_epoch": 0}},
              "last_optimizer_state": opt.state_dict()})
        pick = lambda c: c["model"]
    elif kind == "opennmt":
        gen = nn.Sequential(nn.Linear(6, 3), nn.LogSoftmax(dim=-1))
        save({"model": sd, "generator": gen.state_dict(), "vocab": [("src", Vocab(["<s>", "x"]))],
              "opt": argparse.Namespace(rnn_size=4, layers=2), "optim": Options(opt)})
        pick = lambda c: collections.OrderedDict(list(prefixed("model.", c["model"]).items()) + list(prefixed("generator.", c["generator"]).items()))
    elif kind == "sparse":
        sd = collections.OrderedDict(list(sd.items())[:3] + [("mask", torch.eye(3).to_sparse())] + list(sd.items())[3:])
        save({"model": sd, "epoch": 1})
        pick = lambda c: collections.OrderedDict((k, v) for k, v in c["model"].items() if k != "mask")
        errors = ["mask"]
    elif kind == "hostile_tensors":
        marker = path + ".pwned"
        save({"model": sd, "payload": Payload(os.system, "touch " + marker)})
        pick = None  # torch.load would run the payload: the expected values are the ones saved
    elif kind == "modules":
        torch.manual_seed(4)
        save({"model": Containers().state_dict(), "epoch": 1})
        pick = lambda c: c["model"]
    elif kind in ("modules_script", "modules_trace"):
        torch.manual_seed(4)
        model = Containers()
        m = torch.jit.script(model) if kind == "modules_script" else torch.jit.trace(model, torch.randn(5, 2, 4))
        torch.jit.save(m, path)
        script = True
        pick = None
    elif kind in ("script", "trace", "frozen", "script_attribute"):
        torch.manual_seed(9)
        model = net().eval()
        if kind == "script_attribute":
            model.plain = torch.ones(2)   # a tensor attribute that is neither parameter nor buffer
            m = torch.jit.script(model)
        elif kind == "trace":
            m = torch.jit.trace(model, torch.randint(0, 10, (2, 7)))
        else:
            m = torch.jit.script(model)
            if kind == "frozen":
                m = torch.jit.freeze(m)
        torch.jit.save(m, path)
        script = True
        pick = None
    else:
        raise SystemExit("unknown kind " + kind)

    if script:
        expected = describe(torch.jit.load(path).state_dict())
    elif pick is None:
        expected = describe(sd)
    else:
        loaded = torch.load(path, weights_only=False)
        expected = describe(pick(loaded))
    print(json.dumps({"expected": expected, "globals": foreign_globals(path), "errors": errors}))


class Payload:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


SAFE = {"collections.OrderedDict", "_codecs.encode", "torch.Size", "torch.device", "torch.serialization._get_layout",
        "builtins.set", "builtins.frozenset", "builtins.bytearray", "__builtin__.set", "__builtin__.frozenset", "__builtin__.bytearray"}


def allowed(module, name):
    """Mirrors the allow-list of LstmPort's reader (torch.load(weights_only=True)'s set for a state_dict)."""
    full = module + "." + name
    if full in SAFE or module == "torch._utils" and name.startswith("_rebuild_"):
        return True
    if module in ("torch", "torch.cuda") and name.endswith("Storage"):
        return True
    return module == "torch" and (isinstance(getattr(torch, name, None), (torch.dtype, torch.layout)) or name.startswith("per_"))


def foreign_globals(path):
    """The globals a torch.save file's pickle names outside that set, in order, each once."""
    import pickletools
    if not zipfile.is_zipfile(path):
        stream = io.BytesIO(open(path, "rb").read())
        for _ in range(3):  # magic number, protocol, system info; then the object
            for _ in pickletools.genops(stream):
                pass
    else:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1), None)
            if name is None or any(n.endswith("constants.pkl") for n in z.namelist()):
                return []
            stream = io.BytesIO(z.read(name))
    seen, out, strings = set(), [], []
    for op, arg, _ in pickletools.genops(stream):
        if op.name in ("GLOBAL", "INST"):
            module, name = arg.split(" ", 1)
        elif op.name == "STACK_GLOBAL":
            module, name = strings[-2], strings[-1]
        else:
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                strings.append(arg)
            continue
        if not allowed(module, name) and module + "." + name not in seen:
            seen.add(module + "." + name)
            out.append(module + "." + name)
    return out


def damage(src, dst):
    """Drops the record of the 2nd storage the model uses and cuts the 4th short (same CRC in a valid zip)."""
    loaded = torch.load(src, weights_only=False)
    sd = loaded["model"] if isinstance(loaded, dict) and "model" in loaded else loaded
    keys, names = {}, collections.defaultdict(list)
    for k, v in sd.items():
        key = keys.setdefault(v.storage().data_ptr(), str(len(keys)))
        names[key].append(k)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        prefix = next(n for n in zin.namelist() if n.endswith("/data.pkl"))[:-len("data.pkl")]
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == prefix + "data/1":
                continue
            if info.filename == prefix + "data/3":
                data = data[:len(data) // 2]
            zout.writestr(info.filename, data)
    print(json.dumps({"dropped": names["1"], "short": names["3"]}))


def rnn(checkpoint, kind, candidate, prefix):
    """The checkpoint's encoder LSTM, and one strictly loaded from candidate's <prefix>* keys: same outputs?"""
    loaded = torch.load(checkpoint, weights_only=False)
    sd = {"checkpoint": lambda c: c["model"], "dataparallel": lambda c: {k[7:]: v for k, v in c["state_dict"].items()}}[kind](loaded)
    ref, ours = nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True), nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    ref.load_state_dict({k[len("encoder.rnn."):]: v for k, v in sd.items() if k.startswith("encoder.rnn.")}, strict=True)
    got = torch.load(candidate, weights_only=True)
    ours.load_state_dict({k[len(prefix):]: v for k, v in got.items() if k.startswith(prefix)}, strict=True)
    x = torch.randn(3, 6, 5)
    a, b = ref(x)[0], ours(x)[0]
    print(json.dumps({"max_abs_diff": (a - b).abs().max().item(), "output_abs_sum": a.abs().sum().item(), "keys": sorted(got.keys())}))


cmd = sys.argv[1]
if cmd == "make": make(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "legacy")
elif cmd == "damage": damage(sys.argv[2], sys.argv[3])
elif cmd == "rnn": rnn(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
else: raise SystemExit("unknown command " + cmd)
