"""README.md's first sample, copied out of the README as a reader would copy
it, runs as a real server: it prints its address, echoes what a client
sends, survives a client that resets its connection, and stops on Ctrl-C."""

import os
import re
import signal
import socket
import struct

from support import PYTHON, ROOT, ServerProcess, recv_exactly


def first_sample():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert match, "README.md has no python sample"
    code = match.group(1)
    assert '"127.0.0.1:7000"' in code
    # The one change: any free port instead of 7000, which may be taken here.
    return code.replace('"127.0.0.1:7000"', '"127.0.0.1:0"')


def test_readme_first_sample_echoes_and_survives_resets(tmp_path):
    script = tmp_path / "echo.py"
    script.write_text(first_sample())
    with ServerProcess([PYTHON, str(script)]) as server:
        # a client that resets its connection mid-stream
        rude = socket.create_connection(server.address, timeout=10)
        rude.sendall(b"x" * 1000)
        rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rude.close()
        # then line-by-line clients, as with `nc`
        clients = [socket.create_connection(server.address, timeout=10) for _ in range(3)]
        for i, c in enumerate(clients):
            c.sendall(b"hello %d\n" % i)
        for i, c in enumerate(clients):
            assert recv_exactly(c, 8) == b"hello %d\n" % i
            c.close()
        assert server.stop(signal.SIGINT) == 0          # Ctrl-C: a clean exit
        assert "Traceback" not in server.errors()
