#!/usr/bin/env python3
"""Checks every relative link of the Markdown docs: the file it names exists, and so does the
heading its #anchor names (GitHub's slugs). Exits 1 with the broken links listed.

Usage: scripts/check-docs.py [FILE.md ...]   (default: README.md, SECURITY.md, docs/, examples/)
"""
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def prose(text):
    """The lines outside fenced code blocks."""
    inside = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            yield line


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    return {slug(line.lstrip("#")) for line in prose(path.read_text()) if line.startswith("#")}


def broken_links(md):
    name = os.path.relpath(md, ROOT)
    for line in prose(md.read_text()):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                yield f"{name}: {target}: no such file"
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                yield f"{name}: {target}: no such heading"


def main(args):
    if args:
        files = [pathlib.Path(a).resolve() for a in args]
    else:
        files = [ROOT / "README.md", ROOT / "SECURITY.md"]
        files += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "examples").glob("*.md"))
    broken = [b for md in files for b in broken_links(md)]
    links = sum(len(LINK.findall(line)) for md in files for line in prose(md.read_text()))
    for b in broken:
        print(b, file=sys.stderr)
    print(f"[docs] {links} links in {len(files)} files, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
