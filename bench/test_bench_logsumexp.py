"""pytest-benchmark: fastsoftmax.logsumexp vs peers and the np.copyto roof (see README.md)."""

FUNCTION = "logsumexp"


def test_logsumexp(fs_unit, run_unit):
    run_unit(fs_unit)
