"""Figures of the report as PNG bytes. Several files appear as series side by side,
each labelled by commit and machine (docs.label_docs). report.py selects the Agg
backend before this module is imported: no display is needed."""
import io
import warnings

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

import docs as D
import energy as E

DPI = 110
# Bars a plot draws at most (categories times files): a figure with thousands would
# be too large for matplotlib to render, and unreadable; the rest are in the table
# above it, which report.py says under the figure.
MAX_BARS = 120
# The phases an end-to-end figure plots; a measurement named otherwise is in the table only.
PHASES = ("prefill", "decode")

# Every label here is text from a result file: a "$" must not start mathtext (two of
# them would be typeset as math, one fails the whole plot with a parser error).
if "text.parse_math" in matplotlib.rcParams:
    matplotlib.rcParams["text.parse_math"] = False
    _MATH = False
else:  # before matplotlib 3.5: an escaped \$ is shown as a plain $
    _MATH = True
# A character the font lacks is drawn as a box; the tables hold the name as written.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")


def text(s):
    """A label taken from a result file, to be drawn as written."""
    return s.replace("$", r"\$") if _MATH else s


def legend_label(s):
    """A series name for a legend: matplotlib hides labels that start with "_"."""
    return " " + text(s) if s.startswith("_") else text(s)


def _png(fig):
    buf = io.BytesIO()
    # No "Software" tag: the same inputs give the same bytes whatever matplotlib wrote them.
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _bars(ax, categories, series, horizontal, log=False, annotate=None):
    """Grouped bars: one group per category, one bar per series (file).
    series: [(label, {category: value}, {category: (low, high)})]."""
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (label, values, spans) in enumerate(series):
        pos, val, err = [], [], [[], []]
        for c, cat in enumerate(categories):
            if values.get(cat) is None:
                continue
            v = values[cat]
            lo, hi = spans.get(cat, (v, v))
            pos.append(c - 0.4 + width * (i + 0.5))
            val.append(v)
            err[0].append(max(v - lo, 0))
            err[1].append(max(hi - v, 0))
        if not pos:
            continue
        draw = ax.barh if horizontal else ax.bar
        whiskers = {"xerr" if horizontal else "yerr": err, "capsize": 2} if spans else {}
        bars = draw(pos, val, width * 0.9, label=legend_label(label), color=f"C{i % 10}", **whiskers)
        if annotate:
            for b, cat in zip(bars, [c for c in categories if values.get(c) is not None]):
                annotate(ax, b, label, cat)
    ticks = range(len(categories))
    if horizontal:
        ax.set_yticks(list(ticks), [text(c) for c in categories], fontsize=8)
        if not ax.yaxis_inverted():  # first category on top, as in the table (once: axes may share y)
            ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(list(ticks), [text(c) for c in categories], fontsize=8)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _markers(ax, categories, series):
    """A small black diamond per value, at the bar positions of _bars (horizontal)."""
    width = 0.8 / max(len(series), 1)
    for i, (_, values, _) in enumerate(series):
        pts = [(values[cat], c - 0.4 + width * (i + 0.5)) for c, cat in enumerate(categories)
               if values.get(cat) is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], linestyle="none", marker="D", markersize=4, color="black")


