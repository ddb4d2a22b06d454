# Tangled from book/build.md: edit the chapter, not this file.
"""micro: the core algorithms of modern AI, built from scratch in plain Python.

Every line of this package is tangled from the chapters of the book in
`book/`; each module's first line names its chapter. The package uses the
Python standard library only. Run `python -m micro` to list the chapters.
"""

__version__ = "0.1.0"
