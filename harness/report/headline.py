"""The headline table: per file, backend and configuration, prefill and decode tokens/s
and their ratio to the best, where each stands against its roofline, decode J/token with
its energy label, and the correctness verdict. Peer engines (a measurement with a `peer`
object) are rows of their own, marked as peers, with the ratio of bitlab's best to the
best peer underneath."""
import ceilings as C
import docs as D
import energy as E
import flags as F
import labels as L
from model import Table
from tables import DASH, num

PEER_MARK = "peer: "


class Row:
    def __init__(self, doc, backend, parts):
        self.doc, self.backend, self.parts = doc, backend, parts
        self.phase = {}  # "prefill"/"decode" -> measurement
        self.peer = None

    def tps(self, phase):
        m = self.phase.get(phase)
        return D.tokens_per_s(m) if m else None


def rows_of(docs):
    rows = {}
    for d in docs:
        for m in d.measurements:
            if m.get("kind") != "e2e" or m.get("name") not in ("prefill", "decode"):
                continue
            backend, config = L.config_id(m)
            row = rows.setdefault((d.path, backend, config), Row(d, backend, L.config_parts(m)))
            row.phase[m["name"]] = m
            if isinstance(m.get("peer"), dict):
                row.peer = m["peer"]
    return list(rows.values())


def _best(rows, phase):
    values = [r.tps(phase) for r in rows if r.tps(phase) is not None]
    return max(values) if values else None


def _speed(row, phase, best):
    v = row.tps(phase)
    if v is None:
        return DASH
    return f"{num(v)} ({v / best:.2f}×)" if best else num(v)


def _verdict(row):
    if row.peer is not None:
        c = row.peer.get("correctness")
        if not isinstance(c, dict):
            return "not checked"
        # bench --peer writes `verdict` ("pass", "fail", "different network",
        # "skipped") with the KL and top-1 agreement it was judged on.
        v = c.get("verdict")
        if isinstance(v, str):
            kl, top1 = c.get("kl_divergence"), c.get("top1_agreement")
            measured = (f" (KL {kl:.3g}, top-1 {top1:.0%})"
                        if isinstance(kl, (int, float)) and isinstance(top1, (int, float)) else "")
            return ("FAIL" if v == "fail" else v) + measured
        if isinstance(c.get("pass"), bool):
            return "pass" if c["pass"] else "FAIL"
        return "not checked"
    checks = [c for c in row.doc.correctness if c.get("backend") == row.backend]
    if not checks:
        return "no checks"
    failing = sum(1 for c in checks if not c.get("pass"))
    return f"FAIL ({failing} of {len(checks)})" if failing else f"pass ({len(checks)})"


def _energy(row):
    m = row.phase.get("decode") or row.phase.get("prefill")
    e = E.of(m) if m else None
    if e is None:
        return DASH
    phase = "" if row.phase.get("decode") else " (prefill)"
    return f"{num(e['joules_per_token'])}{phase} — {E.label(e)}"


def _notes(row):
    notes = []
    if row.peer is not None:
        fmt = row.peer.get("format")
        notes.append(f"{row.peer.get('engine', '?')}" + (f" {fmt}" if fmt else "") +
                     (f" @ {str(row.peer['build_commit'])[:10]}" if row.peer.get("build_commit") else ""))
        differs = row.peer.get("network_differs") or []
        if differs:
            notes.append("⚠ network differs: " + "; ".join(differs))
    fl = []
    for phase, m in row.phase.items():
        fl += [f"{phase} {f}" for f in F.of(m, row.doc, [C.bound(m, row.doc)[1]])]
    if fl:
        notes.append(F.text(fl))
    return "; ".join(notes) or ""


def headline(docs, namer):
    """(Table, [sentences]) or None where no file has prefill or decode measurements."""
    rows = rows_of(docs)
    if not rows:
        return None
    ours = [r for r in rows if r.peer is None]
    peers = [r for r in rows if r.peer is not None]
    best = {p: _best(ours + peers, p) for p in ("prefill", "decode")}
    # bitlab's rows first, fastest decode first; the peers after them.
    ours.sort(key=lambda r: -(r.tps("decode") or r.tps("prefill") or 0))
    peers.sort(key=lambda r: -(r.tps("decode") or r.tps("prefill") or 0))
    many = len(docs) > 1
    header = (["file"] if many else []) + ["configuration", "prefill tok/s (× best)", "decode tok/s (× best)",
                                            "prefill roofline", "decode roofline", "J/token (decode)",
                                            "correctness", "notes"]
    body = []
    for r in ours + peers:
        name = namer.config(r.backend, r.parts)
        roof = [C.shown(r.phase[p], r.doc) if p in r.phase else DASH for p in ("prefill", "decode")]
        body.append(([r.doc.tag] if many else []) + [(PEER_MARK if r.peer is not None else "") + name,
                                                      _speed(r, "prefill", best["prefill"]),
                                                      _speed(r, "decode", best["decode"])] +
                    roof + [_energy(r), _verdict(r), _notes(r)])
    first = 2 if many else 1
    sentences = []
    if peers and ours:
        for phase in ("prefill", "decode"):
            a, b = _best(ours, phase), _best(peers, phase)
            if a and b:
                sentences.append(f"{phase}: bitlab's best is {a / b:.2f}× the best peer "
                                 f"({num(a)} against {num(b)} tokens/s).")
        if any(r.peer.get("network_differs") for r in peers):
            sentences.append("Peers flagged \"network differs\" run a different network: their speed is "
                             "not a like-for-like comparison.")
    return Table(header, body, numeric=[first, first + 1]), sentences
