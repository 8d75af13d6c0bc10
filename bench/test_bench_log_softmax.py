"""pytest-benchmark: fastsoftmax.log_softmax vs peers and the np.copyto roof (see README.md)."""

FUNCTION = "log_softmax"


def test_log_softmax(fs_unit, run_unit):
    run_unit(fs_unit)
