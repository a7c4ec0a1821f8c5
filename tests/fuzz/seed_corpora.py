#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/ from the tests' own shapes.

Requests are those the integration tests send (every route, chunked and
pipelined bodies, an h2c upgrade, HTTP/2 frames); model replies are what
the tests' fake upstream (tests/fakes, fake_llm) really answers, captured
off the wire; the rest (.prompt files, .env files, protobuf requests, Redis
replies of each script) come from the repository and the tests' fixtures.

  tests/fuzz/seed_corpora.py <build>/tests/fake_llm

Run it again when a wire format or a route changes; the corpus files are
named by content, so reruns add rather than rename.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


# --- bodies the integration tests send to the flows --------------------------
BODIES = {
    "/tell-joke": [{}, {"name": "Whiskers"}, {"name": "Rex", "username": "alice"}, {"name": ""}],
    "/translate": [{"text": "Hello, world", "target_language": "Spanish"}, {"text": "Hi"}, {"text": 5}],
    "/describe-image": [{"image_url": "https://example.com/cat.png"}, {"image_url": "not a url"}],
    "/generate-character": [{"name": "Luna"}, {}, {"name": "x" * 60}],
    "/chat": [{"question": "Where is the treasure?"}, {"question": ""}],
    "/tell-story": [{"topic": "a brave cat"}, {}],
    "/generate-code": [{"description": "reverse a list", "language": "python"}, {"description": "sort", "language": "rust"}],
    "/review-code": [{"code": "def f(x): return x+1", "language": "python"}, {"code": ""}],
}


