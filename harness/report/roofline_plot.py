"""The roofline chart: operations per byte (x) against achieved operations per second
(y), log-log, with each file's measured bandwidth ceiling (bandwidth × intensity) and
measured int8 compute ceiling drawn as lines. A point above both lines is above the
roofline: the machine was busier while the ceiling was probed than during the case,
or the case's counts are wrong."""
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

import ceilings as C
from plots import _png, legend_label

MARKERS = {"kernel": "o", "prefill": "^", "decode": "s"}


def points(docs):
    """[(doc, measurement, ops per byte, GOP/s)] of every case with ops, bytes and a median."""
    out = []
    for d in docs:
        for m in d.measurements:
            oi, gops = C.intensity(m), C.achieved_gops(m)
            if oi and gops:
                out.append((d, m, oi, gops))
    return out


def figure(docs):
    """PNG, or None where no case has both an operation and a byte count."""
    pts = points(docs)
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    colours = {}
    for d, m, oi, gops in pts:
        backend = m.get("backend", "?") + (f" {d.tag}" if len(docs) > 1 else "")
        kind = m.get("name") if m.get("kind") == "e2e" else "kernel"
        c = colours.setdefault(backend, f"C{len(colours) % 10}")
        ax.plot([oi], [gops], linestyle="none", marker=MARKERS.get(kind, "x"), color=c, markersize=6,
                markeredgecolor="black", markeredgewidth=0.4)
    xs = [p[2] for p in pts]
    lo, hi = min(xs) / 2, max(xs) * 2
    for i, d in enumerate(docs):
        bw, peak = d.context.get("memory_bandwidth_gbps"), C.peak_gops({}, d)
        tag = f"{d.tag}: " if len(docs) > 1 else ""
        style = ["-", "--", ":", "-."][i % 4]
        if bw:
            ax.plot([lo, hi], [bw * lo, bw * hi], color="0.25", linestyle=style, linewidth=1,
                    label=legend_label(f"{tag}bandwidth {bw:.3g} GB/s"))
        if peak:
            ax.plot([lo, hi], [peak, peak], color="firebrick", linestyle=style, linewidth=1,
                    label=legend_label(f"{tag}int8 peak {peak:.4g} GOP/s"))
    for backend, c in colours.items():
        ax.plot([], [], linestyle="none", marker="o", color=c, label=legend_label(backend))
    for kind, marker in MARKERS.items():
        ax.plot([], [], linestyle="none", marker=marker, color="white", markeredgecolor="black", label=kind)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlim(lo, hi)
    ys = [p[3] for p in pts] + [C.peak_gops({}, d) or 0 for d in docs]
    ax.set_ylim(min(p[3] for p in pts) / 2, max(ys) * 2)
    ax.set_xlabel("operations per byte moved")
    ax.set_ylabel("achieved GOP/s (10⁹ operations per second)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)
