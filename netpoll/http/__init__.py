"""netpoll.http: an HTTP/1.1 server for WSGI applications (Go: net/http.Server).

    from netpoll import http
    http.Server(app, read_header_timeout=10, idle_timeout=60).listen_and_serve(":8080")

One goroutine per connection; requests parsed by httptools (llhttp);
Go's timeouts and graceful ``shutdown``.  Needs the ``http`` extra
(``pip install httptools``).  See docs/reference.md §6.

    server.py      Server: settings, accept loop, shutdown, close
    connection.py  one connection: parse, environ, call the app, answer
    body.py        wsgi.input (streamed request bodies), wsgi.file_wrapper
    cli.py         ``netpoll serve MODULE:APP``
"""

__all__ = ["Server", "BodyError", "FileWrapper"]


def __getattr__(name):
    # Imported on first use, so that ``netpoll serve --help`` and the CLI's
    # parser work without httptools; using the server without it says what
    # to install.
    if name in __all__:
        try:
            import httptools  # noqa: F401
        except ImportError as exc:
            raise ImportError("netpoll.http needs httptools: "
                              "pip install httptools") from exc
        from . import body, server
        globals().update(Server=server.Server, BodyError=body.BodyError,
                         FileWrapper=body.FileWrapper)
        return globals()[name]
    raise AttributeError(f"module 'netpoll.http' has no attribute {name!r}")
