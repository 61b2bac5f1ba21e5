"""The wheel `pip install .` builds: the license notice and py.typed are in
it, the metadata says what the project is, and the build prints no
deprecation warning."""

import email
import shutil
import subprocess
import zipfile

from support import PYTHON, ROOT


def test_wheel_carries_license_typing_and_metadata(tmp_path):
    # a copy of the source, so that the build leaves nothing in the clone
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "site", "bench", "tests", "*.egg-info", "__pycache__",
        ".*_cache", ".hypothesis"))
    r = subprocess.run([PYTHON, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path),
                        str(src)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    build_output = r.stdout + r.stderr
    assert "SetuptoolsDeprecationWarning" not in build_output
    assert "License classifiers are deprecated" not in build_output
    [wheel] = tmp_path.glob("netpoll-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "netpoll/py.typed" in names
        [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert "MIT License" in z.read(license_file).decode()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(z.read(metadata))
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.10"
    classifiers = meta.get_all("Classifier")
    assert "Development Status :: 3 - Alpha" in classifiers
    assert "Typing :: Typed" in classifiers
    assert meta.get_all("Requires-Dist")[0].startswith("greenlet")
    assert not any("tests" in n.split("/")[0] for n in names)
