#!/usr/bin/python3
"""bitlab report: result files -> DIR/report.html (self-contained) + DIR/report.md
(with its PNGs beside it). Run by `bitlab report`, which finds this script and a
python3 with matplotlib; it can also be run by hand:

    /usr/bin/python3 harness/report/report.py -o DIR [--trend TREND.json]... result.json...

A --trend file is what `bitlab history trend KEY --format json` writes: each one
becomes a plot and a table of change points in the History section.

Exit codes as bitlab's: 0 written; 1 failed (a broken result file, matplotlib
missing, cannot write, interrupted); 2 bad usage (a file that is missing, not a
regular file, or not a bitlab result document or history trend). Every error is one line on stderr,
never a traceback. Everything is rendered in memory first and written only then,
all files together (outputs.py): a failure leaves a previous report as it was.
"""
import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the helper modules beside this file

import docs as D  # noqa: E402
import tables as T  # noqa: E402
import trends as TR  # noqa: E402
from errors import InputError, Interrupted, SetupError, UsageError  # noqa: E402
from model import Figure, Section  # noqa: E402
from outputs import HELD, WriteError, check_targets, write_all  # noqa: E402

TEXT_FILES = ("report.html", "report.md")


def one_line(message):
    """The message with every unprintable character shown escaped (a file name may hold a line break)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def fail(message, code):
    print(f"bitlab: report: {one_line(message)}", file=sys.stderr)
    return code


_interrupted = []


def _on_signal(signum, frame):
    # Once only: a terminal's Ctrl-C reaches this process and, forwarded, again through
    # `bitlab`. The signals stay blocked from here to the exit, so a second one can
    # neither cut short the removal of the temporaries nor, arriving while Python shuts
    # down (when its default action is back), kill the process after its one-line error.
    signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    if not _interrupted:  # one that was on its way as they were blocked: acted on once
        _interrupted.append(signum)
        raise Interrupted()


def _quiet_unraisable(info, default=sys.unraisablehook):
    """An Interrupted raised inside a callback Python cannot propagate from (a weakref
    callback in the import machinery) would be printed as "Exception ignored" with a
    traceback; it is remembered in _interrupted instead, and run() acts on it."""
    if not isinstance(info.exc_value, Interrupted):
        default(info)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as every other error, not the usage block
        raise UsageError(f"{message} (usage: report.py -o DIR [--trend TREND]... FILE...)")


def safe(name):
    """A file name from a backend's name: portable characters, bounded length."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)[:64]


def left_out(omitted, what):
    """The sentence under a capped figure: where the bars it does not draw are."""
    return (f"The plot above leaves out {omitted} {what} (a plot draws at most {plots_max()} bars): "
            "the table shows them all.") if omitted else None


def plots_max():
    import plots  # imported once matplotlib is set up (render)
    return plots.MAX_BARS


def prefill_by_op_section(docs):
    """Where prefill time goes, per backend: only for files that recorded a breakdown."""
    found = T.breakdowns(docs)
    if not found:
        return None
    s = Section("Prefill time by op", ["One extra prefill per run with each op timed on the backend's own clock "
                                       "(synchronized around every op, so its total exceeds the timed prefill's); "
                                       "\"other\" is the wall time between ops."])
    for backend, d, m in found:
        where = f" ({d.label})" if len(docs) > 1 else ""
        s.items.append(f"Backend {backend}, {D.short_key(m)}{where}:")
        s.items.append(T.breakdown_table(m))
    return s