def _capped(cats, series):
    """The first categories, as many as MAX_BARS allows, and their series; the number left out."""
    limit = max(1, MAX_BARS // max(len(series), 1))
    if len(cats) <= limit:
        return cats, series, 0
    kept = set(cats[:limit])
    series = [(label, {c: v for c, v in values.items() if c in kept}, {c: v for c, v in spans.items() if c in kept})
              for label, values, spans in series]
    return cats[:limit], series, len(cats) - limit


def _wide_range(series):
    vals = [v for _, values, _ in series for v in values.values() if v]
    return len(vals) > 1 and max(vals) / min(vals) > 100


def kernel_figure(docs, backend):
    """(PNG, number of keys left out): median latency (p10–p90 whiskers) and roofline
    fraction of each kernel key of one backend, as many as MAX_BARS allows; a key held
    against the measured int8 peak too (a many-token matmul) gets a marker at that
    fraction on the same axis."""
    cats, lat, roof, comp = [], [], [], []
    seen = set()  # beside cats: thousands of keys must not make this quadratic
    for d in docs:
        values, spans, fracs, computes = {}, {}, {}, {}
        for m in d.measurements:
            if m.get("kind") != "kernel" or m.get("backend") != backend or D.stat(m, "median") is None:
                continue
            cat = D.short_key(m)
            if cat not in seen:
                seen.add(cat)
                cats.append(cat)
            values[cat] = D.stat(m, "median") * 1e6
            if D.stat(m, "p10") is not None and D.stat(m, "p90") is not None:
                spans[cat] = (D.stat(m, "p10") * 1e6, D.stat(m, "p90") * 1e6)
            r = D.roofline(m, d)
            if r is not None:
                fracs[cat] = r * 100
            c = D.compute_fraction(m)
            if c is not None:
                computes[cat] = c * 100
        lat.append((d.label, values, spans))
        roof.append((d.label, fracs, {}))
        comp.append((d.label, computes, {}))
    all_cats = cats
    cats, lat, omitted = _capped(all_cats, lat)
    roof = _capped(all_cats, roof)[1]
    comp = _capped(all_cats, comp)[1]
    with_comp = any(f for _, f, _ in comp)
    with_roof = with_comp or any(f for _, f, _ in roof)
    height = max(2.2, 0.28 * len(cats) * max(len(docs), 1) + 1.2)
    fig, axes = plt.subplots(1, 2 if with_roof else 1, figsize=(11 if with_roof else 7, height), squeeze=False,
                             sharey=True, layout="constrained")
    _bars(axes[0][0], cats, lat, horizontal=True, log=_wide_range(lat))
    axes[0][0].set_xlabel("median latency, µs (whiskers p10–p90)")
    if with_roof:
        _bars(axes[0][1], cats, roof, horizontal=True)
        axes[0][1].set_xlabel("% of measured memory bandwidth (roofline)")
    if with_comp:
        _markers(axes[0][1], cats, comp)
        axes[0][1].set_xlabel("% of measured memory bandwidth (bars) and of the int8 peak (◆)")
    fig.suptitle(text(f"kernels on {backend}"))
    if len(docs) > 1:
        axes[0][0].legend(fontsize=7, loc="best")
    return _png(fig), omitted


def _file_series_label(d, docs):
    """A file as a legend shows it: its tag (the Context table names it) where there are several."""
    return d.tag if len(docs) > 1 else d.label


def e2e_figure(docs, namer):
    """(PNG, number of bars per phase left out) for prefill and decode tokens/s per configuration
    (horizontal bars named by namer's short labels, whiskers from the p10/p90 of the time samples),
    or None where no e2e measurement is one of PHASES."""
    phases = [p for p in PHASES if any(m.get("kind") == "e2e" and m.get("name") == p
                                       for d in docs for m in d.measurements)]
    if not phases:
        return None
    omitted, panels = 0, []
    for phase in phases:
        cats, series, seen = [], [], set()
        for d in docs:
            values, spans = {}, {}
            for m in d.measurements:
                if m.get("kind") != "e2e" or m.get("name") != phase or D.tokens_per_s(m) is None:
                    continue
                cat = namer.of(m) + (" (peer)" if isinstance(m.get("peer"), dict) else "")
                if cat not in seen:
                    seen.add(cat)
                    cats.append(cat)
                values[cat] = D.tokens_per_s(m)
                lo, hi = D.tokens_per_s(m, "p90"), D.tokens_per_s(m, "p10")
                if lo is not None and hi is not None:
                    spans[cat] = (lo, hi)
            series.append((_file_series_label(d, docs), values, spans))
        cats, series, left = _capped(cats, series)
        omitted = max(omitted, left)
        panels.append((phase, cats, series))
    rows = max(len(c) for _, c, _ in panels) * max(len(docs), 1)
    fig, axes = plt.subplots(1, len(phases), figsize=(5.5 * len(phases), max(2.4, 0.26 * rows + 1.2)),
                             squeeze=False, layout="constrained")
    for ax, (phase, cats, series) in zip(axes[0], panels):
        _bars(ax, cats, series, horizontal=True, log=_wide_range(series))
        ax.set_title(text(phase))
        ax.set_xlabel("tokens/s (whiskers p10–p90)")
    if len(docs) > 1:
        axes[0][0].legend(fontsize=7, loc="best")
    return _png(fig), omitted


def energy_figure(docs, namer):
    """(PNG, number of bars left out): joules per token of the figures a bar chart may compare
    (energy.chartable: measured, or modelled with its static share), each bar labelled with its
    energy label. None: no such figure."""
    cats, series, labels, seen = [], [], {}, set()
    for d in docs:
        values = {}
        for m in d.measurements:
            e = E.of(m) if m.get("kind") == "e2e" else None
            if e is None or not E.chartable(e):
                continue
            cat = namer.of(m, phase=True)
            if cat not in seen:
                seen.add(cat)
                cats.append(cat)
            values[cat] = e["joules_per_token"]
            labels[(_file_series_label(d, docs), cat)] = E.label(e)
        series.append((_file_series_label(d, docs), values, {}))
    if not cats:
        return None
    cats, series, omitted = _capped(cats, series)

    def annotate(ax, bar, label, cat):
        how = labels[(label, cat)]
        if E.MODELLED_LABEL == how or "modelled" in how:
            bar.set_hatch("//")
        ax.annotate(text(how), (bar.get_width(), bar.get_y() + bar.get_height() / 2), ha="left", va="center",
                    fontsize=7, xytext=(3, 0), textcoords="offset points")

    fig, ax = plt.subplots(figsize=(9, max(2.4, 0.3 * len(cats) * max(len(docs), 1) + 1.2)), layout="constrained")
    _bars(ax, cats, series, horizontal=True, annotate=annotate)
    ax.margins(x=0.45)  # room for the labels right of the bars
    ax.set_xlabel("J/token")
    ax.set_title("energy per token (hatched: modelled)")
    if len(docs) > 1:  # plain patches: a hatched bar must not make a file look modelled
        ax.legend(handles=[Patch(color=f"C{i % 10}", label=legend_label(label)) for i, (label, _, _) in enumerate(series)],
                  fontsize=7, loc="lower right")
    return _png(fig), omitted


# The sweeps a line figure plots tokens/s against: the shape field (and key component) and its axis label.
# A document measured without depth has its decode after the prompt alone: depth 0.
SWEEPS = {"depth": ("tokens already in the KV cache (depth)", 0), "threads": ("threads", None)}
# Lines one axes draws at most; the rest are in the table.
MAX_SERIES = 12


def _swept_value(m, dim):
    v = m.get("shape", {}).get(dim, SWEEPS[dim][1])
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _series_name(m, dim):
    """The key without kind, backend and the swept component: the measurements of one line differ in `dim` only."""
    parts = D.short_key(m).split("/")
    if parts and parts[0] == m.get("name"):  # the phase: each axes shows one
        parts = parts[1:]
    rest = [p for p in parts if not p.startswith(dim + ":")]
    return "/".join([m.get("backend", "?")] + rest)


def sweeps(docs):
    """The dimensions of SWEEPS that some file measured end to end at more than one value."""
    found = []
    for dim in SWEEPS:
        for d in docs:
            values = {_swept_value(m, dim) for m in d.measurements if m.get("kind") == "e2e"} - {None}
            if len(values) > 1:
                found.append(dim)
                break
    return found


def sweep_figure(docs, dim):
    """(PNG, number of lines left out) of prefill and decode tokens/s against `dim` (a key of SWEEPS):
    one line per backend and configuration (the key less the swept part), per file where there are
    several; None where no file sweeps `dim`."""
    if dim not in sweeps(docs):
        return None
    phases = [p for p in PHASES if any(m.get("kind") == "e2e" and m.get("name") == p
                                       for d in docs for m in d.measurements)]
    omitted = 0
    fig, axes = plt.subplots(1, len(phases), figsize=(5.5 * len(phases), 3.8), squeeze=False, layout="constrained")
    for ax, phase in zip(axes[0], phases):
        lines = {}  # (file label, series name) -> {x: tokens/s}, first seen first
        for d in docs:
            for m in d.measurements:
                x, y = _swept_value(m, dim), D.tokens_per_s(m)
                if m.get("kind") != "e2e" or m.get("name") != phase or x is None or y is None:
                    continue
                lines.setdefault((d.label, _series_name(m, dim)), {})[x] = y
        # A line needs two points; a configuration measured at one value only is in the table.
        drawn = [(k, pts) for k, pts in lines.items() if len(pts) > 1]
        omitted = max(omitted, max(0, len(drawn) - MAX_SERIES))
        for i, ((label, name), pts) in enumerate(drawn[:MAX_SERIES]):
            xs = sorted(pts)
            shown = name if len(docs) == 1 else f"{name} ({label})"
            ax.plot(xs, [pts[x] for x in xs], marker="o", markersize=4, color=f"C{i % 10}",
                    linestyle="-" if i < 10 else "--", label=legend_label(shown))
        if dim == "threads":
            ax.xaxis.get_major_locator().set_params(integer=True)
        if _wide_range([(None, dict(enumerate(y for pts in lines.values() for y in pts.values())), {})]):
            ax.set_yscale("log")
            # Plain numbers: with mathtext off (above) the default 10^n labels would show as markup.
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_title(text(phase))
        ax.set_xlabel(SWEEPS[dim][0])
        ax.set_ylabel("tokens/s (median)")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=6, loc="best")
    return _png(fig), omitted


