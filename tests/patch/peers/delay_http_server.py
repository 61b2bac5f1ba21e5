"""A plain threaded HTTP server (the standard library's, unpatched) that
answers every GET after a delay with the request path as its body; with
--certfile/--keyfile it speaks HTTPS.  Prints ``listening on HOST:PORT``."""

import argparse
import http.server
import ssl
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.5

    def do_GET(self):
        time.sleep(self.delay)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--certfile")
    ap.add_argument("--keyfile")
    args = ap.parse_args()
    Handler.delay = args.delay
    http.server.ThreadingHTTPServer.request_queue_size = 1024
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if args.certfile:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.certfile, args.keyfile)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    host, port = srv.server_address[:2]
    print(f"listening on {host}:{port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
