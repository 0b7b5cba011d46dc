"""History trends as the report reads them: the JSON `bitlab history trend KEY
--format json` writes (harness/history/trend.cpp), loaded with one-line errors.

Checked as strictly as a result document (validate.py): every field the History
section reads must be present with its type, and the change points must point
into the series they were found in, so a hand-edited or truncated file is one
error naming the file and the field instead of a wrong marker on the plot.
"""
from errors import InputError, UsageError
from validate import BOOL, COUNT, NUM, STR, ListOf, check, describe, present
import docs as D

WHAT = "a bitlab history trend (the output of `bitlab history trend KEY --format json`)"

TREND = {
    "key": STR, "metric": STR, "machine": STR, "backend": STR,
    "method": {"name": STR, "permutations": COUNT, "alpha": NUM, "min_segment": COUNT},
    "points": ListOf({"run_id": COUNT, "commit": STR, "dirty": BOOL, "timestamp": STR, "cpu_model": STR,
                      "backend": STR, "value": NUM}),
    "change_points": ListOf({"index": COUNT, "run_id": COUNT, "commit": STR, "before": NUM, "after": NUM,
                             "p_value": NUM, "statistic": NUM}),
}
# What the plot and the table cannot do without; the rest may be absent (shown as "—").
MUST_HAVE = {
    "key": None, "metric": None,
    "points": ListOf({"commit": None, "value": None}),
    "change_points": ListOf({"index": None, "commit": None, "before": None, "after": None}),
}


class Trend:
    def __init__(self, path, data):
        self.path = path
        self.key = data["key"]
        self.metric = data["metric"]
        self.machine = data.get("machine", "")
        self.backend = data.get("backend", "")
        self.method = data.get("method", {})
        self.points = data["points"]
        self.change_points = data["change_points"]

    def commit(self, i):
        """Point i's commit as the report shows commits: 7 hex digits, -dirty for a dirty tree."""
        p = self.points[i]
        return p["commit"][:7] + ("-dirty" if p.get("dirty") else "")


def _consistent(data):
    """Raises InputError where the change points do not fit the series: each inside it
    (a change at point 0 has no "before"), in order, and at the commit it names."""
    points = data["points"]
    if not points:
        raise InputError("$.points: empty (a trend has at least one run)")
    last = 0
    for i, cp in enumerate(data["change_points"]):
        where = f"$.change_points[{i}]"
        index = cp["index"]
        if not 0 < index < len(points):
            raise InputError(f"{where}.index: {index} is outside the series (expected 1 to {len(points) - 1})")
        if index <= last:
            raise InputError(f"{where}.index: {index} is not after the previous change point's {last}")
        last = index
        if cp["commit"] != points[index]["commit"]:
            raise InputError(f"{where}.commit: {cp['commit'][:12]} is not the commit of point {index} "
                             f"({points[index]['commit'][:12]})")


def validate_trend(data):
    if not isinstance(data, dict):
        raise InputError(f"$: expected an object, found {describe(data)}")
    check(data, TREND, "$")
    present(data, MUST_HAVE, "$")
    _consistent(data)


def load(path):
    """The trend in `path`, every field the report reads checked."""
    name = D.shown_path(path)
    data = D.parse_json(D.read_regular(path, WHAT), name, "a history trend")
    if isinstance(data, dict) and data.get("schema") == D.SCHEMA_ID:
        raise UsageError(f"{name} is a result document, not {WHAT}: name it without --trend")
    if not isinstance(data, dict) or "points" not in data and "change_points" not in data:
        raise UsageError(f"{name} is not {WHAT}")
    try:
        validate_trend(data)
    except InputError as e:
        raise InputError(f"{name}: malformed history trend: {e}")
    return Trend(name, data)