def http1_requests():
    reqs = []
    for path in ("/health", "/ready", "/metrics", "/", "/openapi.json", "/nope"):
        reqs.append(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    for path, bodies in BODIES.items():
        for b in bodies:
            body = json.dumps(b)
            reqs.append(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n{body}")
    body = json.dumps({"data": {"name": "Mittens"}})
    reqs.append(f"POST /tell_joke HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}")
    reqs.append(f"POST /tell_story?stream=true HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}")
    reqs.append("POST /tell-story/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n7\r\n{\"topic\r\n9\r\n\":\"dogs\"}\r\n0\r\n\r\n")
    reqs.append("GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    reqs.append("GET /health HTTP/1.0\r\n\r\n")
    reqs.append("OPTIONS /tell-joke HTTP/1.1\r\nHost: a\r\nOrigin: http://example.com\r\n"
                "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n")
    reqs.append("POST /tell-joke HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")
    reqs.append("GET /health HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
    reqs.append("POST /tell-joke HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nX-Request-Id: abc-123\r\n"
                "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
    return reqs


# --- HTTP/2 frames (what fuzz_http2 gets after the preface) ------------------
def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def hpack_literal(name, value):
    # Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2).
    n, v = name.encode(), value.encode()
    assert len(n) < 127 and len(v) < 127
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def h2_request(stream, method, path, body=None):
    block = b"".join(hpack_literal(k, v) for k, v in
                     ((":method", method), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1")))
    if body is None:
        return frame(1, 0x5, stream, block)  # HEADERS, END_HEADERS | END_STREAM
    block += hpack_literal("content-type", "application/json")
    return frame(1, 0x4, stream, block) + frame(0, 0x1, stream, body.encode())


def http2_inputs():
    settings = frame(4, 0, 0, (3).to_bytes(2, "big") + (100).to_bytes(4, "big"))
    ack = frame(4, 1, 0)
    out = [settings + ack + h2_request(1, "GET", "/health")]
    out.append(settings + h2_request(1, "POST", "/tell-joke", "{\"name\":\"Rex\"}") + h2_request(3, "GET", "/metrics"))
    out.append(settings + h2_request(1, "POST", "/tell-story/stream", "{}") + frame(3, 0, 1, (8).to_bytes(4, "big")))
    out.append(settings + frame(6, 0, 0, b"12345678") + frame(8, 0, 0, (65535).to_bytes(4, "big")) +
               h2_request(1, "GET", "/ready") + frame(7, 0, 0, (1).to_bytes(4, "big") + bytes(4)))
    return out


# --- the fake upstream's real replies ----------------------------------------
def raw_exchange(port, method, path, body, headers=()):
    s = socket.create_connection(("127.0.0.1", port))
    data = body.encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    s.sendall(head.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    return reply


def dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def upstream_replies(fake):
    proc = subprocess.Popen([fake, "--port", "0"], stdout=subprocess.PIPE)
    port = json.loads(proc.stdout.readline())["port"]
    try:
        user = {"role": "user", "parts": [{"text": "Tell me a joke."}]}
        schema = {"type": "object", "properties": {"joke": {"type": "string"}}, "required": ["joke"]}
        gemini = {
            "plain": {"contents": [user]},
            "json": {"contents": [user], "generationConfig": {"responseMimeType": "application/json",
                                                             "responseSchema": schema}},
            "tool": {"contents": [user], "tools": [{"functionDeclarations": [{"name": "get_current_time"}]}]},
        }
        key = (("x-goog-api-key", "k"),)
        out = {"gemini_reply": [], "openai_reply": [], "upstream_http1": [], "sse": []}
        for mode, body in gemini.items():
            flags = 2 if mode == "json" else 0
            out["gemini_reply"].append(bytes([flags]) + raw_exchange(
                port, "POST", "/v1beta/models/gemini-2.5-flash:generateContent", json.dumps(body), key))
            out["gemini_reply"].append(bytes([flags | 1]) + raw_exchange(
                port, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", json.dumps(body), key))
        out["gemini_reply"].append(b"\0" + raw_exchange(port, "POST", "/v1beta/models/x:generateContent", "{}"))
        msgs = [{"role": "user", "content": "Tell me a joke."}]
        openai = {
            "plain": {"model": "m", "messages": msgs},
            "json": {"model": "m", "messages": msgs, "response_format": {
                "type": "json_schema", "json_schema": {"name": "out", "schema": schema}}},
            "tool": {"model": "m", "messages": msgs, "tools": [
                {"type": "function", "function": {"name": "get_current_time", "parameters": {"type": "object"}}}]},
        }
        for mode, body in openai.items():
            flags = 2 if mode == "json" else 0
            out["openai_reply"].append(bytes([flags]) + raw_exchange(port, "POST", "/v1/chat/completions", json.dumps(body)))
            streamed = dict(body, stream=True, stream_options={"include_usage": True})
            reply = raw_exchange(port, "POST", "/v1/chat/completions", json.dumps(streamed))
            out["openai_reply"].append(bytes([flags | 1]) + reply)
        for target in ("gemini_reply", "openai_reply"):
            for seed in out[target]:
                out["upstream_http1"].append(bytes([seed[0] & 1]) + seed[1:])
                head, _, body = seed[1:].partition(b"\r\n\r\n")
                if b"data:" in body:
                    out["sse"].append(b"\x07" + (dechunk(body) if b"chunked" in head else body))
        return out
    finally:
        proc.terminate()
        proc.wait()


# --- protobuf requests (fuzz_grpc_request: first byte picks the RPC) ---------
def pb_string(field, text):
    data = text.encode()
    return bytes([(field << 3) | 2, len(data)]) + data


def grpc_requests():
    return [
        b"\0" + pb_string(1, "Whiskers") + pb_string(2, "alice"), b"\0",
        b"\1" + pb_string(1, "Hello, world") + pb_string(2, "Spanish"),
        b"\2" + pb_string(1, "https://example.com/cat.png"),
        b"\3" + pb_string(1, "Luna"), b"\4" + pb_string(1, "Where is the treasure?"),
        b"\5" + pb_string(1, "a brave cat"), b"\6" + pb_string(1, "reverse a list") + pb_string(2, "python"),
        b"\7" + pb_string(1, "def f(x): return x+1") + pb_string(2, "python"),
    ]


# --- Redis replies of each script and command --------------------------------
REDIS = [
    b"*4\r\n:1\r\n:0\r\n:0\r\n:0\r\n", b"*4\r\n:0\r\n:0\r\n:12\r\n:1\r\n", b"*4\r\n:1\r\n:1\r\n:0\r\n:2\r\n",
    b":0\r\n", b":1\r\n", b"$1\r\n1\r\n", b"$-1\r\n", b"*2\r\n:59\r\n:-1500\r\n", b"*1\r\n:2\r\n", b"*1\r\n:3\r\n",
    b"*2\r\n:1\r\n$14\r\n{\"joke\":\"ha\"}\r\n", b"$40\r\n" + b"a" * 40 + b"\r\n", b"+PONG\r\n+OK\r\n",
    b"-NOSCRIPT No matching script.\r\n", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
]


# Picoschema, partial-free Handlebars helpers, roles and media: the shapes
# tests/unit/dotprompt_test.cc and picoschema_test.cc exercise.
PROMPT = """---
model: googleai/gemini-2.5-flash
config:
  temperature: 0.4
input:
  schema:
    name: string, the name
    items(array, things): string
    formal?: boolean
    level?(enum): [LOW, HIGH]
    meta?(object):
      id: integer
  default:
    name: Mittens
output:
  format: json
  schema:
    joke: string
---
{{role "system"}}You are {{#if formal}}formal{{else}}funny{{/if}}.
{{role "user"}}Tell a joke about {{name}}.{{#each items}} {{@index}}:{{this}}{{/each}}
{{#unless formal}}{{media url="https://example.com/a.png"}}{{/unless}} {{json meta}}
"""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for r in http1_requests():
        put("http1", r)
    for r in http2_inputs():
        put("http2", r)
    for path, bodies in BODIES.items():
        for b in bodies:
            put("json", json.dumps(b))
            put("flow_input", json.dumps(b))
            put("flow_input", json.dumps({"data": b}))
    for name, texts in upstream_replies(sys.argv[1]).items():
        for t in texts:
            put(name, t)
    for reply in REDIS:
        put("redis_reply", reply)
    for seed in grpc_requests():
        put("grpc_request", seed)
    prompts = os.path.join(ROOT, "prompts")
    for name in sorted(os.listdir(prompts)):
        if name.endswith(".prompt"):
            with open(os.path.join(prompts, name), "rb") as f:
                text = f.read()
            put("dotprompt", text)
            put("dotprompt", text + b"\0" + json.dumps({"code": "x = 1", "language": "python"}).encode())
    put("dotprompt", PROMPT)
    put("dotprompt", PROMPT + "\0" + json.dumps({"name": "Rex", "items": ["a", "b"], "formal": True}))
    for env in ("PORT=8080\nWEB_CONCURRENCY=2\n", "# comment\nexport GEMINI_API_KEY=\"abc\"\nDEBUG=true\n",
                "RATE_LIMIT_DEFAULT=60/minute\nCACHE_TTL=300\nSTATE_BACKEND=redis\nREDIS_URL=redis://:p@127.0.0.1:6379/2\n",
                "TRUSTED_HOSTS='example.com,*.example.org'\nCORS_ALLOWED_ORIGINS=*\n"):
        put("config", env)
        put("config", env + "\0--port\0" + "9000\0--workers\0" + "3\0--no-grpc")
    schema = {"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "pattern": "^[A-Z]"},
                                               "skills": {"type": "array", "items": {"$ref": "#/definitions/n"}}},
              "required": ["name"], "definitions": {"n": {"type": "integer", "minimum": 0, "maximum": 100}},
              "additionalProperties": False}
    for instance in ({"name": "Luna", "skills": [1, 2]}, {"name": "luna"}, {"skills": [101]}, []):
        put("json_schema", json.dumps(schema) + "\0" + json.dumps(instance))
    put("json_schema", json.dumps({"anyOf": [{"const": 1}, {"enum": ["a", None]}], "not": {"type": "null"}}) + "\0\"a\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
