"""Warnings attached to single numbers: a fraction of a ceiling above 100 % (the
ceiling was measured while the machine was quieter or busier than during the case,
or the case's byte or operation count is wrong) and a case whose samples spread."""
import re

ABOVE_ROOFLINE = "above the roofline: busy or mis-measured"
# Sample standard deviation over the median above which a case is called noisy.
NOISY_SD = 0.10


def above_roofline(fraction):
    return fraction is not None and fraction > 1.0


def _spread_keys(doc):
    """Keys the run itself warned about ("spread: KEY varies by ..."), cached on the document."""
    keys = getattr(doc, "_spread_keys", None)
    if keys is None:
        keys = set()
        for w in doc.data.get("warnings", []):
            found = re.match(r"spread: (\S+) ", w)
            if found:
                keys.add(found.group(1))
        doc._spread_keys = keys
    return keys


def noisy(m, doc):
    """A short reason the case's timing is noisy, or None."""
    st = m.get("stats", {})
    sd, med = st.get("stddev"), st.get("median")
    if isinstance(sd, (int, float)) and isinstance(med, (int, float)) and med > 0 and sd / med > NOISY_SD:
        return f"noisy: sd {100 * sd / med:.0f} % of median"
    if m.get("key") in _spread_keys(doc):
        return "noisy: the run warned of its spread"
    return None


def of(m, doc, fractions=()):
    """The flags of one measurement, given the ceiling fractions shown for it."""
    out = []
    if any(above_roofline(f) for f in fractions):
        out.append(ABOVE_ROOFLINE)
    reason = noisy(m, doc)
    if reason:
        out.append(reason)
    return out


def text(flags):
    return "⚠ " + "; ".join(flags) if flags else ""
