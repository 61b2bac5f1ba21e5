"""netpoll.http driven by clients netpoll did not write: a real Flask
application through requests and http.client, curl (chunked upload,
100-continue, HEAD), wrk (keep-alive under load, bounded: 2 s)."""

import http.client
import json
import re
import shutil
import subprocess

import flask
import pytest
import requests


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/system-deps.sh (it installs {name})"
    return path


def make_flask_app():
    app = flask.Flask("netpoll_http_test")

    @app.get("/")
    def index():
        return "Hello from Flask"

    @app.post("/json")
    def echo_json():
        data = flask.request.get_json()
        return flask.jsonify(got=data, n=len(data["items"]))

    @app.post("/upload")
    def upload():
        size = 0
        while chunk := flask.request.stream.read(65536):
            size += len(chunk)
        return flask.jsonify(size=size)

    @app.get("/stream")
    def stream():
        return flask.Response((f"line {i}\n" for i in range(100)), mimetype="text/plain")

    @app.get("/boom")
    def boom():
        raise RuntimeError("flask view failed")

    @app.get("/missing-on-purpose")
    def missing():
        flask.abort(404)
    return app


@pytest.fixture
def flask_server(http_serve):
    # not wrapped in wsgiref.validate: werkzeug calls wsgi.input.read()
    # without a size, which PEP 3333 allows and the validator does not
    return http_serve(make_flask_app().wsgi_app, validate=False)


def test_flask_with_requests(flask_server):
    base = "http://%s:%d" % flask_server.address
    with requests.Session() as s:
        r = s.get(base + "/")
        assert (r.status_code, r.text) == (200, "Hello from Flask")
        r = s.post(base + "/json", json={"items": list(range(1000))})
        assert r.json()["n"] == 1000
        r = s.post(base + "/upload", data=b"u" * (3 << 20))
        assert r.json() == {"size": 3 << 20}
        # a generator body: chunked upload from requests
        r = s.post(base + "/upload", data=(b"c" * 1000 for _ in range(500)))
        assert r.json() == {"size": 500_000}
        r = s.get(base + "/stream")
        assert r.text.splitlines()[-1] == "line 99"
        assert s.get(base + "/missing-on-purpose").status_code == 404
        assert s.get(base + "/boom").status_code == 500



def test_flask_with_http_client_keep_alive(flask_server):
    c = http.client.HTTPConnection(*flask_server.address, timeout=10)
    try:
        for _ in range(5):
            c.request("GET", "/")
            r = c.getresponse()
            assert r.read() == b"Hello from Flask" and not r.will_close
        c.request("HEAD", "/")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b""
        assert r.getheader("Content-Length") == "16"
    finally:
        c.close()


def curl(*args):
    out = subprocess.run([tool("curl"), "-sS", "--max-time", "20", *args],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_curl_chunked_upload_100_continue_and_head(flask_server, tmp_path):
    base = "http://%s:%d" % flask_server.address
    payload = tmp_path / "up.bin"
    payload.write_bytes(b"p" * (2 << 20))
    # chunked upload
    got = curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{payload}",
               base + "/upload")
    assert json.loads(got) == {"size": 2 << 20}
    # 100-continue: curl sends Expect for a large body and waits for it
    got = curl("-v", "-H", "Expect: 100-continue", "--data-binary", f"@{payload}",
               base + "/upload", "-o", "-", "-w", "")
    assert json.loads(got) == {"size": 2 << 20}
    out = subprocess.run([tool("curl"), "-sS", "-v", "--max-time", "20", "-H",
                          "Expect: 100-continue", "--data-binary", f"@{payload}",
                          base + "/upload"], capture_output=True, timeout=30)
    assert b"HTTP/1.1 100 Continue" in out.stderr
    # HEAD
    head = curl("-I", base + "/")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 16" in head


def test_wrk_keep_alive_under_load(http_serve, hello_app):
    srv = http_serve(hello_app, validate=False)
    out = subprocess.run([tool("wrk"), "-t1", "-c50", "-d2s", "--latency",
                          "http://%s:%d/" % srv.address],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    requests_done = int(re.search(r"(\d+) requests in", out.stdout).group(1))
    assert requests_done > 500, out.stdout
    assert "Non-2xx" not in out.stdout and "Socket errors" not in out.stdout, out.stdout
    # keep-alive: wrk made its 50 connections and no more
    assert srv.connections() <= 50
