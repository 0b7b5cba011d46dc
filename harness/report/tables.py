"""Tables of the report, from loaded result documents (docs.Doc). Pure data: no plotting."""
import ceilings as C
import docs as D
import energy as E
import flags as F
from model import Table

DASH = "—"

# The ISA features that matter to bitlab's kernels (as `bitlab info` shows them);
# the full /proc/cpuinfo list would swamp the table.
ISA_OF_INTEREST = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
                   "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "asimdhp",
                   "i8mm", "sve", "sve2"]


def num(value, unit=""):
    """About four significant digits without switching to exponents for usual sizes."""
    if value is None:
        return DASH
    a = abs(value)
    if a >= 1000:
        s = f"{value:,.0f}"
    elif a >= 100:
        s = f"{value:.1f}"
    elif a >= 10:
        s = f"{value:.2f}"
    elif a >= 0.01 or a == 0:
        s = f"{value:.3f}"
    else:
        s = f"{value:.3g}"
    return s + unit


def sci(value):
    return DASH if value is None else f"{value:.2g}"


def _gpus(ctx):
    out = []
    for g in ctx.get("gpus", []):
        mem = f", {g['memory_bytes'] / 2**30:.0f} GiB" if g.get("memory_bytes") else ""
        out.append(f"{g.get('name', '?')} ({g.get('backend', '?')}, driver {g.get('driver', '?')}{mem})")
    return "; ".join(out) or "none"


def _sensors(ctx):
    out = []
    for s in ctx.get("energy_sensors", []):
        state = "available" if s.get("available") else "unavailable"
        out.append(f"{s.get('name', '?')}: {state} ({s.get('reason', '')})")
    return "; ".join(out) or "none listed"


def _isa(flags):
    shown = [f for f in ISA_OF_INTEREST if f in flags]
    rest = len(flags) - len(shown)
    return (" ".join(shown) or "(none of interest)") + (f" (+{rest} more)" if rest else "") if flags else DASH


def context_table(docs):
    """One column per file: what each ran on, so a difference in numbers can be traced."""
    rows = {
        "file": lambda d, c: d.path,
        "commit": lambda d, c: c.get("git", {}).get("commit", "?") + (" (dirty)" if c.get("git", {}).get("dirty") else ""),
        "timestamp": lambda d, c: c.get("timestamp", DASH),
        "command": lambda d, c: c.get("command", DASH),
        "machine": lambda d, c: c.get("host", {}).get("os", DASH),
        "CPU": lambda d, c: "{} — {} logical cores, {:.1f} GiB memory".format(
            c.get("host", {}).get("cpu_model", "?"), c.get("host", {}).get("logical_cores", "?"),
            c.get("host", {}).get("memory_bytes", 0) / 2**30),
        "ISA flags": lambda d, c: _isa(c.get("host", {}).get("isa_flags", [])),
        "compiler": lambda d, c: "{} {} ({})".format(c.get("build", {}).get("compiler", "?"),
                                                     c.get("build", {}).get("build_type", ""),
                                                     c.get("build", {}).get("flags", "")),
        "model": lambda d, c: c.get("model", DASH),
        "threads": lambda d, c: str(c.get("threads", DASH)),
        # 0: the run did not measure it (a `bitlab check` document, say).
        "memory bandwidth": lambda d, c: num(c.get("memory_bandwidth_gbps"), " GB/s") if c.get("memory_bandwidth_gbps")
        else DASH + " (not measured)",
        "int8 peak": lambda d, c: "{} ({})".format(num(c.get("int8_peak_gmacs"), " GMAC/s"), c.get("int8_peak_isa", "?"))
        if c.get("int8_peak_gmacs") else DASH + " (not measured)",
        "GPUs": lambda d, c: _gpus(c),
        "energy sensors": lambda d, c: _sensors(c),
    }
    return Table([""] + [f"{d.tag}: {d.label}" if len(docs) > 1 else d.label for d in docs],
                 [[name] + [get(d, d.context) for d in docs] for name, get in rows.items()])


def _percent(fraction):
    return DASH if fraction is None else f"{fraction * 100:.1f}%"


def _file_col(docs):
    return len(docs) > 1


def _bound(m, d):
    which, _ = C.bound(m, d)
    return which or DASH


def kernel_table(docs, backend):
    """Each kernel key of one backend: median latency, its spread, its fractions of the measured
    bandwidth and int8 peak, which of the two binds at its intensity, and its flags."""
    many = _file_col(docs)
    header = ["key"] + (["file"] if many else []) + ["variant", "median µs", "p10–p90 µs", "GB/s", "% bandwidth",
                                                      "% int8 peak", "bound", "flags"]
    rows = []
    for d in docs:
        for m in d.measurements:
            if m.get("kind") != "kernel" or m.get("backend") != backend:
                continue
            med, p10, p90 = (D.stat(m, s) for s in ("median", "p10", "p90"))
            roof, comp = D.roofline(m, d), D.compute_fraction(m)
            rows.append([m.get("key", "?")] + ([d.label] if many else []) + [
                m.get("variant", ""), num(med * 1e6 if med is not None else None),
                f"{num(p10 * 1e6)}–{num(p90 * 1e6)}" if p10 is not None and p90 is not None else DASH,
                num(D.gbps(m)), _percent(roof), _percent(comp), _bound(m, d), F.text(F.of(m, d, [roof, comp]))])
    # Keys in order of first appearance, as in the plot; files in argument order within a key.
    first_seen = {}
    for r in rows:
        first_seen.setdefault(r[0], len(first_seen))
    rows.sort(key=lambda r: first_seen[r[0]])
    first = 3 if many else 2
    return Table(header, rows, numeric=list(range(first, first + 5)))


