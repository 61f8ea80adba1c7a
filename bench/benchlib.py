"""Shared by the bench reporters (report.py, db-report.py, drill-report.py): medians, number
parsing and formatting, and reading a workdir's meta.tsv and raw.tsv."""
import statistics
import sys


def median(xs):
    """The median of the values that are not None; None when there is none."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def num(v):
    """v as a float, or None when it is not a number."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v, digits=2, unit=""):
    """v with DIGITS decimals and UNIT; "–" for None."""
    return "–" if v is None else f"{v:.{digits}f}{unit}"


def workdir_arg(doc):
    """The WORKDIR argument of `REPORTER WORKDIR`; any other command line exits with DOC."""
    if len(sys.argv) != 2:
        sys.exit(doc)
    return sys.argv[1]


def read_meta(work):
    """WORKDIR/meta.tsv (key TAB value lines) as a dict in file order; {} when there is none."""
    meta = {}
    try:
        with open(f"{work}/meta.tsv") as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                meta[k] = v
    except FileNotFoundError:
        pass
    return meta


def raw_rows(work):
    """The rows of WORKDIR/raw.tsv, each a list of its tab-separated fields."""
    with open(f"{work}/raw.tsv") as f:
        for line in f:
            yield line.rstrip("\n").split("\t")
