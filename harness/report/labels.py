"""Short names for what a plot or a headline row shows. A whole result key
("e2e/prefill/avx512/synthetic:2b4t/prompt:128/threads:2/head:int8") is too long for
a tick label or a legend: a configuration is named by its backend and the key
components that differ between the configurations shown ("avx512 head:int8"), a
file by its position ("F2", when there are several). The full keys go to a footnote
table beside the figure."""

# Shorter names of the usual key components.
ABBREV = {"threads": "t", "depth": "d", "prompt": "p", "gen": "g", "weight_bits": "bits"}


def config_parts(m):
    """The key's components that name the configuration: not its kind, phase or backend."""
    key = m.get("key", "?")
    prefix = f"{m.get('kind')}/{m.get('name')}/{m.get('backend')}/"
    if key.startswith(prefix):  # textually: a peer's backend ("llama.cpp/tq2_0") holds a slash
        return [p for p in key[len(prefix):].split("/") if p]
    parts = key.split("/")
    skip = {m.get("kind"), m.get("name"), m.get("backend")}
    return [p for i, p in enumerate(parts) if not (i < 3 and p in skip)]


def config_id(m):
    """What makes a prefill and a decode measurement one configuration."""
    return (m.get("backend", "?"), "/".join(config_parts(m)))


def _pairs(parts):
    out = {}
    for p in parts:
        name, _, value = p.partition(":")
        out[name] = value
    return out


def _short(name, value):
    """threads:2 -> t2; head:int8 stays."""
    if not value:
        return name
    return f"{ABBREV[name]}{value}" if name in ABBREV else f"{name}:{value}"


class Namer:
    """Short labels of the e2e configurations of a set of documents."""

    def __init__(self, docs):
        self.many_files = len(docs) > 1
        seen = {}
        for d in docs:
            for m in d.measurements:
                if m.get("kind") == "e2e":
                    seen.setdefault("/".join(config_parts(m)), _pairs(config_parts(m)))
        names = {n for pairs in seen.values() for n in pairs}
        # A component is shown where its value is not the same in every configuration.
        self.differing = [n for n in sorted(names)
                          if len({pairs.get(n) for pairs in seen.values()}) > 1]

    def config(self, backend, parts):
        pairs = _pairs(parts)
        shown = [_short(n, pairs[n]) for n in self.differing if n in pairs]
        return " ".join([backend] + shown)

    def of(self, m, doc=None, phase=False):
        """`avx512 t2` (+ ` prefill` with phase; `F2 ` first where there are several files)."""
        text = self.config(m.get("backend", "?"), config_parts(m))
        if phase:
            text += " " + m.get("name", "?")
        return f"{doc.tag} {text}" if self.many_files and doc is not None else text


def tag_docs(docs):
    """F1, F2, ...: each file's short name in plots and the headline (the Context table maps them)."""
    for i, d in enumerate(docs):
        d.tag = f"F{i + 1}"
