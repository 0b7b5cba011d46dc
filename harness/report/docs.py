"""Result documents as the report reads them: loading with one-line errors, labels
for telling files apart, and the numbers each measurement yields.

A number the document does not hold and cannot be computed from what it holds is
None, shown as "—": the report never invents a value (an energy figure least of all).
"""
import json
import math
import os
import re
import stat as st

from errors import InputError, UsageError
from validate import validate

SCHEMA_ID = "bitlab-result/1"


class Doc:
    def __init__(self, path, data):
        self.path = path
        self.data = data
        self.context = data["context"]
        self.measurements = data["measurements"]
        # Harness versions that bracket each case with its own probes record the
        # roofline per measurement, and none where it means nothing (GPU
        # backends, prefill): then no fallback to the start probe.
        self.per_case_roofline = any("roofline_gbps" in m.get("derived", {}) for m in self.measurements)
        self.correctness = data["correctness"]
        self.label = ""  # set by label_docs

    def commit(self):
        git = self.context.get("git", {})
        return git.get("commit", "?")[:7] + ("-dirty" if git.get("dirty") else "")

    def machine(self):
        return short_cpu(self.context.get("host", {}).get("cpu_model", "?"))


def shown_path(path):
    """A path as text that can be printed and written to the report (a file name that is
    not UTF-8 reaches Python with surrogate escapes, which UTF-8 output cannot encode)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_regular(path, what="a result file"):
    """The bytes of a regular file (`what` names what it should be, for the error). O_NONBLOCK:
    opening a FIFO must not wait for a writer; the check is on the opened file itself, so
    nothing can swap it in between."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError(f"cannot read {shown_path(path)}: {e.strerror}")
    mode = os.fstat(fd).st_mode
    if not st.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if st.S_ISDIR(mode) else "a FIFO" if st.S_ISFIFO(mode) else "not a regular file"
        raise UsageError(f"{shown_path(path)} is {kind}, not {what}")
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read()
        except OSError as e:
            raise InputError(f"cannot read {shown_path(path)}: {e.strerror}")


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw, name, what="a result document"):
    """The JSON value in `raw` (the bytes of file `name`), or a one-line InputError."""
    try:
        # utf-8-sig: a leading byte order mark is skipped, as compare's JSON reader skips it.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{name} is not UTF-8 text (byte {e.start})")
    try:
        # NaN and Infinity are Python's extensions, not JSON: a number that cannot be plotted.
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InputError(f"{name} is nested too deeply to read as {what}")
    except json.JSONDecodeError as e:
        # The position in words, not Python's "line 1 column 1 (char 0)" appended to its message.
        raise InputError(f"{name} is not JSON: at line {e.lineno}, column {e.colno}: {e.msg[:1].lower()}{e.msg[1:]}")
    except ValueError as e:
        raise InputError(f"{name} is not JSON: {e}")


def load(path):
    """The document in `path`, every field the report reads checked (validate.py)."""
    raw = read_regular(path)
    name = shown_path(path)
    data = parse_json(raw, name)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID:
        raise UsageError(f'{name} is not a bitlab result document (expected "schema": "{SCHEMA_ID}")')
    try:
        validate(data)
    except InputError as e:
        raise InputError(f"{name}: malformed bitlab result: {e}")
    return Doc(name, data)


def finite(value):
    """A computed number, or None where it overflowed or is undefined: shown as "—", never as inf."""
    return value if value is not None and math.isfinite(value) else None


def short_cpu(model):
    """'Intel(R) Xeon(R) Platinum 8488C' -> 'Intel Xeon Platinum 8488C'."""
    s = re.sub(r"\((R|TM|tm)\)|\bCPU\b|\bProcessor\b|@.*$", "", model)
    return " ".join(s.split()) or model


def label_docs(docs):
    """Labels naming each file by commit and machine; a file name breaks ties."""
    labels = [f"{d.commit()} · {d.machine()}" for d in docs]
    for i, d in enumerate(docs):
        d.label = labels[i] if labels.count(labels[i]) == 1 else f"{labels[i]} ({os.path.basename(d.path)})"


def stat(m, name):
    value = m.get("stats", {}).get(name)
    return value if isinstance(value, (int, float)) else None


