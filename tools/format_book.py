"""Sort imports and format the Python blocks of the book in place with ruff.

    python tools/format_book.py [book/chapter.md ...]

Every ```python fence (titled module blocks and examples alike) is passed
through `ruff format` with the project's settings, so the tangled modules
pass `ruff format --check` and the examples read the same way. Blocks
that do not parse are left as they are and reported.
"""

import pathlib
import re
import subprocess
import sys


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>.*)$")


def format_code(code, name, titled):
    # A block that continues a class (indented methods) is formatted
    # inside a stand-in class, then given back without it.
    if code[:1].isspace():
        wrapped = format_code("class _:\n" + code, name, titled)
        if wrapped.startswith("class _:\n"):
            return wrapped.removeprefix("class _:\n")
        return code
    # Modules put two blank lines after imports (the tangler's spacing
    # between blocks); examples read better with one.
    after = 2 if titled else 1
    isort = [
        "check",
        "--select",
        "I",
        "--fix-only",
        "--quiet",
        "--config",
        f"lint.isort.lines-after-imports = {after}",
    ]
    for step in (isort, ["format"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ruff",
                *step,
                "--stdin-filename",
                "micro/_block.py",
                "-",
            ],
            input=code,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(f"{name}: left unformatted: {result.stderr.strip()}")
            return code
        code = result.stdout
    return code


def format_chapter(path):
    lines = path.read_text(encoding="utf-8").split("\n")
    out, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        out.append(lines[i])
        i += 1
        if not match:
            continue
        indent, fence = match["indent"], match["fence"]
        is_python = match["info"].split()[:1] == ["python"]
        body = []
        while i < len(lines):
            close = FENCE.match(lines[i])
            if (
                close
                and not close["info"].strip()
                and len(close["fence"]) >= len(fence)
            ):
                break
            body.append(lines[i])
            i += 1
        if is_python:
            code = "\n".join(ln[len(indent) :] for ln in body) + "\n"
            titled = "title=" in match["info"]
            new = format_code(code, f"{path}:{i}", titled)
            new = new.rstrip("\n").split("\n")
            body = [(indent + ln) if ln else "" for ln in new]
        out.extend(body)
        if i < len(lines):
            out.append(lines[i])
            i += 1
    text = "\n".join(out)
    if text != path.read_text(encoding="utf-8"):
        path.write_text(text, encoding="utf-8")
        print(f"formatted {path}")


def main(argv):
    paths = [pathlib.Path(a) for a in argv] or sorted(
        pathlib.Path("book").glob("*.md")
    )
    for path in paths:
        format_chapter(path)


if __name__ == "__main__":
    main(sys.argv[1:])
