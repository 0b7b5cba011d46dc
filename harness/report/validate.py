"""Checks up front every field of a result document that the report reads, so that a
wrong type is one error naming the file and the field's JSON path ($.measurements[3].stats.median)
instead of an exception deep in a table or a plot.

Only what the report reads is checked: a field it does not use may hold anything (a
newer harness may add fields). A field it reads may be absent (older documents lack
some: the report shows "—"), but where present it must have the type the schema
(results/schema/result.schema.json) gives it; null is never one of them.
"""
import math

from errors import InputError


class Kind:
    """A leaf type: a name for the error message and a test of a value."""

    def __init__(self, name, test):
        self.name = name
        self.test = test


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))  # a huge integer overflows float(): not a usable number
    except OverflowError:
        return False


def _text(v):
    if not isinstance(v, str):
        return False
    try:
        v.encode("utf-8")  # a lone surrogate (\ud800) could not be written to the report
    except UnicodeEncodeError:
        return False
    return True


STR = Kind("a string", _text)
BOOL = Kind("true or false", lambda v: isinstance(v, bool))
NUM = Kind("a finite number", _number)
NONNEG = Kind("a finite number >= 0", lambda v: _number(v) and v >= 0)
COUNT = Kind("an integer >= 0", lambda v: _number(v) and isinstance(v, int) and v >= 0)


class ListOf:
    def __init__(self, item):
        self.item = item


ENERGY = {"source": STR, "method": STR, "label": STR, "estimate": BOOL, "joules_per_token": NONNEG,
          "tokens_per_joule": NONNEG, "average_watts": NONNEG, "idle_watts": NONNEG, "net_joules_per_token": NUM,
          "static_joules": NONNEG}

# An e2e row measured on another engine (llama.cpp, say): shown as a peer in the headline.
PEER = {"engine": STR, "format": STR, "build_commit": STR, "network_differs": ListOf(STR),
        "correctness": {"pass": BOOL}}

OP_SHARE = {"op": STR, "seconds": NONNEG, "calls": COUNT, "share": NONNEG}

DOCUMENT = {
    "context": {
        "timestamp": STR, "command": STR, "model": STR, "threads": COUNT, "memory_bandwidth_gbps": NONNEG,
        "int8_peak_gmacs": NONNEG, "int8_peak_isa": STR,
        "git": {"commit": STR, "dirty": BOOL},
        "host": {"os": STR, "cpu_model": STR, "logical_cores": COUNT, "memory_bytes": NONNEG,
                 "isa_flags": ListOf(STR)},
        "build": {"compiler": STR, "build_type": STR, "flags": STR},
        "gpus": ListOf({"name": STR, "backend": STR, "driver": STR, "memory_bytes": NONNEG}),
        "energy_sensors": ListOf({"name": STR, "available": BOOL, "reason": STR}),
    },
    "measurements": ListOf({
        "key": STR, "kind": STR, "backend": STR, "variant": STR, "name": STR, "bytes": NONNEG, "tokens": NONNEG,
        "model": STR, "ops": NONNEG,
        "shape": {"depth": COUNT, "threads": COUNT, "n": COUNT, "k": COUNT, "tokens": COUNT},
        "stats": {"median": NONNEG, "p10": NONNEG, "p90": NONNEG, "stddev": NONNEG},
        "derived": {"gbps": NONNEG, "roofline_fraction": NUM, "roofline_gbps": NUM, "tokens_per_s": NONNEG,
                    "compute_fraction": NONNEG, "int8_peak_gmacs": NONNEG, "gops": NONNEG},
        "peer": PEER,
        "energy": ENERGY,
        "other_energy": ListOf(ENERGY),
        "breakdown": ListOf(OP_SHARE),
    }),
    "warnings": ListOf(STR),
    "correctness": ListOf({"backend": STR, "variant": STR, "check": STR, "pass": BOOL, "nmse": NUM,
                           "threshold": NUM, "bit_exact": BOOL, "floor_nmse": NUM, "nmse_ratio": NUM}),
}
REQUIRED = ("context", "measurements", "correctness")

# The fields `bitlab compare` cannot do without (harness/result_reader.cpp): a
# document must be accepted or refused alike by both commands, so these are
# required here as well, even where the report could show "—".
MUST_HAVE = {
    "context": {"git": {"commit": None, "dirty": None}, "host": {"cpu_model": None}},
    "measurements": ListOf({"key": None, "samples": None}),
    "correctness": ListOf({"backend": None, "check": None, "pass": None}),
}


def describe(value):
    """What a value is, for an error message: short, one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
        return text if len(text) <= 24 else text[:21] + "..."
    if isinstance(value, str):
        return "a string" if _text(value) else "a string that is not valid Unicode"
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def _expected(spec):
    if isinstance(spec, Kind):
        return spec.name
    return "an array" if isinstance(spec, ListOf) else "an object"


def check(value, spec, where):
    """Raises InputError naming `where` (a JSON path) at the first value that does not fit."""
    if isinstance(spec, Kind):
        ok = spec.test(value)
    elif isinstance(spec, ListOf):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, dict)
    if not ok:
        raise InputError(f"{where}: expected {_expected(spec)}, found {describe(value)}")
    if isinstance(spec, ListOf):
        for i, item in enumerate(value):
            check(item, spec.item, f"{where}[{i}]")
    elif isinstance(spec, dict):
        for name, sub in spec.items():
            if name in value:
                check(value[name], sub, f"{where}.{name}")


def present(value, spec, where):
    """Raises InputError("$.path: missing") for the first field of MUST_HAVE that is absent
    (types are check's concern: this runs after it)."""
    if isinstance(spec, ListOf):
        for i, item in enumerate(value):
            present(item, spec.item, f"{where}[{i}]")
    elif isinstance(spec, dict):
        for name, sub in spec.items():
            if name not in value:
                raise InputError(f"{where}.{name}: missing")
            present(value[name], sub, f"{where}.{name}")


def _sample(v):
    """A time in seconds, as compare takes it: a finite number > 0."""
    return _number(v) and v > 0


def _samples_and_keys(measurements):
    """What compare checks of each measurement's timings: samples a non-empty array of
    finite seconds > 0, and each key once."""
    seen = set()
    for i, m in enumerate(measurements):
        where = f"$.measurements[{i}]"
        key = m["key"]
        samples = m["samples"]
        if not isinstance(samples, list):
            raise InputError(f"{where}.samples: expected an array, found {describe(samples)}")
        if not samples:
            raise InputError(f"{where}: measurement {key} has no samples")
        for s, v in enumerate(samples):
            if not _sample(v):
                numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
                what = (f"sample {describe(v)} is not a time (expected finite seconds > 0)" if numeric
                        else f"expected a number of seconds, found {describe(v)}")
                raise InputError(f"{where}.samples[{s}]: measurement {key}: {what}")
        if key in seen:
            raise InputError(f"{where}: key {key} appears twice")
        seen.add(key)


def validate(data):
    """Raises InputError("$.path: expected ..., found ...") for the first field of a parsed
    document that the report cannot use. Descends only as deep as DOCUMENT: the
    nesting of fields it does not read never matters."""
    if not isinstance(data, dict):
        raise InputError(f"$: expected an object, found {describe(data)}")
    for name in REQUIRED:
        if name not in data:
            raise InputError(f"$.{name}: missing")
    check(data, DOCUMENT, "$")
    present(data, MUST_HAVE, "$")
    _samples_and_keys(data["measurements"])