def _energy_cells(m):
    """J/token, its label (with any other source's figure for the same window), and watts (measured only)."""
    e = E.of(m)
    if e is None:
        return [DASH, DASH, DASH]
    how = E.label(e)
    others = [f"{E.label(o)} {num(o['joules_per_token'])} J/token" for o in m.get("other_energy", []) or []
              if isinstance(o, dict) and isinstance(o.get("joules_per_token"), (int, float)) and o.get("source")]
    if others:
        how += "; also " + "; ".join(others)
    power = [f"{name} {num(w, ' W')}" for name, w in E.watts(e)]
    net = D.net_joules_per_token(m)
    if power and net is not None:
        power.append(f"net {num(net)} J/token")
    return [num(e["joules_per_token"]), how, ", ".join(power) or DASH]


def e2e_table(docs):
    """Prefill and decode speed per backend, with energy only where a sensor or model gave it."""
    many = _file_col(docs)
    header = (["backend"] + (["file"] if many else []) +
              ["phase", "key", "tokens/s", "p10–p90 tokens/s", "% bandwidth", "% int8 peak", "J/token",
               "energy source", "power", "flags"])
    rows = []
    for d in docs:
        for m in d.measurements:
            if m.get("kind") != "e2e":
                continue
            lo, hi = D.tokens_per_s(m, "p90"), D.tokens_per_s(m, "p10")
            roof, comp = D.roofline(m, d), D.compute_fraction(m)
            backend = m.get("backend", "?") + (" (peer)" if isinstance(m.get("peer"), dict) else "")
            rows.append([backend] + ([d.label] if many else []) + [
                m.get("name", "?"), D.short_key(m), num(D.tokens_per_s(m)),
                f"{num(lo)}–{num(hi)}" if lo is not None and hi is not None else DASH,
                _percent(roof), _percent(comp)] + _energy_cells(m) + [F.text(F.of(m, d, [roof, comp]))])
    rows.sort(key=lambda r: (r[0], r[(2 if many else 1)]))
    first = 4 if many else 3
    return Table(header, rows, numeric=[first, first + 1, first + 2, first + 3, first + 4])


def correctness_table(docs):
    many = _file_col(docs)
    # End-to-end rows carry the oracle's noise floor and the backend's NMSE as a
    # multiple of it (docs/design.md §5); per-op rows have neither.
    header = (["file"] if many else []) + ["backend", "variant", "check", "result", "nmse", "threshold",
                                           "floor nmse", "x floor", "bit-exact"]
    rows = []
    for d in docs:
        for c in d.correctness:
            bit = c.get("bit_exact")
            ratio = c.get("nmse_ratio")
            rows.append(([d.label] if many else []) + [
                c.get("backend", "?"), c.get("variant", ""), c.get("check", "?"),
                "pass" if c.get("pass") else "FAIL", sci(c.get("nmse")), sci(c.get("threshold")),
                sci(c.get("floor_nmse")), DASH if ratio is None else f"{ratio:.2f}",
                DASH if bit is None else ("yes" if bit else "no")])
    first = 5 if many else 4
    return Table(header, rows, numeric=[first, first + 1, first + 2, first + 3])


def breakdowns(docs):
    """Each prefill measurement that recorded a per-op breakdown: (backend, doc, measurement), by backend."""
    found = [(m.get("backend", "?"), d, m) for d in docs for m in d.measurements
             if m.get("kind") == "e2e" and m.get("name") == "prefill" and m.get("breakdown")]
    return sorted(found, key=lambda t: t[0])


def breakdown_table(m):
    """One profiled prefill, op by op, the most time first: ms, share of the prefill, calls."""
    rows = [[b.get("op", "?"), num(b["seconds"] * 1e3 if "seconds" in b else None),
             DASH if "share" not in b else f"{b['share'] * 100:.1f}%",
             DASH if b.get("op") == "other" else str(b.get("calls", DASH))]
            for b in sorted(m["breakdown"], key=lambda b: -b.get("seconds", 0))]
    return Table(["op", "ms", "share", "calls"], rows, numeric=[1, 2, 3])


def change_point_table(trend):
    """One row per change point of a history trend (trends.Trend): where, the medians of
    the segments either side, the step in percent, and the permutation test's p-value."""
    rows = []
    for cp in trend.change_points:
        i = cp["index"]
        before, after = cp["before"], cp["after"]
        step = f"{100 * (after - before) / before:+.1f}%" if before else DASH
        run = trend.points[i].get("run_id")
        rows.append([str(i), trend.commit(i), DASH if run is None else str(run), trend.points[i].get("timestamp", DASH),
                     num(before), num(after), step, sci(cp.get("p_value"))])
    return Table(["point", "commit", "run", "time", "before (median)", "after (median)", "change", "p"], rows,
                 numeric=[0, 2, 4, 5, 6, 7])


def label_table(docs, namer):
    """The short names of the end-to-end figures and headline, with the full keys they stand for."""
    keys = {}
    for d in docs:
        for m in d.measurements:
            if m.get("kind") == "e2e":
                keys.setdefault(namer.of(m, d), []).append(m.get("key", "?"))
    rows = [[name, ", ".join(dict.fromkeys(ks))] for name, ks in keys.items()]
    return Table(["short name", "result keys"], rows)
