"""Writes a report (model.Section list) as self-contained HTML and as Markdown.

HTML: inline CSS and images as base64 data URIs, nothing fetched from anywhere, so
the file can be mailed or attached to a CI run as is. Markdown: GitHub-flavoured
tables, images referenced by file name (report.py writes them beside report.md).

Every text of the report is plain text, much of it taken from result files: each
format escapes all of it as it writes it (html.escape; md_text), so a name like
"<script>" or "a|b" is shown as written and never becomes markup; control characters
are shown escaped in both (visible), as `bitlab compare` shows them, so that an ESC
or a C1 control from a file never reaches a terminal that views the report.
"""
import base64
import html
import re

from model import Figure, Table

FAIL = "FAIL"  # a cell with exactly this text is emphasised in both formats

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1b1f24; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.fail { color: #b42318; font-weight: bold; }
figure { margin: .6em 0 1.4em; } figure img { max-width: 100%; } figcaption { color: #57606a; font-size: 12px; }
"""


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


def _esc(text):
    return html.escape(visible(text))


def _html_table(t):
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in t.header) + "</tr></thead>",
           "<tbody>"]
    for row in t.rows:
        cells = []
        for i, cell in enumerate(row):
            cls = [c for c, on in (("num", i in t.numeric), ("fail", cell == FAIL)) if on]
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{_esc(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _html_figure(f):
    data = base64.b64encode(f.png).decode("ascii")
    cap = _esc(f.caption)
    return f'<figure><img alt="{cap}" src="data:image/png;base64,{data}"><figcaption>{cap}</figcaption></figure>'


def to_html(title, intro, sections):
    body = [f"<h1>{_esc(title)}</h1>"] + [f"<p>{_esc(p)}</p>" for p in intro]
    for s in sections:
        body.append(f"<section><h2>{_esc(s.title)}</h2>")
        for item in s.items:
            if isinstance(item, Table):
                body.append(_html_table(item))
            elif isinstance(item, Figure):
                body.append(_html_figure(item))
            else:
                body.append(f"<p>{_esc(item)}</p>")
        body.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


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


def _md_cell(cell):
    return "**FAIL**" if cell == FAIL else md_text(cell)


def _md_table(t):
    align = ["---:" if i in t.numeric else "---" for i in range(len(t.header))]
    lines = ["| " + " | ".join(_md_cell(h) or " " for h in t.header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def to_markdown(title, intro, sections):
    out = [f"# {md_text(title)}", ""] + [md_text(p) + "\n" for p in intro]
    for s in sections:
        out += [f"## {md_text(s.title)}", ""]
        for item in s.items:
            if isinstance(item, Table):
                out += [_md_table(item), ""]
            elif isinstance(item, Figure):
                out += [f"![{md_text(item.caption)}]({item.filename})", ""]
            else:
                out += [md_text(item), ""]
    return "\n".join(out)
