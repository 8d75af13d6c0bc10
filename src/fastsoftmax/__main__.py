"""``python -m fastsoftmax``: configuration and benchmarks.

Without arguments: print ``fastsoftmax.show_config()`` and a short
side-by-side timing of softmax (float32) against NumPy, SciPy and, when
installed, torch and onnxruntime.  ``python -m fastsoftmax bench``: the
full benchmark suite (see ``python -m fastsoftmax bench --help``).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time


def _csv(kind, choices=None, conv=str):
    def parse(s):
        items = [i.strip() for i in s.split(",") if i.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"empty {kind} list")
        out = []
        for i in items:
            try:
                v = conv(i)
            except (ValueError, TypeError):
                raise argparse.ArgumentTypeError(f"bad {kind}: {i!r}") from None
            if choices is not None and v not in choices:
                raise argparse.ArgumentTypeError(
                    f"unknown {kind} {i!r} (choose from {', '.join(map(str, choices))})")
            if v not in out:
                out.append(v)
        return out
    return parse


def _pos_int(s):
    v = int(s)
    if v < 1:
        raise ValueError(s)
    return v


def _dtype(s):
    import numpy as np
    try:
        return np.dtype(s).name
    except TypeError:
        raise ValueError(s) from None


def _positive_float(s):
    v = float(s)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {s}")
    return v


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, else one line per step."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.width = 0

    def __call__(self, i, n, what):
        if not self.enabled:
            return
        msg = f"[{i}/{n}] {what}  ({time.perf_counter() - self.t0:.0f}s)"
        if self.tty:
            sys.stderr.write("\r" + msg.ljust(self.width))
            self.width = len(msg)
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.tty and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _case_list_text():
    from . import _bench as B
    lines = []
    for c in B.CASES.values():
        extra = ("  [large: only with --all or when named]" if c.large else
                 "" if c.default else "  [not a softmax-family default]")
        lines.append(f"  {c.name:<16} {B.case_label(c, c.dtype):<28} {c.note}{extra}")
    return "\n".join(lines)


def _function_list_text():
    from . import _bench as B
    lines = [f"  {', '.join(B.FUNCTIONS)}: the default; cases: all but the large one"]
    by_cases = {}
    for f in B.EXTRA_FUNCTIONS:
        by_cases.setdefault(tuple(B.FUNCTION_CASES.get(f, B.DEFAULT_CASES)), []).append(f)
    for cs, fns in by_cases.items():
        lines.append(f"  {', '.join(fns)}: only when named; cases: {', '.join(cs)}")
    lines.append("  all: every function above")
    return "\n".join(lines)


def _functions(names):
    """--functions values, with "all" expanded, in the order given."""
    from . import _bench as B
    out = []
    for n in names:
        for f in (B.ALL_FUNCTIONS if n == "all" else (n,)):
            if f not in out:
                out.append(f)
    return out


def build_parser():
    from . import _bench as B

    main_epilog = textwrap.dedent("""\
        With no command: print fastsoftmax.show_config() and a short softmax
        float32 comparison against NumPy and SciPy (and torch / onnxruntime when
        installed) at the default thread count, on the shapes
        (65536,10), (4096,1000), (64,32000), (1000,256) over axis 0, and (10,).

        Commands:
          bench     the full benchmark suite (python -m fastsoftmax bench --help)
          config    only print fastsoftmax.show_config()

        Examples:
          python -m fastsoftmax
          python -m fastsoftmax bench --cases 4096x1000,64x32000 --threads 1,2
          python -m fastsoftmax bench --functions softmax --json res.json --plot res.png
        """)
    p = argparse.ArgumentParser(
        prog="python -m fastsoftmax",
        description="fastsoftmax: fast, exact softmax / log_softmax / logsumexp for NumPy.",
        epilog=main_epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="{bench,config}")

    sub.add_parser("config", help="print fastsoftmax.show_config()",
                   description="Print fastsoftmax.show_config().")

    bench_epilog = (
        "functions (--functions; each runs its own default cases unless --cases is given):\n"
        + _function_list_text() + "\n"
        "  cross_entropy*: mean reduction over int64 class targets; with_grad also\n"
        "  returns dlogits (torch: forward + autograd backward, both timed).\n"
        "  sigmoid, log_sigmoid are elementwise (a case's axis is ignored).\n"
        "  *_backward: from dy and the forward output y.\n\n"
        "cases:\n" + _case_list_text() + "\n"
        "  An ad-hoc shape can be given too: 2048x512 (last axis), 1000x256@0\n"
        "  (axis 0), 64x64x64@0+2 (a tuple of axes), 100x100@none (all axes).\n\n"
        "method:\n"
        "  For each case, function and thread count, every contender is built once,\n"
        "  warmed up and its result checked against the NumPy formula (a wrong\n"
        "  fastsoftmax result is an error and is not timed). Each contender runs\n"
        "  enough calls per sample to last >= --sample-ms; samples are taken\n"
        "  round-robin over the contenders, --repeats of them (or fewer, at least 3,\n"
        "  when --budget runs out), and the median time per call is reported.\n"
        "  GB/s = (input bytes + result bytes) / time; the roof is np.copyto of the\n"
        "  input (its GB/s counts read + write); xR = peer time / fastsoftmax time.\n"
        "  Peers: numpy (the max-shift formula by hand), scipy.special, torch,\n"
        "  onnxruntime (a one-node opset-13 model); those not installed are left out,\n"
        "  and a peer without a counterpart of a function is left out of its table.\n\n"
        "examples:\n"
        "  python -m fastsoftmax bench --cases 4096x1000,64x32000 --threads 1,2\n"
        "  python -m fastsoftmax bench --all --json results.json --plot speedups.png\n"
        "  python -m fastsoftmax bench --functions logsumexp --dtypes float32,float64 --out\n"
        "  python -m fastsoftmax bench --functions cross_entropy,cross_entropy_with_grad "
        "--threads 1,2\n"
        "  python -m fastsoftmax bench --functions sigmoid,log_sigmoid --cases 1048576\n")
    b = sub.add_parser(
        "bench", help="run the full benchmark suite",
        description="Benchmark fastsoftmax against NumPy, SciPy, torch and onnxruntime "
                    "(the installed ones) and a memory-copy roof.",
        epilog=bench_epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--cases", metavar="NAME,...", type=_csv("case"),
                   help="cases to run, by name or shape, for every function (default: "
                        "all but the large one; each function of the loss family its own)")
    b.add_argument("--all", action="store_true",
                   help="also run the large out-of-cache case 4096x32768 (512 MiB "
                        "input; fastsoftmax needs ~1.5 GiB, the bench with all peers "
                        "peaks near 5 GiB; several minutes)")
    b.add_argument("--dtypes", metavar="DT,...", type=_csv("dtype", conv=_dtype),
                   help="run every case in each of these dtypes, e.g. float32,float64 "
                        "(default: each case's own dtype, float32 but for 4096x1000-f64)")
    b.add_argument("--functions", metavar="F,...",
                   type=_csv("function", B.ALL_FUNCTIONS + ("all",)),
                   default=list(B.FUNCTIONS),
                   help="functions to time (default: %s); also %s, or all "
                        "(see 'functions' below)"
                        % (",".join(B.FUNCTIONS), ", ".join(B.EXTRA_FUNCTIONS)))
    b.add_argument("--threads", metavar="N,...", type=_csv("thread count", conv=_pos_int),
                   help="thread counts, set for fastsoftmax, torch and onnxruntime alike "
                        "(default: 1 and fastsoftmax's default)")
    b.add_argument("--peers", metavar="P,...", type=_csv("peer", B.PEERS),
                   help="peers to compare with (default: every installed one of %s)"
                        % ",".join(B.PEERS))
    b.add_argument("--out", action="store_true",
                   help="write results into preallocated outputs where a contender "
                        "supports it (fastsoftmax out=, numpy ufunc out=, torch out=)")
    b.add_argument("--repeats", metavar="N", type=_pos_int, default=B.DEFAULT_REPEATS,
                   help="samples per contender; the median is reported (default: %(default)s)")
    b.add_argument("--sample-ms", metavar="MS", type=_positive_float,
                   default=B.DEFAULT_SAMPLE_MS,
                   help="minimum duration of one sample, in ms (default: %(default)s)")
    b.add_argument("--budget", metavar="SECONDS", type=_positive_float,
                   default=B.DEFAULT_BUDGET_S,
                   help="time budget per case, function and thread count; past it "
                        "fewer samples are taken (at least 3) (default: %(default)s)")
    b.add_argument("--json", metavar="FILE",
                   help="write all raw samples, medians, metrics, machine info and "
                        "versions to FILE")
    b.add_argument("--plot", metavar="FILE.png",
                   help="save a bar chart of the speed-ups over each peer (needs matplotlib)")
    b.add_argument("--list", action="store_true", help="list the cases and exit")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p


def _show_config():
    import fastsoftmax as fs
    r = fs.show_config()
    if isinstance(r, str):
        print(r)


def _header(B, peers, missing):
    import fastsoftmax as fs
    try:
        isa = fs.get_isa()
    except Exception as e:  # pragma: no cover
        isa = f"? ({e})"
    vs = B.versions()
    have = ", ".join(f"{p} {vs.get(p)}" for p in peers)
    lines = [f"fastsoftmax {vs['fastsoftmax']} (isa {isa}) vs {have or 'no peer'}"]
    if missing:
        lines.append("left out: " + "; ".join(missing.values()))
    warn = B.load_warning()
    if warn:
        lines.append(warn)
    return "\n".join(lines)


def main_job(args=None):
    import fastsoftmax as fs
    from . import _bench as B

    _show_config()
    print()
    peers, missing = B.available_peers()
    t = fs.get_num_threads()
    print(_header(B, peers, missing))
    print(f"softmax, float32, threads={t}, median of {B.DEFAULT_REPEATS} samples\n")
    sys.stdout.flush()
    cases = [B.CASES[n] for n in B.MAIN_JOB_CASES]
    prog = _Progress(sys.stderr.isatty())
    results = B.run_suite(["softmax"], cases, [t], dtypes=["float32"], peers=peers,
                          repeats=B.DEFAULT_REPEATS, budget_s=4.0, progress=prog)
    prog.done()
    print(B.format_tables(results))
    print("\nfull suite: python -m fastsoftmax bench --help")
    return 1 if any(r.fs_error for r in results) else 0


def bench(args):
    import fastsoftmax as fs
    from . import _bench as B

    if args.list:
        print(_case_list_text())
        return 0
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib, which is not installed "
                  "(pip install matplotlib)", file=sys.stderr)
            return 2
    functions = _functions(args.functions)
    try:
        if args.cases is None:  # each function its own default cases
            cases = {f: B.default_cases(f, include_large=args.all) for f in functions}
        else:
            cases = B.select_cases(args.cases, include_large=args.all)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    peers, missing = B.available_peers(args.peers)
    if args.threads:
        threads = args.threads
    else:
        threads = sorted({1, fs.get_num_threads()})
    print(_header(B, peers, missing))
    print(f"{args.repeats} samples of >= {args.sample_ms:g} ms each, "
          f"budget {args.budget:g} s per unit\n")
    sys.stdout.flush()
    prog = _Progress(not args.quiet)
    t0 = time.perf_counter()
    try:
        results = B.run_suite(functions, cases, threads, dtypes=args.dtypes,
                              peers=peers, out=args.out, repeats=args.repeats,
                              sample_ms=args.sample_ms, budget_s=args.budget,
                              progress=prog)
    except KeyboardInterrupt:
        prog.done()
        print("interrupted", file=sys.stderr)
        return 130
    prog.done()
    print(B.format_tables(results))
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    rc = 0
    if args.json:
        settings = {k: getattr(args, k) for k in
                    ("cases", "all", "dtypes", "functions", "peers", "out",
                     "repeats", "sample_ms", "budget")}
        settings["threads"] = threads
        settings["functions"] = functions
        if isinstance(cases, dict):
            settings["cases_run"] = list(dict.fromkeys(c.name for cs in cases.values() for c in cs))
            settings["cases_by_function"] = {f: [c.name for c in cs] for f, cs in cases.items()}
        else:
            settings["cases_run"] = [c.name for c in cases]
        B.write_json(args.json, results, settings, missing)
        print(f"wrote {args.json}")
    if args.plot:
        try:
            B.plot(args.plot, results)
            print(f"wrote {args.plot}")
        except Exception as e:
            print(f"error: plot failed: {type(e).__name__}: {e}", file=sys.stderr)
            rc = 1
    if any(r.fs_error for r in results):
        print("error: fastsoftmax failed on some cases (see ERROR above)", file=sys.stderr)
        rc = 1
    return rc


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        import fastsoftmax as fs
        print(fs.__version__)
        return 0
    if args.command == "config":
        _show_config()
        return 0
    if args.command == "bench":
        return bench(args)
    return main_job(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        try:
            sys.stdout = None
        finally:
            os._exit(1)