# Commit labels under a trend plot at most: at 50 runs and more every label would
# overlap its neighbours, so every k-th run is labelled (the table names the change points).
MAX_TREND_LABELS = 25
UNITS = {"median": "s", "mean": "s", "sd": "s", "tokens_per_s": "tokens/s"}


def trend_figure(trend):
    """PNG of one history trend (trends.Trend): the metric against run order, x labels the
    runs' short commits (thinned), a dashed line at each change point labelled with its
    commit and the medians before and after it, and each segment's median drawn across it."""
    n = len(trend.points)
    xs = list(range(n))
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    ax.plot(xs, [p["value"] for p in trend.points], color="C0", linewidth=1.2,
            marker="o" if n <= 200 else None, markersize=3 if n > 50 else 4)
    cps = trend.change_points
    edges = [-0.5] + [cp["index"] - 0.5 for cp in cps] + [n - 0.5]
    medians = [cps[0]["before"]] + [cp["after"] for cp in cps] if cps else []
    for lo, hi, m in zip(edges, edges[1:], medians):
        ax.hlines(m, lo, hi, colors="0.45", linestyles=":", linewidth=1)
    for i, cp in enumerate(cps):
        x = cp["index"] - 0.5
        ax.axvline(x, color="firebrick", linestyle="--", linewidth=1)
        # Staggered heights: change points close together would print over each other.
        ax.annotate(f"{text(trend.commit(cp['index']))}\n{cp['before']:.4g} → {cp['after']:.4g}",
                    (x, 0.97 - 0.13 * (i % 4)), xycoords=ax.get_xaxis_transform(), xytext=(3, 0),
                    textcoords="offset points", va="top", fontsize=7, color="firebrick",
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    step = max(1, -(-n // MAX_TREND_LABELS))
    ticks = xs[::step]
    ax.set_xticks(ticks, [text(trend.commit(i)) for i in ticks], rotation=90, fontsize=7)
    ax.set_xlim(-0.5 - 0.02 * n, n - 0.5 + 0.02 * n)
    unit = UNITS.get(trend.metric)
    ax.set_ylabel(text(trend.metric) + (f" ({unit})" if unit else ""))
    ax.set_xlabel(f"runs in time order ({n}" + (f"; one in {step} labelled)" if step > 1 else ")"))
    ax.set_title(text(trend.key), fontsize=9)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    return _png(fig)
