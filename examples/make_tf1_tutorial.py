"""Writes examples/tf1_tutorial/: the checkpoint a classic TensorFlow 1.x LSTM tutorial saves with
tf.train.Saver after training with Adam, with numpy only, deterministically:

  in_hidden/weights [3,36], in_hidden/biases [36]             a fully connected input layer (tf.get_variable)
  LSTM_cell/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel [52,64], bias [64]
  LSTM_cell/rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel [32,64], bias [64]
                                                              a MultiRNNCell of two BasicLSTMCell(16) under dynamic_rnn
  out_hidden/weights [16,1], out_hidden/biases [1]            a fully connected output layer
  <each>/Adam, <each>/Adam_1, train/beta1_power, train/beta2_power, global_step   training state

Run with /usr/bin/python3 examples/make_tf1_tutorial.py [FOLDER] [--broken]; --broken writes cell_1's
kernel with 62 columns (no LSTM has that), as a damaged export would.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tf_checkpoint  # noqa: E402


def tutorial(broken=False):
    rng = np.random.default_rng(15)
    f32 = lambda *shape, s=0.3: rng.normal(0, s, shape).astype(np.float32)
    cell = "LSTM_cell/rnn/multi_rnn_cell/cell_{}/basic_lstm_cell/{}"
    weights = {
        "in_hidden/weights": f32(3, 36), "in_hidden/biases": f32(36, s=0.1),
        cell.format(0, "kernel"): f32(36 + 16, 64), cell.format(0, "bias"): f32(64, s=0.1),
        cell.format(1, "kernel"): f32(16 + 16, 62 if broken else 64), cell.format(1, "bias"): f32(64, s=0.1),
        "out_hidden/weights": f32(16, 1), "out_hidden/biases": f32(1, s=0.1),
    }
    state = {}
    for name, value in weights.items():
        state[name + "/Adam"] = (value * 0.01).astype(np.float32)
        state[name + "/Adam_1"] = (value * value * 0.001).astype(np.float32)
    state["train/beta1_power"] = np.array(0.9 ** 1000, np.float32)
    state["train/beta2_power"] = np.array(0.999 ** 1000, np.float32)
    state["global_step"] = np.array(1000, np.int64)
    return {**weights, **state}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    folder = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf1_tutorial")
    print(tf_checkpoint.write(os.path.join(folder, "model.ckpt-1000"), tutorial(broken="--broken" in sys.argv)))
