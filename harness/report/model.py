"""The neutral shape of a report: sections holding paragraphs, tables and figures.

tables.py and plots.py fill it from result documents; render.py writes it as HTML
and as Markdown, so both formats always hold the same content.
"""
from dataclasses import dataclass, field
from typing import List, Union


@dataclass
class Table:
    header: List[str]
    rows: List[List[str]]
    # Columns (by index) holding numbers: right-aligned in both formats.
    numeric: List[int] = field(default_factory=list)
    # Shown in a smaller type under the table: what its short names stand for.
    footnotes: List[str] = field(default_factory=list)


@dataclass
class Figure:
    filename: str  # written beside report.md, embedded in report.html
    png: bytes
    caption: str


@dataclass
class Bullets:
    """A short list: the differences between files, the flags worth reading first."""
    items: List[str]


@dataclass
class Section:
    title: str
    items: List[Union[str, Table, Figure, Bullets]] = field(default_factory=list)
