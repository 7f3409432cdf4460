"""Network traffic in tests goes to 127.0.0.1 only.

An autouse session fixture refuses, before anything is sent, every connection (and every name
lookup, which would itself send a DNS query) to a host other than 127.0.0.1, ::1 or localhost.
It patches socket.getaddrinfo, socket.create_connection and socket.socket.connect / connect_ex:
requests (urllib3), aiohttp and asyncio's loop.create_connection all end up in these.
CLI tests that start a subprocess are not covered: the subprocess has its own socket module.
"""
import socket

import pytest

LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}
BIND_ANY = {None, "", "0.0.0.0", "::"}   # name lookups for binding a server send nothing


class ForeignHostError(RuntimeError):
    """A test tried to reach a host other than 127.0.0.1 / ::1 / localhost."""


def _refuse(host, port, what: str):
    raise ForeignHostError(f"{what} to {host}:{port} refused: tests may only talk to 127.0.0.1, ::1 or localhost")


def _host(host):
    return host.decode() if isinstance(host, bytes) else host


def _check_address(sock, address, what: str):
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = _host(address[0])
    if host not in LOCAL_HOSTS:
        _refuse(host, address[1], what)


@pytest.fixture(autouse=True, scope="session")
def only_localhost():
    real_getaddrinfo = socket.getaddrinfo
    real_create_connection = socket.create_connection
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, port, *args, **kwargs):
        if _host(host) not in LOCAL_HOSTS | BIND_ANY:
            _refuse(_host(host), port, "name lookup")
        return real_getaddrinfo(host, port, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        if _host(address[0]) not in LOCAL_HOSTS:
            _refuse(_host(address[0]), address[1], "connection")
        return real_create_connection(address, *args, **kwargs)

    def connect(self, address):
        _check_address(self, address, "connection")
        return real_connect(self, address)

    def connect_ex(self, address):
        _check_address(self, address, "connection")
        return real_connect_ex(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        mp.setattr(socket, "create_connection", create_connection)
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        yield
