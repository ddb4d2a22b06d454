# Tangled from book/build.md: edit the chapter, not this file.
"""`python -m micro`: see micro.cli."""

import sys

from micro.cli import main


if __name__ == "__main__":
    sys.exit(main())
