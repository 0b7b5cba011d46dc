"""How an energy figure is shown (the display contract of a measurement's `energy` object).

Every J/token the report prints carries its label verbatim: the document's `label`
where it has one, else one derived from `source`. Watts are shown for measured
sources only: an estimate's "average watts" is its modelled joules over the run's
time, which reads like a reading of a meter and is not one. A modelled J/token
without `static_joules` counts operations and bytes only, so faster and slower
backends doing the same work get the same figure: it is tabled with its label, never
drawn as bars that would seem to compare backends.
"""

MODELLED_LABEL = "modelled (textbook constants)"


def label(e):
    """The human string shown next to every figure of energy object `e`."""
    if isinstance(e.get("label"), str) and e["label"].strip():
        return e["label"]
    return MODELLED_LABEL if e.get("source") == "modelled" else f"measured ({e.get('source', '?')})"


def is_estimate(e):
    """Modelled, or flagged as an estimate by the harness: no watts, no comparing bars."""
    return e.get("source") == "modelled" or e.get("estimate") is True


def watts(e):
    """[(name, watts)] to show: empty for an estimate."""
    if is_estimate(e):
        return []
    return [(name, e[k]) for k, name in (("average_watts", "average"), ("idle_watts", "idle"))
            if isinstance(e.get(k), (int, float)) and not isinstance(e.get(k), bool)]


def chartable(e):
    """Whether a bar chart comparing backends may show this figure: measured, or modelled with time's cost."""
    return not is_estimate(e) or isinstance(e.get("static_joules"), (int, float))


def of(m):
    """The measurement's energy object with a J/token and a source, or None."""
    e = m.get("energy")
    if isinstance(e, dict) and isinstance(e.get("joules_per_token"), (int, float)) and e.get("source"):
        return e
    return None
