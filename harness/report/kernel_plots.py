"""Kernel figures across backends: latency against tokens per shape (N×K), backends as
series, and the speedup of each backend over scalar on the same cases. Imported, like
plots.py, once report.py has selected matplotlib's Agg backend."""
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

import docs as D
from plots import _png, legend_label, text

# Shapes drawn at most (one small panel each); the tables hold the rest.
MAX_SHAPES = 12


def _shape(m):
    """(kernel, N, K, threads), tokens: what a panel shows and where on its x axis; None without tokens."""
    sh = m.get("shape", {})
    if not all(isinstance(sh.get(f), int) for f in ("n", "k", "tokens")):
        return None
    return (m.get("name", "?"), sh["n"], sh["k"], sh.get("threads")), sh["tokens"]


def _series(docs, value):
    """{shape: {series label: {tokens: value}}} over the kernel measurements, first seen first."""
    out = {}
    for d in docs:
        for m in d.measurements:
            if m.get("kind") != "kernel":
                continue
            at = _shape(m)
            v = value(m, d)
            if at is None or v is None:
                continue
            label = m.get("backend", "?") + (f" {d.tag}" if len(docs) > 1 else "")
            out.setdefault(at[0], {}).setdefault(label, {})[at[1]] = v
    return out


def _title(shape):
    name, n, k, threads = shape
    return f"{name} N{n}×K{k}" + (f" t{threads}" if threads is not None else "")


def _panels(data, ylabel, log_y, hline=None):
    """(PNG, shapes left out) of one panel per shape, x = tokens; None where no shape has two token counts."""
    shapes = [s for s, lines in data.items() if any(len(pts) > 1 for pts in lines.values())]
    if not shapes:
        return None
    omitted = max(0, len(shapes) - MAX_SHAPES)
    shapes = shapes[:MAX_SHAPES]
    cols = min(3, len(shapes))
    rows = -(-len(shapes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, layout="constrained")
    colours = {}
    for ax, shape in zip([a for r in axes for a in r], shapes):
        for label, pts in data[shape].items():
            xs = sorted(pts)
            c = colours.setdefault(label, f"C{len(colours) % 10}")
            ax.plot(xs, [pts[x] for x in xs], marker="o", markersize=4, color=c, label=legend_label(label))
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({x for pts in data[shape].values() for x in pts}))
        if log_y:
            ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        if hline is not None:
            ax.axhline(hline, color="0.5", linestyle=":", linewidth=1)
        ax.set_title(text(_title(shape)), fontsize=9)
        ax.set_xlabel("tokens (T)", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    for ax in [a for r in axes for a in r][len(shapes):]:
        ax.set_visible(False)
    return _png(fig), omitted


def latency_figure(docs):
    """Median latency against tokens, one panel per shape, one line per backend (and file)."""
    return _panels(_series(docs, lambda m, d: D.stat(m, "median") * 1e6 if D.stat(m, "median") else None),
                   "median latency, µs", log_y=True)


def _scalar_medians(docs):
    out = {}
    for d in docs:
        for m in d.measurements:
            at = _shape(m) if m.get("kind") == "kernel" and m.get("backend") == "scalar" else None
            if at is not None and D.stat(m, "median"):
                out[(d.path, at)] = D.stat(m, "median")
    return out


def speedup_figure(docs):
    """Scalar's median over each other backend's on the same case, against tokens per shape;
    None without scalar measurements to divide by."""
    base = _scalar_medians(docs)
    if not base:
        return None

    def speedup(m, d):
        at = _shape(m)
        ref = base.get((d.path, at)) if at else None
        med = D.stat(m, "median")
        return ref / med if ref and med and m.get("backend") != "scalar" else None

    return _panels(_series(docs, speedup), "speedup over scalar (×)", log_y=True, hline=1.0)


def speedup_rows(docs):
    """[(key, file tag, speedup)] for the table beside the figure (a single token count draws no line)."""
    base = _scalar_medians(docs)
    out = []
    for d in docs:
        for m in d.measurements:
            at = _shape(m) if m.get("kind") == "kernel" and m.get("backend") != "scalar" else None
            ref = base.get((d.path, at)) if at else None
            if ref and D.stat(m, "median"):
                out.append((m.get("key", "?"), d.tag, ref / D.stat(m, "median")))
    return out
