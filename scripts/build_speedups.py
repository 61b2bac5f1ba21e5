"""Build the optional C accelerator, netpoll/_speedups.c, in place, for a
checkout used without installing (PYTHONPATH=.): what ``pip install -e .``
does through setup.py, with only the interpreter's own build settings and
its C compiler (no setuptools needed).

    python scripts/build_speedups.py          # -> netpoll/_speedups.<abi>.so

Exits non-zero, naming the compiler, if it cannot build.
"""

import os
import shlex
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "netpoll", "_speedups.c")


def target():
    return os.path.join(ROOT, "netpoll", "_speedups" + sysconfig.get_config_var("EXT_SUFFIX"))


def build(quiet=False):
    """Compile if the .so is missing or older than the source; its path."""
    out = target()
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(SRC):
        return out
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        raise OSError(f"no Python.h in {include}: install this Python's headers "
                      f"(Debian/Ubuntu: python3-dev)")
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = cc + ["-shared", "-fPIC", "-O2", "-Wall", "-I", include,
                SRC, "-o", out + ".tmp"]
    if sys.platform == "darwin":
        cmd += ["-undefined", "dynamic_lookup"]
    if not quiet:
        print(" ".join(cmd))
    subprocess.run(cmd, check=True)
    os.replace(out + ".tmp", out)
    return out


if __name__ == "__main__":
    try:
        print(build())
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"build_speedups: could not compile {SRC} with "
                 f"{sysconfig.get_config_var('CC')!r}: {exc}")
