"""Where a case stands against the roofline (docs/design.md §6): operations per byte
against the measured memory bandwidth and the measured int8 multiply-add peak.

A many-token GEMM does hundreds of operations per byte: its bandwidth fraction says
little (a few per cent) and its compute fraction is what matters. The binding
ceiling is the lower of bandwidth × intensity and the compute peak; the fraction of
that ceiling is what the report calls "roofline"."""
import docs as D

OPS_PER_MAC = 2  # `ops` counts a multiply-add as two operations; the peak is in multiply-adds


def bandwidth_gbps(m, doc):
    """The bandwidth the case is held against: its own probe, else the run's."""
    value = D.derived(m, "roofline_gbps")
    if value:
        return value
    return doc.context.get("memory_bandwidth_gbps") or None


def peak_gops(m, doc):
    """The compute ceiling in operations per second (10^9): the case's probe, else the run's."""
    value = D.derived(m, "int8_peak_gmacs") or doc.context.get("int8_peak_gmacs")
    return OPS_PER_MAC * value if value else None


def intensity(m):
    ops, nbytes = m.get("ops"), m.get("bytes")
    return ops / nbytes if isinstance(ops, (int, float)) and isinstance(nbytes, (int, float)) and nbytes > 0 else None


def achieved_gops(m):
    value = D.derived(m, "gops")
    med = D.stat(m, "median")
    if value is None and isinstance(m.get("ops"), (int, float)) and med:
        value = m["ops"] / med / 1e9
    return D.finite(value)


def bound(m, doc):
    """("memory" or "compute", fraction of that ceiling) or (None, None)."""
    mem = D.roofline(m, doc)
    comp = D.compute_fraction(m)
    oi, bw, peak = intensity(m), bandwidth_gbps(m, doc), peak_gops(m, doc)
    if oi is not None and bw and peak:
        compute_bound = peak < bw * oi
        if compute_bound:
            if comp is None and achieved_gops(m) is not None:
                comp = achieved_gops(m) / peak
            return ("compute", comp) if comp is not None else (None, None)
        return ("memory", mem) if mem is not None else (None, None)
    # Without the intensity: the harness records a compute fraction only where compute binds.
    if comp is not None:
        return "compute", comp
    return ("memory", mem) if mem is not None else (None, None)


def shown(m, doc):
    """"87 % of bandwidth" / "76 % of int8 peak" / "—"."""
    which, fraction = bound(m, doc)
    if fraction is None:
        return "—"
    return f"{fraction * 100:.1f}% of {'bandwidth' if which == 'memory' else 'int8 peak'}"
