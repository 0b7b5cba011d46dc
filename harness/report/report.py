#!/usr/bin/python3
"""bitlab report: result files -> DIR/report.html (self-contained) + DIR/report.md
(with its PNGs beside it). Run by `bitlab report`, which finds this script and a
python3 with matplotlib; it can also be run by hand:

    /usr/bin/python3 harness/report/report.py -o DIR [--screenshot] [--trend TREND.json]... result.json...

--screenshot also saves DIR/report.png, the page as headless Chromium draws it.

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

import browser as B  # noqa: E402
import contexts as CX  # noqa: E402
import docs as D  # noqa: E402
import energy as E  # noqa: E402
import flags as F  # noqa: E402
import headline as H  # noqa: E402
import labels as L  # noqa: E402
import tables as T  # noqa: E402
import trends as TR  # noqa: E402
from errors import InputError, Interrupted, SetupError, UsageError  # noqa: E402
from model import Bullets, Figure, Section  # noqa: E402
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
        raise UsageError(f"{message} (usage: report.py -o DIR [--screenshot] [--trend TREND]... FILE...)")


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


def headline_section(docs, namer):
    """What to read first: the headline table, the peer ratios, the differences between files."""
    s = Section("Headline")
    found = H.headline(docs, namer)
    if found is None:
        s.items.append("No prefill or decode measurements in these files.")
    else:
        table, sentences = found
        table.footnotes = ["× best: the ratio to the fastest row of the phase. Roofline: the fraction of the binding "
                           "ceiling at the case's operations per byte (measured memory bandwidth, or the measured "
                           "int8 peak where compute binds); above 100 % is flagged \"" + F.ABOVE_ROOFLINE + "\". "
                           "Configurations are named by backend and the key parts that differ; the End to end "
                           "table has their full keys."]
        s.items += [table] + sentences
    diffs = CX.differences(docs)
    if diffs:
        s.items += ["Differences between the files' contexts:", Bullets(diffs)]
    return s


def kernel_section(docs, plots, png_name):
    s = Section("Kernel latency")
    kernel_backends = D.backends(docs, "kernel")
    if not kernel_backends:
        s.items.append("No kernel measurements in these files.")
        return s
    import kernel_plots as KP
    lat = KP.latency_figure(docs)
    if lat is not None:
        s.items.append(Figure(png_name("kernels_by_tokens"), lat[0], "median kernel latency against tokens, per shape"))
        s.items.append(left_out_shapes(lat[1]))
    up = KP.speedup_figure(docs)
    if up is not None:
        s.items.append(Figure(png_name("kernels_speedup_over_scalar"), up[0],
                              "speedup over scalar on the same case, against tokens, per shape"))
        s.items.append(left_out_shapes(up[1]))
    for b in kernel_backends:
        s.items.append(f"Backend {b}: median latency per key, bytes moved per second at the median, that rate as a "
                       "fraction of the measured memory bandwidth, the multiply-adds as a fraction of the measured "
                       "int8 peak, and which of the two binds at the case's operations per byte.")
        s.items.append(T.kernel_table(docs, b))
        png, omitted = plots.kernel_figure(docs, b)
        s.items.append(Figure(png_name(f"kernels_{safe(b)}"), png, f"kernel latency on {b}"))
        s.items.append(left_out(omitted, "keys"))
    return s


def left_out_shapes(omitted):
    import kernel_plots as KP
    return (f"The plot above draws {KP.MAX_SHAPES} shapes and leaves out {omitted}: the tables show them all."
            if omitted else None)


def roofline_section(docs):
    import roofline_plot as RP
    png = RP.figure(docs)
    if png is None:
        return None
    return Section("Roofline", [
        "Each case's operations per byte against the operations per second it reached (medians), log-log. "
        "The sloped line is the measured memory bandwidth (bandwidth × intensity), the flat one the measured int8 "
        "multiply-add peak (two operations per multiply-add); a case can reach at most the lower of the two. "
        "A point above them is " + F.ABOVE_ROOFLINE + ".",
        Figure("roofline.png", png, "roofline: operations per byte against achieved operations per second")])


def e2e_section(docs, plots, namer):
    s = Section("End to end")
    if not D.backends(docs, "e2e"):
        s.items.append("No end-to-end measurements in these files.")
        return s
    s.items.append(T.e2e_table(docs))
    tokens = plots.e2e_figure(docs, namer)
    if tokens is None:
        s.items.append(f"No {' or '.join(plots.PHASES)} measurements to plot: the table shows them all.")
    else:
        s.items.append(Figure("e2e_tokens_per_s.png", tokens[0], "prefill and decode tokens/s per configuration"))
        s.items.append(left_out(tokens[1], "backends and shapes"))
        s.items.append(T.label_table(docs, namer))
    for dim in plots.sweeps(docs):
        png, omitted = plots.sweep_figure(docs, dim)
        s.items.append(Figure(f"e2e_tokens_per_s_by_{dim}.png", png, f"prefill and decode tokens/s against {dim}"))
        if omitted:
            s.items.append(f"The plot above draws {plots.MAX_SERIES} lines per phase and leaves out {omitted}: "
                           "the table shows them all.")
    s.items += energy_items(docs, plots, namer)
    return s


def energy_items(docs, plots, namer):
    if not any(E.of(m) for d in docs for m in d.measurements if m.get("kind") == "e2e"):
        return ["No energy figures in these files: J/token is shown as —, never estimated here."]
    out = []
    energy = plots.energy_figure(docs, namer)
    if energy is not None:
        out.append(Figure("e2e_joules_per_token.png", energy[0], "joules per token, each labelled with its source"))
        out.append(left_out(energy[1], "backends and phases"))
    if any(E.of(m) and not E.chartable(E.of(m)) for d in docs for m in d.measurements):
        out.append("Modelled J/token without a static (time) share counts operations and bytes only: it is the same "
                   "for a fast and a slow backend doing the same work, so it is shown in the tables with its label "
                   "and never drawn as bars comparing backends; no watts are shown for an estimate.")
    methods = D.energy_methods(docs)
    if methods:
        out.append("How each energy figure was obtained: " + "; ".join(f"{src}: {how}" for src, how in methods) + ".")
    return out


def correctness_section(docs):
    s = Section("Correctness")
    for d in docs:
        where = f"{d.tag} ({d.path}): " if len(docs) > 1 else ""
        if not d.correctness:
            s.items.append(f"{where}no correctness checks in this file.")
            continue
        failing = sum(1 for c in d.correctness if not c.get("pass"))
        s.items.append(f"{where}{len(d.correctness)} checks, {failing} failing.")
    if any(d.correctness for d in docs):
        s.items.append(T.correctness_table(docs))
    return s


def result_sections(docs, plots, png_name):
    """Headline, context, kernels, roofline, end to end, prefill breakdown and correctness of the result files."""
    namer = L.Namer(docs)
    sections = [headline_section(docs, namer), Section("Context", [T.context_table(docs)]),
                kernel_section(docs, plots, png_name), roofline_section(docs), e2e_section(docs, plots, namer),
                prefill_by_op_section(docs), correctness_section(docs)]
    return [s for s in sections if s is not None]


def render(docs, trends):
    """[(file name, bytes)]: the whole report, in memory."""
    D.label_docs(docs)
    L.tag_docs(docs)
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        import plots
    except ImportError:
        raise SetupError(f"report needs matplotlib for {sys.executable}: install the Debian package python3-matplotlib")
    from render import to_html, to_markdown

    sections = build(docs, trends, plots)
    title = "bitlab report"
    files = "; ".join((f"{d.tag} " if len(docs) > 1 else "") + f"{d.path} ({d.commit()} on {d.machine()})"
                      for d in docs)
    intro = [f"{len(docs)} result file(s): {files}." if docs else "No result files: the history trends only.",
             "Times are medians of repeated samples; ranges are p10–p90. "
             "Energy is shown only where a document holds it, every J/token with its label (measured by a sensor, "
             "or modelled = an estimate); watts only for measured figures. Measured J/token and watts are gross "
             "(all the sensor sees), net J/token subtracts the idle power measured before the run."]
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
    parser.add_argument("--screenshot", action="store_true",
                        help="also save DIR/report.png, the page as headless Chromium draws it 1280 px wide")
    parser.add_argument("files", nargs="*", help="bitlab result documents (JSON)")
    args = parser.parse_args(argv)
    if not args.files and not args.trend:
        raise UsageError("name at least one result file or --trend file "
                         "(usage: report.py -o DIR [--trend TREND]... FILE...)")
    docs = [D.load(p) for p in args.files]
    trends = [TR.load(p) for p in args.trend]
    if args.screenshot and B.find() is None:  # before anything is written
        raise SetupError(f"--screenshot {B.MISSING}")
    check_targets(args.out, TEXT_FILES + (("report.png",) if args.screenshot else ()))
    files = render(docs, trends)
    if _interrupted:  # raised where Python could only swallow it (_quiet_unraisable): acted on here
        raise Interrupted()
    write_all(args.out, files)  # returns with the signals blocked: nothing can interrupt what follows
    plots = len(files) - len(TEXT_FILES)
    done = f"wrote {os.path.join(args.out, 'report.html')} and report.md with {plots} plot(s)"
    if args.screenshot:
        take_screenshot(args.out, done)
        done += " and report.png"
    return done


def take_screenshot(out, done):
    """DIR/report.png from the report just written: drawn to a temporary beside it, then renamed over it."""
    tmp = os.path.join(out, f".report.png.{os.getpid()}.tmp.png")
    try:
        B.screenshot(os.path.join(out, "report.html"), tmp)
        os.replace(tmp, os.path.join(out, "report.png"))
    except SetupError as e:
        raise SetupError(f"{done}, but the screenshot failed: {e}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
