"""Writes TensorFlow checkpoints (tf.train.Saver V2 tensor bundles) from the published format, with
numpy only (TensorFlow is not needed): <prefix>.data-00000-of-00001 holds each tensor's raw
little-endian bytes; <prefix>.index is a LevelDB-format table (tensorflow/core/lib/io/table_builder.cc:
prefix-compressed keys with a restart point every 16 entries, each block followed by a type byte and
a masked CRC-32C, a 48-byte footer) mapping "" to a BundleHeaderProto and every tensor name to a
BundleEntryProto (tensorflow/core/protobuf/tensor_bundle.proto), keys in sorted order.

    import numpy as np, tf_checkpoint
    tf_checkpoint.write("train/model.ckpt", {"dense/kernel": np.zeros((3, 2), np.float32)})
"""
import os
import struct

import numpy as np

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _CRC_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number, wire, payload):
    tag = varint((number << 3) | wire)
    if wire == 0:
        return tag + varint(payload)
    if wire == 2:
        return tag + varint(len(payload)) + payload
    if wire == 5:
        return tag + struct.pack("<I", payload)
    raise ValueError(wire)


_DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("int64"): 9}


def bundle_entry(dtype, shape, offset, size, crc):
    shape_proto = b"".join(field(2, 2, field(1, 0, d)) for d in shape)
    msg = field(1, 0, dtype) + field(2, 2, shape_proto)
    if offset:
        msg += field(4, 0, offset)
    return msg + field(5, 0, size) + field(6, 5, crc)


def _block(entries, restart_interval=16):
    out, restarts, last = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(last), len(key)) and last[shared] == key[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        last = key
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def _write_block(f, contents):
    offset = f.tell()
    trailer = b"\x00"  # no compression
    f.write(contents + trailer + struct.pack("<I", masked_crc(contents + trailer)))
    return varint(offset) + varint(len(contents))


def write(prefix, tensors, block_entries=8):
    """tensors: {name: numpy array} (float32, float64, int32 or int64). Returns the prefix."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    entries, data = {}, bytearray()
    for name, array in tensors.items():
        a = np.ascontiguousarray(array)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        entries[name.encode()] = bundle_entry(_DTYPES[a.dtype], a.shape, len(data), len(raw), masked_crc(raw))
        data += raw
    # BundleHeaderProto: num_shards 1, endianness LITTLE (0), version {producer 1}.
    entries[b""] = field(1, 0, 1) + field(3, 2, field(1, 0, 1))
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(data)
    items = sorted(entries.items())
    with open(prefix + ".index", "wb") as f:
        index = []
        for i in range(0, len(items), block_entries):
            chunk = items[i:i + block_entries]
            index.append((chunk[-1][0], _write_block(f, _block(chunk))))
        meta = _write_block(f, _block([]))
        handles = _write_block(f, _block(index, restart_interval=1))
        footer = meta + handles
        f.write(footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57))
    with open(os.path.join(os.path.dirname(os.path.abspath(prefix)), "checkpoint"), "w") as f:
        name = os.path.basename(prefix)
        f.write(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    return prefix