def derived(m, name):
    value = m.get("derived", {}).get(name)
    return value if isinstance(value, (int, float)) else None


def gbps(m):
    """Bytes moved per second at the median, from the document or from bytes / median."""
    value = derived(m, "gbps")
    med = stat(m, "median")
    if value is None and m.get("bytes") is not None and med:
        value = m["bytes"] / med / 1e9
    return finite(value)


def roofline(m, doc):
    """Fraction of the measured memory bandwidth the kernel's bytes reach (docs/design.md §6): the
    harness's figure; for documents from before per-case probes, against the start probe."""
    value = derived(m, "roofline_fraction")
    if value is not None or doc.per_case_roofline:
        return value
    bw = doc.context.get("memory_bandwidth_gbps")
    rate = gbps(m)
    return finite(rate / bw) if rate is not None and bw else None


def compute_fraction(m):
    """Fraction of the measured int8 multiply-add peak (context int8_peak_gmacs) the case's
    multiply-adds reach: the harness's figure, on prefill and the many-token matmuls only."""
    return finite(derived(m, "compute_fraction"))


def tokens_per_s(m, percentile="median"):
    """Tokens per second at a percentile of the time samples (p10 of time = p90 of speed)."""
    if percentile == "median" and derived(m, "tokens_per_s") is not None:
        return derived(m, "tokens_per_s")
    t = stat(m, percentile)
    return finite(m["tokens"] / t) if m.get("tokens") and t else None


def energy(m):
    """(joules per token, source) or None: only a measured or labelled-modelled figure."""
    e = m.get("energy")
    if isinstance(e, dict) and isinstance(e.get("joules_per_token"), (int, float)) and e.get("source"):
        return e["joules_per_token"], e["source"]
    return None


def net_joules_per_token(m):
    """Joules per token less the idle baseline (measured sources), or None."""
    e = m.get("energy")
    value = e.get("net_joules_per_token") if isinstance(e, dict) else None
    return value if isinstance(value, (int, float)) else None


def tokens_per_joule(m):
    """Tokens per gross joule: held, or the inverse of a held J/token."""
    e = m.get("energy")
    if not isinstance(e, dict):
        return None
    value = e.get("tokens_per_joule")
    if isinstance(value, (int, float)):
        return value
    jpt = e.get("joules_per_token")
    return finite(1 / jpt) if isinstance(jpt, (int, float)) and jpt > 0 else None


def other_energy(m):
    """[(joules per token, source)] of the same window from other sources (the modelled estimate beside a measurement)."""
    out = []
    for e in m.get("other_energy", []) or []:
        if isinstance(e, dict) and isinstance(e.get("joules_per_token"), (int, float)) and e.get("source"):
            out.append((e["joules_per_token"], e["source"]))
    return out


def energy_methods(docs):
    """[(source, method)] as the documents state them (a modelled one names its energy table), first seen first."""
    seen = []
    for d in docs:
        for m in d.measurements:
            for e in [m.get("energy")] + list(m.get("other_energy", []) or []):
                if isinstance(e, dict) and e.get("source") and isinstance(e.get("method"), str):
                    if (e["source"], e["method"]) not in seen:
                        seen.append((e["source"], e["method"]))
    return seen


def short_key(m):
    """The key without its kind and backend: what tells rows of one backend apart."""
    key, kind, backend = m.get("key", "?"), m.get("kind"), m.get("backend")
    if kind and key.startswith(f"{kind}/"):
        key = key[len(kind) + 1:]
    # Textually, not by component: a peer's backend ("llama.cpp/tq2_0") holds a slash.
    if backend and key.startswith(f"{backend}/"):
        return key[len(backend) + 1:]
    if backend and f"/{backend}/" in key:
        return key.replace(f"/{backend}/", "/", 1)
    if backend and key.endswith(f"/{backend}"):
        return key[:-len(backend) - 1]
    parts = key.split("/")
    return "/".join(p for p in parts if p != backend)


def backends(docs, kind):
    """Backends with measurements of `kind`, in order of first appearance."""
    seen = []
    for d in docs:
        for m in d.measurements:
            if m.get("kind") == kind and m.get("backend") not in seen:
                seen.append(m.get("backend"))
    return seen
