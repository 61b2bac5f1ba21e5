#!/bin/sh
# Print the path of a CPython interpreter of version $1 (e.g. 3.10), for
# `make test-3.10` / `make test-all`: pythonX.Y on PATH, else a pyenv build.
# Fails naming the version when there is none.
set -eu
v=${1:?usage: find-python.sh X.Y}
if command -v "python$v" >/dev/null 2>&1 && "python$v" -c '' >/dev/null 2>&1; then
    command -v "python$v"
    exit 0
fi
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for dir in "$root"/versions/"$v".*; do
    if [ -x "$dir/bin/python$v" ]; then
        echo "$dir/bin/python$v"
        exit 0
    fi
done
echo "find-python.sh: no Python $v found (neither python$v on PATH nor $root/versions/$v.*);" \
     "install it, e.g. 'pyenv install $v'" >&2
exit 1
