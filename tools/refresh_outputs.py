"""Rewrite a chapter's expected-output blocks with what its code prints now.

    python tools/refresh_outputs.py book/chapter.md [--line N ...]

pytest-codeblocks checks that each example prints exactly its expected
output. After a deliberate change, this runs every example of the chapter
that has an expected output (or only those at the given lines), and puts
the new output in place. Read the diff afterwards: the prose around a
changed number may need to change too.
"""

import argparse
import contextlib
import io
import pathlib
import re
import sys

from pytest_codeblocks import extract_from_file


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

MARKER = re.compile(r"<!--[-\s]*pytest-codeblocks:expected-output[-\s]*-->")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})")


def run_block(code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {"__MODULE__": "__main__"})
    return out.getvalue()


def refresh(path, only):
    lines = path.read_text(encoding="utf-8").split("\n")
    changed = 0
    # Last block first, so that earlier line numbers stay valid.
    for block in reversed(extract_from_file(path)):
        if block.syntax != "python" or block.expected_output is None:
            continue
        if only and block.lineno not in only:
            continue
        output = run_block(block.code)
        if output == block.expected_output:
            continue
        # The marker after the block, then the fence after the marker.
        i = block.lineno
        while not MARKER.search(lines[i]):
            i += 1
        while not FENCE.match(lines[i]):
            i += 1
        opening = FENCE.match(lines[i])
        indent, fence = opening["indent"], opening["fence"]
        end = i + 1
        while not lines[end].strip().startswith(fence):
            end += 1
        new = [(indent + ln) if ln else "" for ln in output.split("\n")[:-1]]
        lines[i + 1 : end] = new
        changed += 1
        print(f"{path}:{block.lineno}: output updated")
    path.write_text("\n".join(lines), encoding="utf-8")
    return changed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("chapter", type=pathlib.Path)
    parser.add_argument("--line", type=int, action="append", default=[])
    args = parser.parse_args()
    refresh(args.chapter, set(args.line))


if __name__ == "__main__":
    main()
