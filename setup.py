"""The optional C accelerator, netpoll._speedups (see netpoll/speedups.py).

Everything else is in pyproject.toml.  The extension is optional: where it
cannot be built (no C compiler, an interpreter other than CPython) the
install goes on pure Python, which is complete on its own.
"""

import platform

from setuptools import Extension, setup

ext_modules = []
if platform.python_implementation() == "CPython":
    ext_modules.append(Extension("netpoll._speedups", ["netpoll/_speedups.c"], optional=True))

setup(ext_modules=ext_modules)
