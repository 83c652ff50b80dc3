"""A minimal FastCGI client (responder role) to drive frontline-fcgi without a web server, for
the cases nginx never lets through: a body shorter or longer than CONTENT_LENGTH, no
CONTENT_LENGTH at all. Written from the FastCGI 1.0 specification."""
import socket
import struct

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = \
    1, 3, 4, 5, 6, 7
FCGI_RESPONDER = 1


def _record(kind, content, request_id=1):
    out = b""
    # A record holds at most 65535 bytes of content.
    chunks = [content[i:i + 65535] for i in range(0, len(content), 65535)] or [b""]
    for chunk in chunks:
        out += struct.pack(">BBHHBB", 1, kind, request_id, len(chunk), 0, 0) + chunk
    return out


def _length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_params(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        out += _length(len(k)) + _length(len(v)) + k + v
    return out


def request(address, params, stdin=b"", timeout=10):
    """Sends one request to a unix socket path or a (host, port) pair; returns
    (status, headers dict, body bytes)."""
    family = socket.AF_INET if isinstance(address, tuple) else socket.AF_UNIX
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
        data = _record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", FCGI_RESPONDER, 0))
        data += _record(FCGI_PARAMS, encode_params(params)) + _record(FCGI_PARAMS, b"")
        if stdin:
            data += _record(FCGI_STDIN, stdin)
        data += _record(FCGI_STDIN, b"")
        s.sendall(data)
        stdout = b""
        buffer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 8:
                _, kind, _, length, padding, _ = struct.unpack(">BBHHBB", buffer[:8])
                if len(buffer) < 8 + length + padding:
                    break
                content = buffer[8:8 + length]
                buffer = buffer[8 + length + padding:]
                if kind == FCGI_STDOUT:
                    stdout += content
                elif kind == FCGI_END_REQUEST:
                    return _parse(stdout)
        # The responder closed without ending the request: no answer at all, not an empty 200.
        raise ConnectionError("connection closed without FCGI_END_REQUEST")
    finally:
        s.close()


def _parse(stdout):
    head, _, body = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body
