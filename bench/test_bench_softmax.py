"""pytest-benchmark: fastsoftmax.softmax vs peers and the np.copyto roof (see README.md)."""

FUNCTION = "softmax"


def test_softmax(fs_unit, run_unit):
    run_unit(fs_unit)