def history_section(trends, plots, png_name):
    """One plot and one table of change points per history trend, in the order given."""
    s = Section("History", ["Each case's metric across the runs of a result history (`bitlab history trend`), "
                            "in time order; dashed lines mark the change points found in it, labelled with the "
                            "commit of the first run after the change and the segment medians before and after, "
                            "dotted lines each segment's median."])
    for t in trends:
        where = "".join(f", {name} {value}" for name, value in (("machine matching", t.machine), ("backend", t.backend))
                        if value)
        m = t.method
        how = (f"{m['name']}, {m['permutations']} permutations, alpha {m['alpha']:g}"
               if {"name", "permutations", "alpha"} <= m.keys() else "method not recorded")
        s.items.append(f"{t.key}: {t.metric} over {len(t.points)} run(s){where} ({t.path}); change points by {how}.")
        png = plots.trend_figure(t)
        s.items.append(Figure(png_name(f"trend_{safe(t.key)}_{safe(t.metric)}"), png, f"{t.metric} of {t.key} by run"))
        if t.change_points:
            s.items.append(T.change_point_table(t))
        elif "min_segment" in m and len(t.points) < 2 * m["min_segment"]:
            s.items.append(f"Too few runs to look for change points (at least {2 * m['min_segment']}).")
        else:
            s.items.append("No change points: the metric did not move beyond its noise.")
    return s


def build(docs, trends, plots):
    """The report's sections, tables and figures, in reading order: the result files'
    sections where there are result files, then the History section where there are trends."""
    names = set()

    def png_name(stem):
        """Distinct backends can make the same safe() name: each figure gets its own file."""
        name, n = f"{stem}.png", 1
        while name in names:
            n += 1
            name = f"{stem}_{n}.png"
        names.add(name)
        return name

    sections = result_sections(docs, plots, png_name) if docs else []
    if trends:
        sections.append(history_section(trends, plots, png_name))
    for s in sections:
        s.items = [i for i in s.items if i is not None]  # left_out() of a figure that shows everything
    return sections


def result_sections(docs, plots, png_name):
    """Context, kernels, end to end, prefill breakdown and correctness of the result files."""
    sections = [Section("Context", [T.context_table(docs)])]
    kernel_backends = D.backends(docs, "kernel")
    s = Section("Kernel latency")
    if not kernel_backends:
        s.items.append("No kernel measurements in these files.")
    for b in kernel_backends:
        s.items.append(f"Backend {b}: median latency per key, bytes moved per second at the median, "
                       "and that rate as a fraction of the measured memory bandwidth; the many-token matmuls "
                       "also as a fraction of the measured int8 multiply-add peak.")
        s.items.append(T.kernel_table(docs, b))
        png, omitted = plots.kernel_figure(docs, b)
        s.items.append(Figure(png_name(f"kernels_{safe(b)}"), png, f"kernel latency on {b}"))
        s.items.append(left_out(omitted, "keys"))
    sections.append(s)

    s = Section("End to end")
    if not D.backends(docs, "e2e"):
        s.items.append("No end-to-end measurements in these files.")
    else:
        s.items.append(T.e2e_table(docs))
        tokens = plots.e2e_figure(docs)
        if tokens is None:
            s.items.append(f"No {' or '.join(plots.PHASES)} measurements to plot: the table shows them all.")
        else:
            s.items.append(Figure("e2e_tokens_per_s.png", tokens[0], "prefill and decode tokens/s per backend"))
            s.items.append(left_out(tokens[1], "backends and shapes"))
        for dim in plots.sweeps(docs):
            png, omitted = plots.sweep_figure(docs, dim)
            s.items.append(Figure(f"e2e_tokens_per_s_by_{dim}.png", png, f"prefill and decode tokens/s against {dim}"))
            if omitted:
                s.items.append(f"The plot above draws {plots.MAX_SERIES} lines per phase and leaves out {omitted}: "
                               "the table shows them all.")
        energy = plots.energy_figure(docs)
        if energy is None:
            s.items.append("No energy figures in these files: J/token is shown as —, never estimated here.")
        else:
            s.items.append(Figure("e2e_joules_per_token.png", energy[0], "joules per token, labelled with their source"))
            s.items.append(left_out(energy[1], "backends and phases"))
        methods = D.energy_methods(docs)
        if methods:
            s.items.append("How each energy figure was obtained: " + "; ".join(f"{src}: {how}" for src, how in methods) +
                           ". Modelled figures are estimates from the run's own operation and byte counts, "
                           "never measurements.")
    sections.append(s)
    s = prefill_by_op_section(docs)
    if s is not None:
        sections.append(s)

    checks = [c for d in docs for c in d.correctness]
    failing = sum(1 for c in checks if not c.get("pass"))
    s = Section("Correctness", [f"{len(checks)} checks, {failing} failing."])
    if checks:
        s.items.append(T.correctness_table(docs))
    sections.append(s)
    return sections


