"""The official ONNX package (Debian's python3-onnx) on both sides of LstmPort's .onnx support. Prints JSON.

  check <model.onnx>...          onnx.checker.check_model(model, full_check=True) on each file (the
                                 checker's full pass runs strict shape inference too); prints
                                 {"results": {path: null | "the checker's message"}, "ir": {...}, "opset": {...}}
  external <src.onnx> <dst.onnx> loads src and saves it as dst with every initializer in one data
                                 file beside it (onnx.external_data_helper.convert_model_to_external_data,
                                 size_threshold 0); prints {"location", "external": [initializer names]}
  external-outside <dst.onnx>    a model whose initializer W names "../<name>" as its external data,
                                 a file outside the model's folder (written there too, so only the
                                 location rule refuses it)
  if-lstm <dst.onnx>             a model whose LSTM node sits in an If branch and whose W, R and B are
                                 computed by Slice, Concat, Unsqueeze, Transpose, Squeeze and Reshape
                                 from the main graph's initializers; numpy computes the same
                                 constants; prints {"W", "R", "B": {"shape", "values"}, "node"}
  loop-lstm <dst.onnx>           the same nodes as the body of a Loop
"""
import json, os, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

def flat(a):
    return {"shape": list(a.shape), "values": [float(v) for v in a.reshape(-1)]}

def check(paths):
    results, ir, opset = {}, {}, {}
    for p in paths:
        try:
            # The loaded model, not the path: check_model(path, full_check=True) would write the
            # inferred shapes back into the file.
            onnx.checker.check_model(onnx.load(p), full_check=True)
            results[p] = None
        except Exception as e:  # the checker's ValidationError, or shape inference's InferenceError
            results[p] = "%s: %s" % (type(e).__name__, e)
        m = onnx.load(p, load_external_data=False)
        ir[p] = m.ir_version
        opset[p] = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return {"results": results, "ir": ir, "opset": opset, "onnx": onnx.__version__}

def external(src, dst):
    m = onnx.load(src)
    location = os.path.basename(dst) + ".data"
    convert_model_to_external_data(m, all_tensors_to_one_file=True, location=location, size_threshold=0)
    onnx.save_model(m, dst)
    ext = [t.name for t in m.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    return {"location": location, "external": ext}

def external_outside(dst):
    folder = os.path.dirname(os.path.abspath(dst))
    outside = os.path.basename(folder) + "-outside.bin"
    w = np.arange(24, dtype=np.float32).reshape(1, 8, 3) / 10
    with open(os.path.join(folder, "..", outside), "wb") as f:
        f.write(w.tobytes())
    t = numpy_helper.from_array(w, "W")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../" + outside), ("offset", "0"), ("length", str(w.nbytes))):
        e = t.external_data.add(); e.key = k; e.value = v
    r = numpy_helper.from_array(np.zeros((1, 8, 2), np.float32), "R")
    node = helper.make_node("LSTM", ["X", "W", "R"], ["Y"], name="lstm", hidden_size=2)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None, 3])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, None, None, None])], [t, r])
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), dst)
    return {"outside": os.path.normpath(os.path.join(folder, "..", outside))}

def branch_lstm(dst, kind):
    rng = np.random.default_rng(5)
    h, n_in = 3, 2
    # W's two halves stored transposed, [in, 2h] each: Transpose, Concat on the gate axis, Unsqueeze to [1,4h,in].
    wa = rng.standard_normal((n_in, 2 * h)).astype(np.float32)
    wb = rng.standard_normal((n_in, 2 * h)).astype(np.float32)
    # R lives in a larger block: Slice rows 1..4h+1 and columns 0..h, then Reshape to [1,4h,h].
    rbig = rng.standard_normal((4 * h + 2, h + 1)).astype(np.float32)
    # B stored as [1,1,8h]: Squeeze axis 0.
    bb = rng.standard_normal((1, 1, 8 * h)).astype(np.float32)
    inits = [numpy_helper.from_array(wa, "wa"), numpy_helper.from_array(wb, "wb"), numpy_helper.from_array(rbig, "rbig"),
             numpy_helper.from_array(bb, "bb"),
             numpy_helper.from_array(np.array([1, 0], np.int64), "starts"),
             numpy_helper.from_array(np.array([4 * h + 1, h], np.int64), "ends"),
             numpy_helper.from_array(np.array([0, 1], np.int64), "axes"),
             numpy_helper.from_array(np.array([0], np.int64), "axis0"),
             numpy_helper.from_array(np.array([1, 4 * h, h], np.int64), "rshape"),
             numpy_helper.from_array(np.array(True), "cond")]
    then_nodes = [
        helper.make_node("Transpose", ["wa"], ["wa_t"], perm=[1, 0]),
        helper.make_node("Transpose", ["wb"], ["wb_t"], perm=[1, 0]),
        helper.make_node("Concat", ["wa_t", "wb_t"], ["w2"], axis=0),
        helper.make_node("Unsqueeze", ["w2", "axis0"], ["W"]),
        helper.make_node("Slice", ["rbig", "starts", "ends", "axes"], ["r2"]),
        helper.make_node("Reshape", ["r2", "rshape"], ["R"]),
        helper.make_node("Squeeze", ["bb", "axis0"], ["B"]),
        helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], name="branch_lstm", hidden_size=h),
    ]
    if kind == "if":
        then_g = helper.make_graph(then_nodes, "then", [], [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [None, None, None])])
        else_g = helper.make_graph([helper.make_node("Identity", ["X"], ["X_copy"])], "else", [],
                                   [helper.make_tensor_value_info("X_copy", TensorProto.FLOAT, [None, None, None])])
        top = helper.make_node("If", ["cond"], ["out"], name="branch", then_branch=then_g, else_branch=else_g)
        out_shape = [None, None, None]
    else:
        # The same nodes as a Loop body (iteration number, condition in; condition out, Y_h scanned).
        body = helper.make_graph(then_nodes + [helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
                                 [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
                                 [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [None, None, None])])
        inits.append(numpy_helper.from_array(np.array(2, np.int64), "trips"))
        top = helper.make_node("Loop", ["trips", "cond"], ["out"], name="loop", body=body)
        out_shape = [None, None, None, None]
    g = helper.make_graph([top], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None, n_in])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)], inits)
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), dst)
    W = np.concatenate([wa.T, wb.T], 0)[None]
    R = rbig[1:4 * h + 1, 0:h].reshape(1, 4 * h, h)
    B = bb[0]
    return {"W": flat(W), "R": flat(R), "B": flat(B), "node": "branch_lstm"}

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "check": out = check(args)
    elif cmd == "external": out = external(*args)
    elif cmd == "external-outside": out = external_outside(*args)
    elif cmd == "if-lstm": out = branch_lstm(args[0], "if")
    elif cmd == "loop-lstm": out = branch_lstm(args[0], "loop")
    else: raise SystemExit("unknown command " + cmd)
    print(json.dumps(out))
