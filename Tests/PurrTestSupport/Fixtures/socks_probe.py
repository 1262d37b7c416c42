"""Asks a SOCKS5 proxy for targets with python-socks and prints one JSON line per request: the reply code."""
import json, socket, sys
from python_socks import ProxyError
from python_socks.sync import Proxy

def raw(proxy_port, command):
    # python-socks speaks CONNECT only: BIND (2) and UDP ASSOCIATE (3) as bytes.
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=20)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(bytes([5, command, 0, 1, 127, 0, 0, 1, 0, 80]))
    reply = s.recv(10)
    return reply[1]

def main():
    results = []
    for spec in sys.argv[1:]:
        # url|host|port   or   raw|proxyport|command
        kind, a, b = spec.split("|")
        if kind == "raw":
            results.append({"spec": spec, "code": raw(int(a), int(b))})
            continue
        proxy = Proxy.from_url(kind)
        try:
            sock = proxy.connect(dest_host=a, dest_port=int(b), timeout=30)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            first = sock.recv(12)
            sock.close()
            results.append({"spec": spec, "code": 0, "first": first.decode("latin-1")})
        except ProxyError as error:
            results.append({"spec": spec, "code": error.error_code, "message": str(error)})
    print(json.dumps(results))

main()
