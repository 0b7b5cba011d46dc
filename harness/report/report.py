#!/usr/bin/python3
"""bitlab report: result files -> DIR/report.html (self-contained) + DIR/report.md
(with its PNGs beside it). Run by `bitlab report`, which finds this script and a
python3 with matplotlib; it can also be run by hand:

    /usr/bin/python3 harness/report/report.py -o DIR result.json...

Exit codes as bitlab's: 0 written, 1 failed (matplotlib missing, cannot write),
2 bad input (a file that is missing, not JSON, or not a bitlab result).
Errors are one line on stderr.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the helper modules beside this file

import docs as D  # noqa: E402
import tables as T  # noqa: E402
from model import Figure, Section  # noqa: E402


def fail(message, code):
    print(f"bitlab: {message}", file=sys.stderr)
    return code


def safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def build(docs, plots):
    """The report's sections, tables and figures, in reading order."""
    sections = [Section("Context", [T.context_table(docs)])]
    kernel_backends = D.backends(docs, "kernel")
    s = Section("Kernel latency")
    if not kernel_backends:
        s.items.append("No kernel measurements in these files.")
    for b in kernel_backends:
        s.items.append(f"Backend {b}: median latency per key, bytes moved per second at the median, "
                       "and that rate as a fraction of the measured memory bandwidth.")
        s.items.append(T.kernel_table(docs, b))
        s.items.append(Figure(f"kernels_{safe(b)}.png", plots.kernel_figure(docs, b), f"kernel latency on {b}"))
    sections.append(s)

    s = Section("End to end")
    if not D.backends(docs, "e2e"):
        s.items.append("No end-to-end measurements in these files.")
    else:
        s.items.append(T.e2e_table(docs))
        s.items.append(Figure("e2e_tokens_per_s.png", plots.e2e_figure(docs), "prefill and decode tokens/s per backend"))
        png = plots.energy_figure(docs)
        if png is None:
            s.items.append("No energy figures in these files: J/token is shown as —, never estimated here.")
        else:
            s.items.append(Figure("e2e_joules_per_token.png", png, "joules per token, labelled with their source"))
        methods = D.energy_methods(docs)
        if methods:
            s.items.append("How each energy figure was obtained: " + "; ".join(f"{src}: {how}" for src, how in methods) +
                           ". Modelled figures are estimates from the run's own operation and byte counts, "
                           "never measurements.")
    sections.append(s)

    checks = [c for d in docs for c in d.correctness]
    failing = sum(1 for c in checks if not c.get("pass"))
    s = Section("Correctness", [f"{len(checks)} checks, {failing} failing."])
    if checks:
        s.items.append(T.correctness_table(docs))
    sections.append(s)
    return sections


def main(argv):
    parser = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--out", required=True, help="output directory (created if missing)")
    parser.add_argument("files", nargs="+", help="bitlab result documents (JSON)")
    args = parser.parse_args(argv)
    try:
        docs = [D.load(p) for p in args.files]
    except D.UsageError as e:
        return fail(str(e), 2)
    D.label_docs(docs)

    try:
        import matplotlib
        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        import plots
    except ImportError:
        return fail(f"report needs matplotlib for {sys.executable}: install the Debian package python3-matplotlib", 1)

    try:
        sections = build(docs, plots)
    except (KeyError, TypeError, ValueError) as e:
        return fail(f"cannot report on {', '.join(args.files)}: malformed measurement ({type(e).__name__}: {e})", 2)

    title = "bitlab report"
    intro = [f"{len(docs)} result file(s): " + "; ".join(f"{d.path} ({d.commit()} on {d.machine()})" for d in docs) + ".",
             "Times are medians of repeated samples; ranges are p10–p90. "
             "Energy is shown only where a document holds it, with its source (rapl, nvml, or modelled = estimate); "
             "J/token and watts are gross (all the sensor sees), net J/token subtracts the idle power measured "
             "before the run."]
    try:
        os.makedirs(args.out, exist_ok=True)
        figures = [i for s in sections for i in s.items if isinstance(i, Figure)]
        for f in figures:
            with open(os.path.join(args.out, f.filename), "wb") as out:
                out.write(f.png)
        from render import to_html, to_markdown
        with open(os.path.join(args.out, "report.html"), "w", encoding="utf-8") as out:
            out.write(to_html(title, intro, sections))
        with open(os.path.join(args.out, "report.md"), "w", encoding="utf-8") as out:
            out.write(to_markdown(title, intro, sections))
    except OSError as e:
        return fail(f"cannot write the report to {args.out}: {e.strerror or e}", 1)
    print(f"wrote {os.path.join(args.out, 'report.html')} and report.md with {len(figures)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
