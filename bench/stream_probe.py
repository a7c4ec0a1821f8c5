#!/usr/bin/python3
"""Opens N concurrent SSE streams (HTTP/1.1 POST) and reports, per stream,
when each event arrived (ms after the request was sent) and, for events whose
text carries fake_llm's `[sent <µs>us]` stamp (--stamp-chunks), how long each
took from the upstream's write to this client (ms, CLOCK_MONOTONIC on both
sides). Prints one JSON document. Standard library only."""
import asyncio
import json
import re
import sys
import time

STAMP = re.compile(rb"\[sent (\d+)us\]")


async def one_stream(host, port, path, body, headers):
    reader, writer = await asyncio.open_connection(host, port)
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Connection: close"] + headers
    start = time.perf_counter()
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    arrivals, transit, buffered = [], [], b""
    while True:
        data = await reader.read(65536)
        if not data:
            break
        now_us = time.monotonic_ns() // 1000
        now = (time.perf_counter() - start) * 1000
        buffered += data
        # Count complete SSE events ("data:" lines) as they arrive.
        while b"data:" in buffered and b"\n" in buffered[buffered.index(b"data:"):]:
            i = buffered.index(b"data:")
            j = buffered.index(b"\n", i)
            arrivals.append(now)
            m = STAMP.search(buffered, i, j)
            if m:
                transit.append((now_us - int(m.group(1))) / 1000)
            buffered = buffered[j + 1:]
    writer.close()
    return {"arrivals": arrivals, "transit": transit}


async def main():
    host, port, path, body, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode(), int(sys.argv[5])
    headers = sys.argv[6:]
    results = await asyncio.wait_for(
        asyncio.gather(*(one_stream(host, port, path, body, headers) for _ in range(n))), timeout=60)
    print(json.dumps({"streams": results}))


asyncio.run(main())