def render(docs, trends):
    """[(file name, bytes)]: the whole report, in memory."""
    D.label_docs(docs)
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        import plots
    except ImportError:
        raise SetupError(f"report needs matplotlib for {sys.executable}: install the Debian package python3-matplotlib")
    from render import to_html, to_markdown

    sections = build(docs, trends, plots)
    title = "bitlab report"
    files = "; ".join(f"{d.path} ({d.commit()} on {d.machine()})" for d in docs)
    intro = [f"{len(docs)} result file(s): {files}." if docs else "No result files: the history trends only.",
             "Times are medians of repeated samples; ranges are p10–p90. "
             "Energy is shown only where a document holds it, with its source (rapl, nvml, or modelled = estimate); "
             "J/token and watts are gross (all the sensor sees), net J/token subtracts the idle power measured "
             "before the run."]
    # bench's own warnings (machine busy, spread-out cases), before anything is read off the tables.
    intro[1:1] = [f"Warning ({d.path}): {w}" for d in docs for w in d.data.get("warnings", [])]
    figures = [i for s in sections for i in s.items if isinstance(i, Figure)]
    return ([(f.filename, f.png) for f in figures] +
            [("report.html", to_html(title, intro, sections).encode("utf-8")),
             ("report.md", to_markdown(title, intro, sections).encode("utf-8"))])


def run(argv):
    parser = _Parser(prog="report.py", description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--trend", action="append", default=[],
                        help="`bitlab history trend KEY --format json` output, drawn in the History section")
    parser.add_argument("files", nargs="*", help="bitlab result documents (JSON)")
    args = parser.parse_args(argv)
    if not args.files and not args.trend:
        raise UsageError("name at least one result file or --trend file "
                         "(usage: report.py -o DIR [--trend TREND]... FILE...)")
    docs = [D.load(p) for p in args.files]
    trends = [TR.load(p) for p in args.trend]
    check_targets(args.out, TEXT_FILES)  # before the rendering: a target that cannot be replaced fails fast
    files = render(docs, trends)
    if _interrupted:  # raised where Python could only swallow it (_quiet_unraisable): acted on here
        raise Interrupted()
    write_all(args.out, files)  # returns with the signals blocked: nothing can interrupt what follows
    plots = len(files) - len(TEXT_FILES)
    return f"wrote {os.path.join(args.out, 'report.html')} and report.md with {plots} plot(s)"


def outcome(argv):
    """(exit code, line to print); an interrupt propagates (Interrupted)."""
    try:
        return 0, run(argv)
    except UsageError as e:
        return 2, str(e)
    except (InputError, SetupError, WriteError) as e:
        return 1, str(e)
    except Exception as e:  # a case validate.py does not foresee: still one line, never a traceback
        return 1, f"failed: {type(e).__name__}: {e}"


def main(argv):
    sys.unraisablehook = _quiet_unraisable
    for s in HELD:
        signal.signal(s, _on_signal)
    # `bitlab` starts this process with them blocked, so that one sent before the
    # handlers were in place waits for them instead of killing it or raising
    # KeyboardInterrupt with a traceback.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)
    try:
        code, message = outcome(argv)
        # From here on the outcome is decided: an interrupt changes nothing, and must
        # not add a second line or make the process die of the signal.
        signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    except Interrupted:  # the handler blocked the signals: no second Interrupted
        code, message = 1, "interrupted; no file written or replaced"
    if code == 0:
        print(one_line(message))
        return 0
    return fail(message, code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
