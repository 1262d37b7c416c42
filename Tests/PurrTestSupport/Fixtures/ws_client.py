"""A WebSocket client built on the `websockets` library, driven by the Swift tests.

Usage: ws_client.py URL MODE [ARG]. Prints one JSON object on stdout; exits 0 unless something unexpected
broke (the JSON then says what).
Modes:
  bulk N         send N pseudo-random bytes in 100 000-byte messages while reading the echo; ping; close
  fragments N K  send one message of N bytes in K fragments; read the echo back; close
  send N         send one message of N bytes, then wait for the server to close (reports the close code)
  receive        read until the server closes (reports the bytes, their sha256 and the close code)
"""

import asyncio
import hashlib
import json
import random
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def payload(n):
    return random.Random(7).randbytes(n)


async def main():
    url, mode, args = sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]]
    result = {}
    async with connect(url, subprotocols=["binary"], max_size=None, ping_interval=None, open_timeout=10, close_timeout=10) as ws:
        result["subprotocol"] = ws.subprotocol
        try:
            if mode == "bulk":
                data = payload(args[0])

                async def sender():
                    for i in range(0, len(data), 100_000):
                        await ws.send(data[i:i + 100_000])

                task = asyncio.create_task(sender())
                got = bytearray()
                while len(got) < len(data):
                    got += await asyncio.wait_for(ws.recv(), 30)
                await task
                result["exact"] = bytes(got) == data
                result["bytes"] = len(got)
                latency = await asyncio.wait_for(await ws.ping(b"purr-test"), 10)
                result["pong"] = latency >= 0
            elif mode == "fragments":
                data = payload(args[0])
                size = len(data) // args[1]
                await ws.send([data[i:i + size] for i in range(0, len(data), size)])
                got = bytearray()
                while len(got) < len(data):
                    got += await asyncio.wait_for(ws.recv(), 30)
                result["exact"] = bytes(got) == data
            elif mode == "send":
                await ws.send(payload(args[0]))
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
            elif mode == "receive":
                got = bytearray()
                while True:
                    got += await asyncio.wait_for(ws.recv(), 30)
        except ConnectionClosed:
            if mode == "receive":
                result["bytes"] = len(got)
                result["sha256"] = hashlib.sha256(got).hexdigest()
    result["close_code"] = ws.close_code
    result["close_reason"] = ws.close_reason
    # Who sent the close frame first: ours is "sent" before "received" when we started it.
    result["closed_by_server"] = ws.protocol.close_rcvd_then_sent
    print(json.dumps(result))


asyncio.run(main())
