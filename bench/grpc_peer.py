#!/usr/bin/python3
"""The comparison peer of bench/grpc.sh: a Python grpc.aio server of the seed's
shape (its grpc_server.py: a GenkitServiceServicer whose RPCs validate their
input and await a flow, served by grpc.aio.server()), serving
protos/genkit_sample.proto on 127.0.0.1 with the mock/echo model's replies.

Only Debian's python3-grpcio and python3-protobuf: the stubs are generated at
start-up with protoc and /usr/bin/grpc_python_plugin into a temporary
directory (removed on exit). Validation is plain Python with the limits of
the seed's pydantic models (no pydantic on the machine); the "flow" is an
async function calling an async mock model, as the seed's servicer awaits
its Genkit flow.

    /usr/bin/python3 bench/grpc_peer.py [--port 0] [--proto PATH]
        [--chunk-delay-ms 0] [--stamp-chunks] [--interceptors]

Prints one line {"port": N} on stdout once listening; SIGTERM/SIGINT stop it.
--interceptors adds the seed's logging and rate-limit interceptors (off by
default: the bench compares against the leanest peer of that shape).
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.join(HERE, "..", "protos", "genkit_sample.proto")
PLUGIN = "/usr/bin/grpc_python_plugin"


def generate_stubs(proto, out_dir):
    proto = os.path.abspath(proto)
    subprocess.run(
        ["protoc", f"-I{os.path.dirname(proto)}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
         f"--plugin=protoc-gen-grpc_python={PLUGIN}", proto],
        check=True)
    sys.path.insert(0, out_dir)


class ValidationError(Exception):
    pass


def _text(value, field, default=None, min_len=0, max_len=None):
    """A pydantic-free str field: proto3's empty string means "not set"."""
    if value == "" and default is not None:
        value = default
    n = len(value)
    if n < min_len:
        raise ValidationError(f"{field}: String should have at least {min_len} character{'s' if min_len > 1 else ''}")
    if max_len is not None and n > max_len:
        raise ValidationError(f"{field}: String should have at most {max_len} characters")
    return value


class MockEcho:
    """mock/echo: echoes the prompt as "Echo: ...", streams it in up to six chunks."""

    def __init__(self, chunk_delay_ms, stamp):
        self.chunk_delay = chunk_delay_ms / 1000.0
        self.stamp = stamp

    async def generate(self, prompt):
        return "Echo: " + prompt

    async def generate_stream(self, prompt):
        text = "Echo: " + prompt
        words = text.split(" ")
        per = max(1, -(-len(words) // 6))
        for i in range(0, len(words), per):
            piece = " ".join(words[i:i + per]) + (" " if i + per < len(words) else "")
            if self.stamp:
                piece = f"[sent {time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}us] " + piece
            yield piece
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)


def build_servicer(pb2, pb2_grpc, model):
    import grpc

    # The seed's flows (flows.py), on the mock model.
    async def tell_joke(name, username):
        return await model.generate(f"Tell a medium-length joke about {name} for user {username or 'anonymous'}.")

    def tell_story(topic):
        return model.generate_stream(f"Write a short story (3-4 paragraphs) about {topic}.")

    class GenkitServiceServicer(pb2_grpc.GenkitServiceServicer):
        async def Health(self, request, context):
            return pb2.HealthResponse(status="ok")

        async def TellJoke(self, request, context):
            try:
                name = _text(request.name, "name", default="Mittens", max_len=200)
                username = _text(request.username, "username", max_len=200) or None
            except ValidationError as e:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            joke = await tell_joke(name, username)
            return pb2.JokeResponse(joke=joke, username=username or "")

        async def TellStory(self, request, context):
            try:
                topic = _text(request.topic, "topic", default="a brave cat", min_len=1, max_len=1000)
            except ValidationError as e:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            async for chunk in tell_story(topic):
                yield pb2.StoryChunk(text=chunk)

    return GenkitServiceServicer()


def build_interceptors():
    """The seed's GrpcLoggingInterceptor and GrpcRateLimitInterceptor, reduced."""
    import grpc

    class Logging(grpc.aio.ServerInterceptor):
        async def intercept_service(self, continuation, details):
            start = time.monotonic()
            handler = await continuation(details)
            sys.stderr.write(json.dumps({"event": "grpc_request", "method": details.method,
                                         "duration_ms": round((time.monotonic() - start) * 1e3, 3)}) + "\n")
            return handler

    class RateLimit(grpc.aio.ServerInterceptor):
        def __init__(self, rate=1e9, capacity=1e9):
            self.rate, self.capacity, self.tokens, self.at = rate, capacity, capacity, time.monotonic()

        async def intercept_service(self, continuation, details):
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
            return await continuation(details)

    return [Logging(), RateLimit()]


async def serve(args, pb2, pb2_grpc):
    import grpc

    server = grpc.aio.server(
        interceptors=build_interceptors() if args.interceptors else None,
        options=[("grpc.max_receive_message_length", 1024 * 1024)])
    pb2_grpc.add_GenkitServiceServicer_to_server(
        build_servicer(pb2, pb2_grpc, MockEcho(args.chunk_delay_ms, args.stamp_chunks)), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    if port == 0:
        raise SystemExit(f"grpc_peer: cannot listen on 127.0.0.1:{args.port}")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--proto", default=DEFAULT_PROTO)
    p.add_argument("--chunk-delay-ms", type=float, default=0)
    p.add_argument("--stamp-chunks", action="store_true")
    p.add_argument("--interceptors", action="store_true")
    args = p.parse_args()
    out_dir = tempfile.mkdtemp(prefix="grpc_peer.")
    try:
        generate_stubs(args.proto, out_dir)
        import genkit_sample_pb2 as pb2
        import genkit_sample_pb2_grpc as pb2_grpc
        asyncio.run(serve(args, pb2, pb2_grpc))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
