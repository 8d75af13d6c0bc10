"""pytest-benchmark: the loss family (cross_entropy, cross_entropy_with_grad, sigmoid,
log_sigmoid) vs peers and the np.copyto roof (see README.md).

Each test is named after its function (``test_<function>``); without --fs-cases
each function runs its own default cases (``fastsoftmax._bench.FUNCTION_CASES``):
cross_entropy* on 4096x1000, 64x32000 and 65536x10 (mean reduction, int64
targets; peers numpy, torch, and onnxruntime's SoftmaxCrossEntropyLoss for the
loss alone), sigmoid / log_sigmoid on 1048576, 4096x1000 and 10 (peers numpy,
scipy.special.expit / log_expit, torch, onnxruntime's Sigmoid).
cross_entropy_with_grad times forward and backward on every call (torch:
autograd on a leaf tensor whose gradient is reset each call).
"""


def test_cross_entropy(fs_unit, run_unit):
    run_unit(fs_unit)


def test_cross_entropy_with_grad(fs_unit, run_unit):
    run_unit(fs_unit)


def test_sigmoid(fs_unit, run_unit):
    run_unit(fs_unit)


def test_log_sigmoid(fs_unit, run_unit):
    run_unit(fs_unit)
