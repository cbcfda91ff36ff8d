"""The straightforward Python scripts for the other paths the benchmark times, one per path:

  st2pth   model.safetensors model.pth   numpy + json reader (the header, then np.fromfile per tensor), torch.save
  pth2st   model.pth model.safetensors   torch.load, numpy + json writer (the safetensors layout)
  onnx2pth model.onnx model.pth          onnx.load, numpy_helper, gate reorder IOFC -> IFGO, torch.save
  pth2onnx model.pth model.onnx          torch.load, gate reorder IFGO -> IOFC, onnx.helper graph, onnx.save
  tf2pth   savedmodel-dir model.pth      numpy reader of variables/variables (.index table, .data file), names from keras_metadata.pb, torch.save

The safetensors package and TensorFlow are not installed here: the safetensors scripts are the ten
lines of numpy and json the format needs; the TF checkpoint script reads the bundle as
tf.train.load_checkpoint would (the index table, then each tensor at its offset) but, without
TensorFlow's CRC-32C, does not check the checksums.

Layers and key names as ConvertTo-TorchLayout / ConvertTo-OnnxLayout give them for generate.ps1's model.
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def st2pth(src, dst):
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        state = {}
        for key, info in header.items():
            if key == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            f.seek(8 + n + begin)
            value = np.fromfile(f, dtype=DTYPES[info["dtype"]], count=(end - begin) // np.dtype(DTYPES[info["dtype"]]).itemsize)
            state[key] = torch.from_numpy(value.reshape(info["shape"]))
    torch.save(state, dst)


def pth2st(src, dst):
    state = torch.load(src, weights_only=True)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    arrays = {}
    for key, value in state.items():
        a = np.ascontiguousarray(value.numpy())
        header[key] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        arrays[key] = a
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for a in arrays.values():
            a.tofile(f)


def gates(x, order):  # reorders the 4 gate blocks along the first axis
    return np.concatenate([b for b in (np.split(x, 4)[i] for i in order)])


def onnx2pth(src, dst):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(src)
    init = {t.name: t for t in model.graph.initializer}
    state = {}
    for node in model.graph.node:
        if node.op_type == "LSTM":
            w, r, b = (numpy_helper.to_array(init[node.input[i]]) for i in (1, 2, 3))
            for d, suffix in enumerate(("_l0", "_l0_reverse")[: w.shape[0]]):
                wb, rb = np.split(b[d], 2)
                for name, value in (("weight_ih", w[d]), ("weight_hh", r[d]), ("bias_ih", wb), ("bias_hh", rb)):
                    state[f"{node.name}.{name}{suffix}"] = torch.from_numpy(gates(value, (0, 2, 3, 1)))  # IOFC -> IFGO
        elif node.op_type == "Gemm":
            state[f"{node.name}.weight"] = torch.from_numpy(numpy_helper.to_array(init[node.input[1]]))
            state[f"{node.name}.bias"] = torch.from_numpy(numpy_helper.to_array(init[node.input[2]]))
    torch.save(state, dst)


def pth2onnx(src, dst):
    import onnx
    from onnx import helper, numpy_helper
    state = torch.load(src, weights_only=True)
    layers = {}
    for key, value in state.items():
        layer, param = key.split(".", 1)
        layers.setdefault(layer, {})[param] = value.numpy()
    nodes, inits, inputs, outputs = [], [], [], []
    for layer, p in layers.items():
        inputs.append(helper.make_tensor_value_info(f"{layer}.X", onnx.TensorProto.FLOAT, None))
        if "weight_ih_l0" in p:
            dirs = ["_l0", "_l0_reverse"] if "weight_ih_l0_reverse" in p else ["_l0"]
            order = (0, 3, 1, 2)  # IFGO -> IOFC
            w = np.stack([gates(p["weight_ih" + s], order) for s in dirs])
            r = np.stack([gates(p["weight_hh" + s], order) for s in dirs])
            b = np.stack([np.concatenate([gates(p["bias_ih" + s], order), gates(p["bias_hh" + s], order)]) for s in dirs])
            h = r.shape[2]
            inits += [numpy_helper.from_array(w, f"{layer}.W"), numpy_helper.from_array(r, f"{layer}.R"), numpy_helper.from_array(b, f"{layer}.B")]
            out = [f"{layer}.Y", f"{layer}.Y_h", f"{layer}.Y_c"]
            nodes.append(helper.make_node("LSTM", [f"{layer}.X", f"{layer}.W", f"{layer}.R", f"{layer}.B"], out, name=layer,
                                          hidden_size=h, direction="bidirectional" if len(dirs) == 2 else "forward"))
        else:
            inits += [numpy_helper.from_array(p["weight"], f"{layer}.weight"), numpy_helper.from_array(p["bias"], f"{layer}.bias")]
            out = [f"{layer}.Y"]
            nodes.append(helper.make_node("Gemm", [f"{layer}.X", f"{layer}.weight", f"{layer}.bias"], out, name=layer, transB=1))
        outputs += [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in out]
    graph = helper.make_graph(nodes, "lstmport", inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), dst)


def varint(b, pos):
    value = shift = 0
    while True:
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def fields(b):  # a protobuf message's (number, value) pairs; values are ints or bytes
    pos, out = 0, []
    while pos < len(b):
        tag, pos = varint(b, pos)
        wire = tag & 7
        if wire == 0:
            value, pos = varint(b, pos)
        elif wire == 2:
            n, pos = varint(b, pos)
            value, pos = b[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", b, pos)[0], pos + 4
        else:
            value, pos = struct.unpack_from("<Q", b, pos)[0], pos + 8
        out.append((tag >> 3, value))
    return out


def table(path):  # a LevelDB table's entries (uncompressed blocks): the footer's index block, then each data block
    data = open(path, "rb").read()
    def block(offset, size):
        b = data[offset:offset + size]
        restarts = struct.unpack_from("<I", b, len(b) - 4)[0]
        end, pos, key, out = len(b) - 4 - 4 * restarts, 0, b"", []
        while pos < end:
            shared, pos = varint(b, pos)
            unshared, pos = varint(b, pos)
            n, pos = varint(b, pos)
            key = key[:shared] + b[pos:pos + unshared]
            out.append((key, b[pos + unshared:pos + unshared + n]))
            pos += unshared + n
        return out
    footer, pos = data[-48:], 0
    _, pos = varint(footer, pos)
    _, pos = varint(footer, pos)
    index_offset, pos = varint(footer, pos)
    index_size, pos = varint(footer, pos)
    for _, handle in block(index_offset, index_size):
        offset, p = varint(handle, 0)
        size, _ = varint(handle, p)
        yield from block(offset, size)


def tf2pth(saved_model, dst):
    # keras_metadata.pb names the layers: SavedMetadata nodes (1), each node_path (3) and JSON metadata (5).
    names = {}
    for n, node in fields(open(saved_model + "/keras_metadata.pb", "rb").read()):
        node = dict(fields(node))
        if node.get(3, b"").startswith(b"root."):
            names[node[3].decode()[5:].replace(".", "/")] = json.loads(node[5])["name"]
    prefix = saved_model + "/variables/variables"
    state = {}
    with open(prefix + ".data-00000-of-00001", "rb") as data:
        for key, value in table(prefix + ".index"):
            key = key.decode()
            if not key.endswith("/.ATTRIBUTES/VARIABLE_VALUE"):
                continue
            e = dict(fields(value))
            if e.get(1) != 1:  # float32 only
                continue
            shape = [dict(fields(d))[1] for n, d in fields(e.get(2, b"")) if n == 2]
            data.seek(e.get(4, 0))
            a = np.fromfile(data, dtype=np.float32, count=e[5] // 4).reshape(shape)
            path = key[: -len("/.ATTRIBUTES/VARIABLE_VALUE")].split("/")
            layer, part = names.get(path[0], path[0]), path[-1]
            if "cell" in path:
                suffix = "_l0_reverse" if "backward_layer" in path else "_l0"
                if part == "kernel":
                    state[f"{layer}.weight_ih{suffix}"] = torch.from_numpy(np.ascontiguousarray(a.T))
                elif part == "recurrent_kernel":
                    state[f"{layer}.weight_hh{suffix}"] = torch.from_numpy(np.ascontiguousarray(a.T))
                else:
                    state[f"{layer}.bias_ih{suffix}"] = torch.from_numpy(a)
                    state[f"{layer}.bias_hh{suffix}"] = torch.zeros_like(torch.from_numpy(a))
            elif part == "kernel":
                state[f"{layer}.weight"] = torch.from_numpy(np.ascontiguousarray(a.T))
            else:
                state[f"{layer}.bias"] = torch.from_numpy(a)
    # Keras's layer order (layer_with_weights-N by N), kernel, recurrent kernel, bias: as the product writes them.
    torch.save(state, dst)


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:4])
