"""Markdown runbooks and postmortems cut into sections, one per heading.

Headings are found with markdown-it (so a ``#`` inside a code block is not a heading),
and each section keeps the path of headings above it as its title, such as
``Disk full > Clean up > Journal``: the context a reader needs when the section turns
up on its own in a search.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt

PATH_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Section:
    """One section of a document: its heading path and the text under that heading."""

    title: str
    body: str


def split_sections(text: str, name: str) -> list[Section]:
    r"""Cut markdown ``text`` into sections; text before the first heading is titled ``name``.

    Sections with nothing under their heading are left out, but their title still
    leads the path of the sections below them.

    >>> doc = "intro\n# Disk full\n## Check\nrun df -h\n```\n# not a heading\n```\n"
    >>> [(s.title, s.body.splitlines()[0]) for s in split_sections(doc, "disk.md")]
    [('disk.md', 'intro'), ('Disk full > Check', 'run df -h')]
    """
    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").parse(text)
    headings: list[tuple[int, str, int, int]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            title = tokens[i + 1].content.strip()
            headings.append((int(token.tag[1:]), title, token.map[0], token.map[1]))
    sections: list[Section] = []
    first = headings[0][2] if headings else len(lines)
    _add(sections, name, lines[:first])
    path: list[tuple[int, str]] = []
    for n, (level, title, _, body_start) in enumerate(headings):
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        end = headings[n + 1][2] if n + 1 < len(headings) else len(lines)
        _add(sections, PATH_SEPARATOR.join(t for _, t in path), lines[body_start:end])
    return sections


def _add(sections: list[Section], title: str, lines: list[str]) -> None:
    body = "\n".join(lines).strip()
    if body:
        sections.append(Section(title, body))
