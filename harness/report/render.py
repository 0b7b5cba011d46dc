"""Writes a report (model.Section list) as self-contained HTML and as Markdown, each
from its Jinja2 template (templates/).

HTML: inline CSS and images as base64 data URIs, nothing fetched from anywhere, so
the file can be mailed or attached to a CI run as is. Markdown: GitHub-flavoured
tables, images referenced by file name (report.py writes them beside report.md).

Every text of the report is plain text, much of it taken from result files: each
format escapes all of it as it writes it (HTML: the template's autoescaping; Markdown:
md_text), so a name like "<script>" or "a|b" is shown as written and never becomes
markup; control characters are shown escaped in both (visible), as `bitlab compare`
shows them, so that an ESC or a C1 control from a file never reaches a terminal that
views the report.
"""
import base64
import html
import os
import re

from model import Bullets, Figure, Table

FAIL = "FAIL"  # a cell with exactly this text (or starting "FAIL (") is emphasised in both formats
FLAG = "⚠"  # a cell starting with this is a warning: coloured in HTML
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible_char(c):
    code = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0x80 <= code <= 0x9F:  # a C1 control: some terminals act on it as on ESC [
        return f"\\u{code:04x}"
    return c


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def visible(text):
    """`text` with control characters as escapes (\\n, \\x1b, \\u009b), as compare writes them."""
    return _CONTROL.sub(lambda m: _visible_char(m.group(0)), text)


# Markdown's own punctuation, backslash-escaped: emphasis (*, and _ at a word's edge,
# where it can open or close emphasis; inside a word, as in matmul_w2a8, it cannot),
# links ([ ]), code (`), strikethrough (~), math ($, which GitHub renders) and table
# cells (|); and the backslash, which would otherwise escape what follows it.
_MD_PUNCT = re.compile(r"[\\`*\[\]|~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md_text(text):
    """Plain text as Markdown that shows it as written, on one line: HTML's special
    characters as entities (raw HTML passes through Markdown), Markdown's punctuation
    backslash-escaped, line breaks (which would end a table row or start a block) as spaces."""
    one_line = " ".join(visible(text).split())
    return _MD_PUNCT.sub(lambda m: "\\" + m.group(0), html.escape(one_line, quote=False))


def _is_fail(cell):
    return cell == FAIL or cell.startswith(FAIL + " (")


def _md_cell(cell):
    return f"**{md_text(cell)}**" if _is_fail(cell) else md_text(cell)


def _env(markdown):
    try:
        import jinja2
    except ImportError:
        from errors import SetupError
        raise SetupError("report needs Jinja2: install the Debian package python3-jinja2")
    from markupsafe import Markup

    def shown(value):  # before autoescaping: control characters made visible
        return visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=not markdown,
                             finalize=None if markdown else shown, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.tests.update(table=lambda i: isinstance(i, Table), figure=lambda i: isinstance(i, Figure),
                     bullets=lambda i: isinstance(i, Bullets))
    env.filters.update(md=md_text, mdcell=_md_cell, mdhead=lambda h: _md_cell(h) or " ",
                       b64=lambda png: base64.b64encode(png).decode("ascii"))

    def cell_class(i, cell, table):
        cls = [c for c, on in (("num", i in table.numeric), ("fail", _is_fail(cell)), ("flag", cell.startswith(FLAG)))
               if on]
        return Markup(f' class="{" ".join(cls)}"') if cls else ""

    env.globals["cell_class"] = cell_class
    return env


def to_html(title, intro, sections):
    return _env(False).get_template("report.html.j2").render(title=title, intro=intro, sections=sections)


def to_markdown(title, intro, sections):
    return _env(True).get_template("report.md.j2").render(title=title, intro=intro, sections=sections)
