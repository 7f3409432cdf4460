"""The guard in tests/conftest.py: any host but 127.0.0.1 / ::1 / localhost is refused before a
packet is sent, for plain sockets, requests and aiohttp; loopback still works."""
import asyncio
import errno
import http.server
import re
import socket
import threading

import aiohttp
import pytest
import requests

FOREIGN = ["http://10.255.255.1:81/", "https://example.com:443/"]


def refused(url, what=""):
    """Expect the guard's ForeignHostError (a RuntimeError: tests/conftest.py is not importable by name)."""
    host_port = url.split("//")[1].rstrip("/")
    return pytest.raises(RuntimeError, match=rf"{what}to {re.escape(host_port)} refused: tests may only talk to 127\.0\.0\.1")


@pytest.fixture()
def local_url():
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_refused_connect_never_starts(local_url):
    # a non-blocking socket: a real connect would leave it connecting (SYN sent), and a second
    # connect would then fail with EALREADY; after the guard's refusal it is still fresh
    port = int(local_url.rsplit(":", 1)[1].strip("/"))
    with socket.socket() as sock:
        sock.setblocking(False)
        with refused("http://10.255.255.1:81"):
            sock.connect_ex(("10.255.255.1", 81))
        with refused("http://10.255.255.1:81"):
            sock.connect(("10.255.255.1", 81))
        assert sock.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS)  # a fresh connect
    with refused("https://example.com:443", "connection "):
        socket.create_connection(("example.com", 443))
    with refused("https://example.com:443", "name lookup "):
        socket.getaddrinfo("example.com", 443)


@pytest.mark.parametrize("url", FOREIGN)
def test_requests_to_another_host_is_refused(url):
    with refused(url):
        requests.get(url, timeout=2)


@pytest.mark.parametrize("url", FOREIGN)
def test_aiohttp_to_another_host_is_refused(url):
    async def get():
        async with aiohttp.ClientSession() as session:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return await response.read()

    with refused(url):
        asyncio.run(get())


def test_loopback_still_works(local_url):
    assert requests.get(local_url, timeout=5).text == "hello"
    assert requests.get(local_url.replace("127.0.0.1", "localhost"), timeout=5).text == "hello"

    async def get():
        async with aiohttp.ClientSession() as session:
            async with session.get(local_url) as response:
                return await response.text()

    assert asyncio.run(get()) == "hello"
