"""Addresses: Go-style parsing and printing."""

import pytest

from netpoll import net
from netpoll.net import TCPAddr, UDPAddr, UnixAddr, join_host_port, split_host_port

from support import has_ipv6, tcp_pair


@pytest.mark.parametrize("hostport,host,port", [
    ("127.0.0.1:80", "127.0.0.1", "80"),
    ("localhost:http", "localhost", "http"),
    (":8080", "", "8080"),
    ("[::1]:0", "::1", "0"),
    ("[fe80::1%lo]:80", "fe80::1%lo", "80"),
    ("host:", "host", ""),
])
def test_split_host_port(hostport, host, port):
    assert split_host_port(hostport) == (host, port)


@pytest.mark.parametrize("hostport,why", [
    ("127.0.0.1", "missing port in address"),
    ("", "missing port in address"),
    ("[::1]", "missing port in address"),
    ("::1", "too many colons in address"),
    ("::1:80", "too many colons in address"),
    ("[::1]:80:90", "too many colons in address"),
    ("[::1:80", "missing ']' in address"),
    ("a[b]:80", "unexpected '[' in address"),
    ("ab]:80", "unexpected ']' in address"),
])
def test_split_host_port_errors(hostport, why):
    with pytest.raises(ValueError) as e:
        split_host_port(hostport)
    assert str(e.value) == f"address {hostport}: {why}"


def test_join_host_port():
    assert join_host_port("127.0.0.1", 80) == "127.0.0.1:80"
    assert join_host_port("::1", 80) == "[::1]:80"
    assert join_host_port("", 80) == ":80"


def test_addr_objects():
    a = TCPAddr("127.0.0.1", 54321)
    assert str(a) == "127.0.0.1:54321"
    assert a.host == "127.0.0.1" and a.port == 54321
    assert str(TCPAddr("::1", 5)) == "[::1]:5"
    assert a == TCPAddr("127.0.0.1", 54321)
    assert a != UDPAddr("127.0.0.1", 54321)
    assert len({a, TCPAddr("127.0.0.1", 54321)}) == 1
    host, port = a
    assert (host, port) == ("127.0.0.1", 54321)
    assert repr(a) == "TCPAddr('127.0.0.1:54321')"
    assert str(UnixAddr("/tmp/x")) == "/tmp/x"
    assert UnixAddr("/tmp/x").path == "/tmp/x"


@pytest.mark.parametrize("network,address,message", [
    ("tcpx", "127.0.0.1:0", 'unknown network "tcpx"'),
    ("tcp", "127.0.0.1", "missing port in address"),
    ("tcp", "127.0.0.1:99999", "invalid port"),
    ("tcp", "127.0.0.1:nosuchservice", "unknown port"),
    ("tcp4", "[::1]:0", "no suitable address found"),
    ("tcp6", "127.0.0.1:0", "no suitable address found"),
    ("udp", "127.0.0.1:0", 'network "udp" not supported here'),
])
def test_listen_rejects_malformed(run, network, address, message):
    def main():
        with pytest.raises(ValueError) as e:
            net.listen(network, address)
        assert message in str(e.value)
    run(main)


def test_dial_and_packet_reject_unknown_network(run):
    def main():
        with pytest.raises(ValueError, match='unknown network "tcpx"'):
            net.dial("tcpx", "127.0.0.1:1")
        with pytest.raises(ValueError, match='network "tcp" not supported'):
            net.listen_packet("tcp", "127.0.0.1:0")
        with pytest.raises(ValueError, match="missing port in address"):
            net.dial("tcp", "127.0.0.1")
    run(main)


def test_address_forms(run):
    def main():
        with net.listen("tcp", ("127.0.0.1", 0)) as ln:
            port = ln.addr.port
            for addr in (f"127.0.0.1:{port}", ("127.0.0.1", port), ln.addr,
                         f":{port}"):
                with net.dial("tcp", addr) as c, ln.accept() as s:
                    assert c.remote_addr == ln.addr
                    assert s.remote_addr == c.local_addr
                    assert isinstance(c.local_addr, TCPAddr)
                    assert str(c.local_addr) == f"127.0.0.1:{c.local_addr.port}"
    run(main)


def test_wildcard_listen_is_dual_stack(run):
    def main():
        with net.listen("tcp", ":0") as ln:
            port = ln.addr.port
            with net.dial("tcp4", f"127.0.0.1:{port}") as c, ln.accept() as s:
                # the peer is shown as IPv4, not ::ffff:127.0.0.1
                assert str(s.remote_addr) == str(c.local_addr)
                assert s.remote_addr.host == "127.0.0.1"
    run(main)


def test_ipv6_addresses(run):
    if not has_ipv6():
        pytest.skip("no IPv6")

    def main():
        client, server = tcp_pair("tcp6", "[::1]:0")
        with client, server:
            assert str(client.remote_addr) == f"[::1]:{client.remote_addr.port}"
            assert client.local_addr.host == "::1"
            client.write(b"six")
            assert server.read() == b"six"
    run(main)


def test_unix_addresses(run, tmp_path):
    def main():
        path = str(tmp_path / "a.sock")
        with net.listen("unix", path) as ln:
            assert ln.addr == UnixAddr(path)
            with net.dial("unix", path) as c, ln.accept() as s:
                assert c.remote_addr == UnixAddr(path)
                assert s.local_addr == UnixAddr(path)
                assert isinstance(c.local_addr, UnixAddr)
    run(main)


def test_abstract_unix_address(run):
    import os
    if not os.path.exists("/proc/net/unix"):
        pytest.skip("abstract sockets are Linux-only")

    def main():
        name = f"@netpoll-test-{os.getpid()}-{id(main)}"
        with net.listen("unix", name) as ln:
            assert str(ln.addr) == name
            with net.dial("unix", name) as c, ln.accept() as s:
                c.write(b"abstract")
                assert s.read() == b"abstract"
    run(main)

