# Tangled from book/build.md: edit the chapter, not this file.
"""Tangle the book into the package, or check that the two agree.

    python -m micro.tangle           write micro/ from book/
    python -m micro.tangle --check   exit 1, naming every stale, missing or
                                     orphaned module, if they disagree

A fence such as ```python title="micro/x.py" belongs to micro/x.py; all
such blocks in book order (the nav of mkdocs.yml) make the file.
Left out: named chunks and out-of-order assembly; a block's place in the
book is its place in the module.
"""

import argparse
import ast
import difflib
import pathlib
import re
import sys


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
TITLE = re.compile(r'\btitle="(?P<path>[^"]*)"')
MODULE = re.compile(r"micro/(?:[A-Za-z_]\w*/)*[A-Za-z_]\w*\.py")
NAV_PAGE = re.compile(r"^\s*-\s+(?:.*?:\s+)?(?P<page>[\w./-]+\.md)\s*$")
HEADER = "# Tangled from {chapters}: edit the chapter, not this file.\n"


class TangleError(Exception):
    """The book cannot be tangled; the message says where and why."""


def book_order(root):
    """Chapter paths (relative to root) in the order of the site's nav."""
    config = root / "mkdocs.yml"
    if not config.is_file():
        raise TangleError(f"{config} not found: run from the repository root")
    pages, in_nav = [], False
    for line in config.read_text(encoding="utf-8").splitlines():
        if line.startswith("nav:"):
            in_nav = True
        elif in_nav and line.strip() and not line[0].isspace():
            break
        elif in_nav and (match := NAV_PAGE.match(line)):
            pages.append("book/" + match["page"])
    if not pages:
        raise TangleError(f"{config} has no nav pages")
    return pages


def titled_blocks(path, name):
    """Yield (module, first line number, code) for each titled block."""
    opened = None  # (indent, fence, module or None, line number)
    body = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        match = FENCE.match(line)
        if opened is None:
            if match:
                opened = (
                    match["indent"],
                    match["fence"],
                    module_of(match["info"], name, number),
                    number,
                )
                body = []
            continue

        # Inside a block: a bare fence of the same kind closes it.
        indent, fence, module, start = opened
        closes = (
            match
            and not match["info"].strip()
            and match["fence"][0] == fence[0]
            and len(match["fence"]) >= len(fence)
        )
        if not closes:
            body.append(
                line[len(indent) :]
                if line.startswith(indent)
                else line.lstrip()
            )
            continue
        if module:
            yield module, start + 1, "\n".join(body)
        opened = None
    if opened is not None:
        raise TangleError(f"{name}:{opened[3]}: code block is never closed")


def module_of(info, name, number):
    """The module a fence's info string names, or None for an example."""
    words = info.split()
    title = TITLE.search(info)
    if not words or title is None or not title["path"].startswith("micro/"):
        return None
    if words[0] not in ("python", "py"):
        raise TangleError(
            f"{name}:{number}: a block titled "
            f"{title['path']} must be a python block"
        )
    if not MODULE.fullmatch(title["path"]):
        raise TangleError(
            f"{name}:{number}: {title['path']!r} is not a "
            "module path like micro/name.py"
        )
    return title["path"]


def tangle(root):
    """Map each module path to the text the book says it should hold."""
    order = book_order(root)
    parts, sources = {}, {}
    for name in order:
        path = root / name
        if not path.is_file():
            raise TangleError(f"mkdocs.yml lists {name}, which does not exist")
        for module, line, code in titled_blocks(path, name):
            code = code.strip("\n")
            if code[:1].isspace():
                check_continuation(parts.get(module, []), code, name, line)
            parts.setdefault(module, []).append(code)
            sources.setdefault(module, [])
            if name not in sources[module]:
                sources[module].append(name)
    for path in sorted((root / "book").rglob("*.md")):
        name = path.relative_to(root).as_posix()
        if name not in order and any(titled_blocks(path, name)):
            raise TangleError(
                f"{name} has titled code blocks but is not in "
                "the nav of mkdocs.yml"
            )
    return {
        module: HEADER.format(chapters=", ".join(sources[module]))
        + join_blocks(parts[module])
        + "\n"
        for module in sorted(parts)
    }


def check_continuation(blocks, code, name, line):
    """An indented block must continue the definition before it.

    Methods (a block opening with def or a decorator) need a class; other
    statements may also continue a function begun in the previous block.
    """
    try:
        tree = ast.parse(join_blocks(blocks)) if blocks else None
    except SyntaxError:
        return  # not the tangler's business; ruff reports it
    last = tree.body[-1] if tree else None
    methods = code.lstrip().startswith(("def ", "async def ", "@"))
    allowed = (
        (ast.ClassDef,)
        if methods
        else (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    )
    if not isinstance(last, allowed):
        what = "a class" if methods else "a class or function"
        raise TangleError(
            f"{name}:{line}: this indented block must continue {what}, "
            "but the module's previous block does not end with one"
        )


def join_blocks(blocks):
    """Two blank lines between blocks; one before an indented block."""
    text = blocks[0]
    for block in blocks[1:]:
        text += ("\n\n" if block[:1].isspace() else "\n\n\n") + block
    return text


def problems(root, expected):
    """One message per module that disagrees with the book."""
    found = []
    on_disk = {
        path.relative_to(root).as_posix()
        for path in (root / "micro").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    for module, text in expected.items():
        path = root / module
        chapters = HEADER_CHAPTERS.match(text)["chapters"]
        if not path.is_file():
            found.append(
                f"missing: {module} (from {chapters}); "
                "run python -m micro.tangle"
            )
            continue
        actual = path.read_text(encoding="utf-8")
        if actual != text:
            diff = difflib.unified_diff(
                text.splitlines(),
                actual.splitlines(),
                f"{module} as {chapters} says",
                f"{module} on disk",
                n=1,
                lineterm="",
            )
            hint = "\n    ".join(list(diff)[:8])
            found.append(
                f"stale: {module} does not match {chapters}; edit "
                f"{chapters} (never {module}), then run "
                f"python -m micro.tangle\n    {hint}"
            )
    for module in sorted(on_disk - set(expected)):
        found.append(
            f"orphaned: {module} comes from no chapter; move its "
            "code into a titled block of a chapter, or delete it"
        )
    return found


HEADER_CHAPTERS = re.compile(r"# Tangled from (?P<chapters>.*?): ")


def write(root, expected):
    """Bring micro/ in line with the book; return what changed."""
    changed = []
    for module, text in expected.items():
        path = root / module
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            changed.append(f"wrote {module}")
    for path in sorted((root / "micro").rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module in expected or "__pycache__" in path.parts:
            continue
        if HEADER_CHAPTERS.match(path.read_text(encoding="utf-8")):
            path.unlink()
            changed.append(f"deleted {module} (its chapter block is gone)")
        else:
            changed.append(f"left {module}: it comes from no chapter")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m micro.tangle",
        description="Write micro/ from the book, or check they agree.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if micro/ is stale",
    )
    parser.add_argument(
        "--root", default=".", help="repository root (default: current folder)"
    )
    args = parser.parse_args(argv)
    root = pathlib.Path(args.root)
    try:
        expected = tangle(root)
    except TangleError as error:
        print(f"tangle: error: {error}", file=sys.stderr)
        return 2
    if args.check:
        found = problems(root, expected)
        for message in found:
            print(message, file=sys.stderr)
        if found:
            return 1
        print("micro/ matches the book")
        return 0
    for message in write(root, expected) or ["micro/ is up to date"]:
        print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
