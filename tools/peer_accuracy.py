"""Worst float32 softmax error (ulp of 2^-23, relative, against a float64 reference) of fastsoftmax and
of the peers that are installed (NumPy's max-shift formula, scipy.special, PyTorch, ONNX Runtime).

Usage: python tools/peer_accuracy.py
"""
import numpy as np

import fastsoftmax as fs
from fastsoftmax import _bench


def worst_ulp(y, ref):
    big = ref >= 2.0 ** -126
    return float(np.max(np.abs(y.astype(np.float64)[big] - ref[big]) / ref[big]) / 2.0 ** -23)


def main():
    rng = np.random.default_rng(0)
    peers = [p for p in ("numpy", "scipy", "torch", "onnxruntime") if not _bench._CONTENDERS[p].unavailable()]
    for shape, scale in (((64, 1000), 4.0), ((64, 1000), 20.0), ((1, 1 << 20), 4.0)):
        x = (rng.standard_normal(shape) * scale).astype(np.float32)
        xd = x.astype(np.float64)
        e = np.exp(xd - xd.max(-1, keepdims=True))
        ref = e / e.sum(-1, keepdims=True)
        row = [f"fastsoftmax {worst_ulp(fs.softmax(x), ref):.1f}"]
        for name in peers:
            prepared = _bench._CONTENDERS[name].prepare("softmax", x, -1, 1, False)
            row.append(f"{name} {worst_ulp(np.asarray(prepared.call()), ref):.1f}")
        print(f"{shape} normal x {scale}: " + ", ".join(row))


if __name__ == "__main__":
    main()
