"""pytest-benchmark: softmax_backward and log_softmax_backward (from dy and the forward
output y) vs NumPy's formulas, torch._softmax_backward_data / _log_softmax_backward_data
and the np.copyto roof (see README.md).  Default cases: 4096x1000, 64x32000, 65536x10."""


def test_softmax_backward(fs_unit, run_unit):
    run_unit(fs_unit)


def test_log_softmax_backward(fs_unit, run_unit):
    run_unit(fs_unit)
