"""Differences between the files' contexts that change what their numbers mean: called
out before the tables, so that a 47 against 7 GB/s machine or a --quick run beside a
full one is not read as a change in the code."""
import docs as D

# Two measured bandwidths (or compute peaks) further apart than this are called out.
APART = 0.20


def _quick(d):
    return "--quick" in d.context.get("command", "").split()


def _apart(docs, field, unit, what):
    values = [(d, d.context.get(field)) for d in docs if d.context.get(field)]
    if len(values) < 2:
        return []
    lo, hi = min(v for _, v in values), max(v for _, v in values)
    if hi <= lo * (1 + APART):
        return []
    each = ", ".join(f"{d.tag} {v:.3g} {unit}" for d, v in values)
    return [f"{what} {100 * (hi / lo - 1):.0f} % apart ({each}): fractions of it are not comparable across files."]


def _differs(docs, get, what):
    values = [(d, get(d)) for d in docs]
    if len({v for _, v in values}) < 2:
        return []
    return [f"{what} differs: " + ", ".join(f"{d.tag} {v}" for d, v in values) + "."]


def differences(docs):
    """Short sentences; empty for one file (except a dirty tree, which matters even alone)."""
    out = []
    if len(docs) > 1:
        out += _apart(docs, "memory_bandwidth_gbps", "GB/s", "Measured memory bandwidth")
        out += _apart(docs, "int8_peak_gmacs", "GMAC/s", "Measured int8 peak")
        quick = [d.tag for d in docs if _quick(d)]
        if quick and len(quick) < len(docs):
            out.append(f"Quick runs (--quick: fewer samples, smaller shapes) beside full ones: {', '.join(quick)} "
                       "quick.")
        out += _differs(docs, lambda d: D.short_cpu(d.context.get("host", {}).get("cpu_model", "?")), "CPU")
        out += _differs(docs, lambda d: d.context.get("threads", "?"), "Threads")
        out += _differs(docs, lambda d: d.context.get("git", {}).get("commit", "?")[:7], "Commit")
    dirty = [d.tag for d in docs if d.context.get("git", {}).get("dirty")]
    if dirty:
        out.append(f"Built from a dirty tree (uncommitted changes): {', '.join(dirty)}.")
    return out
