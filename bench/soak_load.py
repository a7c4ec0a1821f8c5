#!/usr/bin/python3
"""The load of bench/soak.sh: every route of genkit-endpoints, REST and gRPC,
at a moderate, bounded rate for a given time, each reply checked and
counted as ok, expected (an error this load asked for) or unexplained.

    /usr/bin/python3 bench/soak_load.py --port P --grpc-port G --fake-url URL
        --seconds S [--rate 25] [--concurrency 8] [--inject-every 15] --out summary.json

The mix, drawn at random by weight: GET /health /healthz /ready /readyz
/metrics; POST /tell-joke, /translate (a few fixed texts: cache hits; a new
text: a miss), /describe-image (the fake's PNG), /generate-character (hits
and misses), /chat, /generate-code, /review-code; the SSE routes
/tell-joke/stream and /tell-story/stream; Genkit's flow server (POST
/tell_joke, /flows/translate_text, /tell_story?stream=true); requests the
server must refuse (404, 405, 400 for a field too long and for malformed
JSON); h2c through curl --http2-prior-knowledge; and over one gRPC channel
every RPC of GenkitService (TellStory streamed) and grpc.health.v1 Check.

Upstream errors: every --inject-every seconds the load pauses (in-flight
calls end first), queues one error in fake_llm's script (HTTP 503, 500, or
a reply that is not JSON), sends the one request that takes it (a fresh
/chat, a /tell-story/stream, or a gRPC PirateChat/TellJoke), expects the
server's mapped error (503, 502, an SSE error event, UNAVAILABLE/INTERNAL),
clears the script and resumes: those errors are "expected", and since a
success follows each, the circuit breaker never opens.

Only Debian's python3-grpcio and python3-protobuf: the stubs are generated
at start-up with protoc and /usr/bin/grpc_python_plugin into a temporary
directory. Prints a progress line a minute to stderr and writes the counts
(and the first example of each unexplained outcome) as JSON to --out.
"""

import argparse
import collections
import http.client
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "protos", "genkit_sample.proto")
HEALTH_PROTO_ROOT = "/usr/share/grpc-proto"
PLUGIN = "/usr/bin/grpc_python_plugin"
TIMEOUT_S = 15.0
FIXED_TEXTS = [f"soak text {i}" for i in range(8)]  # cache hits (after their first miss, and each CACHE_TTL)
FIXED_NAMES = [f"Soak{i}" for i in range(8)]

OK, EXPECTED, UNEXPLAINED = "ok", "expected", "unexplained"


def generate_stubs(out_dir):
    """genkit_sample_pb2(_grpc) and health_pb2(_grpc), importable from out_dir. (health.proto is
    compiled from a top-level copy: as grpc/health/v1/ its modules would be looked for inside the
    grpc package itself. Its proto package, and so the service's name on the wire, are unchanged.)"""
    shutil.copy(os.path.join(HEALTH_PROTO_ROOT, "grpc/health/v1/health.proto"), out_dir)
    for proto in (os.path.abspath(PROTO), os.path.join(out_dir, "health.proto")):
        subprocess.run(["protoc", f"-I{os.path.dirname(proto)}", f"--python_out={out_dir}",
                        f"--grpc_python_out={out_dir}", f"--plugin=protoc-gen-grpc_python={PLUGIN}", proto],
                       check=True)
    sys.path.insert(0, out_dir)


class Tally:
    """Outcomes by kind, thread-safe; the first detail of each unexplained one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = collections.defaultdict(collections.Counter)
        self.expected = collections.Counter()
        self.unexplained = collections.Counter()
        self.examples = {}

    def add(self, kind, verdict, what="", detail=""):
        with self.lock:
            self.by_kind[kind][verdict] += 1
            if verdict == EXPECTED:
                self.expected[f"{kind}: {what}"] += 1
            elif verdict == UNEXPLAINED:
                key = f"{kind}: {what}"
                self.unexplained[key] += 1
                self.examples.setdefault(key, str(detail)[:300])

    def totals(self):
        with self.lock:
            t = collections.Counter()
            for counts in self.by_kind.values():
                t.update(counts)
            return t


class Gate:
    """Shared for the load's calls, exclusive for an injection (which waits for them to end)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.active = 0
        self.exclusive = False

    def enter(self):
        with self.cond:
            self.cond.wait_for(lambda: not self.exclusive)
            self.active += 1

    def leave(self):
        with self.cond:
            self.active -= 1
            self.cond.notify_all()

    def pause(self):
        with self.cond:
            self.exclusive = True
            self.cond.wait_for(lambda: self.active == 0)

    def resume(self):
        with self.cond:
            self.exclusive = False
            self.cond.notify_all()


# ---------------------------------------------------------------- REST


def http_call(port, method, path, body=None, headers=None):
    """(status, content type, body bytes); a transport failure raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def json_outcome(status, data, want_status=200, want_key=None):
    """ok / expected / unexplained for a JSON reply."""
    try:
        doc = json.loads(data)
    except ValueError:
        return UNEXPLAINED, f"{status} not JSON", data[:200]
    if status != want_status:
        return UNEXPLAINED, f"status {status}", data[:200]
    if want_status >= 400:
        ok = isinstance(doc, dict) and isinstance(doc.get("error"), str)
        return (EXPECTED, f"{status}", "") if ok else (UNEXPLAINED, f"{status} without an error", data[:200])
    if want_key and (not isinstance(doc, dict) or want_key not in doc):
        return UNEXPLAINED, f"no {want_key}", data[:200]
    return OK, "", ""


def sse_events(data):
    """The data of each event of an SSE body, parsed."""
    events = []
    for block in data.decode().split("\n\n"):
        lines = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if lines:
            events.append(json.loads("\n".join(lines)))
    return events


def sse_outcome(status, ctype, data, final_key, want_error=False):
    """A stream must end with its done event: the full text, or (want_error) an error."""
    if status != 200 or not ctype.startswith("text/event-stream"):
        return UNEXPLAINED, f"status {status} {ctype}", data[:200]
    try:
        events = sse_events(data)
    except ValueError:
        return UNEXPLAINED, "an event not JSON", data[-200:]
    last = events[-1] if events else {}
    if want_error:
        ok = last.get("done") is True and isinstance(last.get("error"), str)
        return (EXPECTED, "SSE error event", "") if ok else (UNEXPLAINED, "no error event", data[-200:])
    if last.get("done") is True and isinstance(last.get(final_key), str) and "error" not in last:
        return OK, "", ""
    return UNEXPLAINED, "no final event", data[-200:]


def flow_stream_outcome(status, data):
    """Genkit's flow server streaming: message blocks, then a result block."""
    if status != 200:
        return UNEXPLAINED, f"status {status}", data[:200]
    try:
        events = sse_events(data)
    except ValueError:
        return UNEXPLAINED, "an event not JSON", data[-200:]
    ok = events and "result" in events[-1] and all("message" in e for e in events[:-1])
    return (OK, "", "") if ok else (UNEXPLAINED, "no result block", data[-200:])


class Rest:
    def __init__(self, port, fake_url):
        self.port = port
        self.fake_url = fake_url
        self.serial = itertools.count()

    def unique(self, prefix):
        return f"{prefix} {os.getpid()}-{next(self.serial)}"

    def get(self, path, want_key=None, want_status=200):
        status, _, data = http_call(self.port, "GET", path)
        if path == "/metrics":
            ok = status == 200 and b"genkit_endpoints_http_requests_total" in data
            return (OK, "", "") if ok else (UNEXPLAINED, f"status {status}", data[:200])
        return json_outcome(status, data, want_status, want_key)

    def post(self, path, body, want_key=None, want_status=200):
        status, _, data = http_call(self.port, "POST", path, json.dumps(body) if not isinstance(body, str) else body)
        return json_outcome(status, data, want_status, want_key)

    def stream(self, path, body, final_key, want_error=False):
        status, ctype, data = http_call(self.port, "POST", path, json.dumps(body))
        return sse_outcome(status, ctype, data, final_key, want_error)

    def kinds(self):
        r = random.choice
        return {
            "GET /health": (6, lambda: self.get("/health", "status")),
            "GET /healthz": (1, lambda: self.get("/healthz", "status")),
            "GET /ready": (2, lambda: self.get("/ready", "checks")),
            "GET /readyz": (1, lambda: self.get("/readyz", "checks")),
            "GET /metrics": (1, lambda: self.get("/metrics")),
            "POST /tell-joke": (6, lambda: self.post("/tell-joke", {"name": r(FIXED_NAMES)}, "joke")),
            "POST /translate hit": (6, lambda: self.post("/translate", {"text": r(FIXED_TEXTS)}, "translated_text")),
            "POST /translate miss": (3, lambda: self.post("/translate", {"text": self.unique("soak")},
                                                          "translated_text")),
            "POST /describe-image": (2, lambda: self.post("/describe-image",
                                                          {"image_url": self.fake_url + "/media/cat.png"},
                                                          "description")),
            "POST /generate-character": (3, lambda: self.post("/generate-character", {
                "name": r(FIXED_NAMES) if random.random() < 0.7 else self.unique("Hero")}, "backStory")),
            "POST /chat": (3, lambda: self.post("/chat", {"question": self.unique("why")}, "answer")),
            "POST /generate-code": (2, lambda: self.post("/generate-code", {"description": r(FIXED_TEXTS)},
                                                         "code")),
            "POST /review-code": (2, lambda: self.post("/review-code", {"code": "x = 1"})),
            "POST /tell-joke/stream": (3, lambda: self.stream("/tell-joke/stream", {"name": r(FIXED_NAMES)}, "joke")),
            "POST /tell-story/stream": (3, lambda: self.stream("/tell-story/stream", {"topic": "a soak"}, "story")),
            "POST /tell_joke (flow server)": (2, lambda: self.post("/tell_joke", {"data": {"name": "flow"}},
                                                                   "result")),
            "POST /flows/translate_text": (1, lambda: self.post("/flows/translate_text",
                                                                {"data": {"text": r(FIXED_TEXTS)}}, "result")),
            "POST /tell_story?stream=true": (1, self.flow_stream),
            "GET /nope (404)": (1, lambda: self.get("/nope", want_status=404)),
            "GET /tell-joke (405)": (1, lambda: self.get("/tell-joke", want_status=405)),
            "POST /tell-joke too long (400)": (1, lambda: self.post("/tell-joke", {"name": "x" * 201},
                                                                    want_status=400)),
            "POST /translate malformed (400)": (1, lambda: self.post("/translate", "{bad", want_status=400)),
        }

    def flow_stream(self):
        status, _, data = http_call(self.port, "POST", "/tell_story?stream=true", json.dumps({"data": {"topic": "x"}}))
        return flow_stream_outcome(status, data)


def h2c_kinds(port):
    """h2c (prior knowledge) through curl, when it is there."""
    if not shutil.which("curl"):
        return {}

    def curl(*args):
        p = subprocess.run(["curl", "-s", "-m", str(int(TIMEOUT_S)), "--http2-prior-knowledge", "-o", "-",
                            "-w", "\n%{http_code} %{http_version}", *args], capture_output=True, timeout=TIMEOUT_S + 5)
        body, _, tail = p.stdout.decode(errors="replace").rpartition("\n")
        if p.returncode != 0 or tail != "200 2":
            return UNEXPLAINED, f"curl exit {p.returncode}, {tail}", p.stderr.decode()[:200]
        return json_outcome(200, body.encode(), 200)

    url = f"http://127.0.0.1:{port}"
    return {
        "h2c GET /health": (1, lambda: curl(url + "/health")),
        "h2c POST /tell-joke": (1, lambda: curl("-X", "POST", "-H", "Content-Type: application/json",
                                                "-d", '{"name":"h2"}', url + "/tell-joke")),
    }


# ---------------------------------------------------------------- gRPC


class Grpc:
    def __init__(self, port):
        import grpc
        import genkit_sample_pb2 as pb
        import genkit_sample_pb2_grpc as pb_grpc
        import health_pb2
        import health_pb2_grpc
        self.grpc, self.pb, self.health_pb2 = grpc, pb, health_pb2
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb_grpc.GenkitServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def close(self):
        self.channel.close()

    def unary(self, method, request, check, want_codes=()):
        try:
            reply = getattr(self.stub, method)(request, timeout=TIMEOUT_S)
        except self.grpc.RpcError as e:
            code = e.code().name
            if code in want_codes:
                return EXPECTED, code, ""
            return UNEXPLAINED, code, e.details()
        if want_codes:
            return UNEXPLAINED, "OK instead of an error", str(reply)[:200]
        return (OK, "", "") if check(reply) else (UNEXPLAINED, "empty reply", str(reply)[:200])

    def story(self):
        try:
            chunks = [c.text for c in self.stub.TellStory(self.pb.StoryRequest(topic="a soak"), timeout=TIMEOUT_S)]
        except self.grpc.RpcError as e:
            return UNEXPLAINED, e.code().name, e.details()
        return (OK, "", "") if chunks and "".join(chunks) else (UNEXPLAINED, "no chunks", "")

    def health_check(self):
        try:
            r = self.health.Check(self.health_pb2.HealthCheckRequest(service="genkit.sample.v1.GenkitService"),
                                  timeout=TIMEOUT_S)
        except self.grpc.RpcError as e:
            return UNEXPLAINED, e.code().name, e.details()
        serving = r.status == self.health_pb2.HealthCheckResponse.SERVING
        return (OK, "", "") if serving else (UNEXPLAINED, "not SERVING", str(r))

    def kinds(self, fake_url, unique):
        pb, r = self.pb, random.choice
        return {
            "grpc Health": (2, lambda: self.unary("Health", pb.HealthRequest(), lambda x: x.status == "ok")),
            "grpc health.v1 Check": (1, self.health_check),
            "grpc TellJoke": (5, lambda: self.unary("TellJoke", pb.JokeRequest(name=r(FIXED_NAMES)),
                                                    lambda x: x.joke)),
            "grpc TranslateText hit": (4, lambda: self.unary("TranslateText", pb.TranslateRequest(text=r(FIXED_TEXTS)),
                                                             lambda x: x.translated_text)),
            "grpc TranslateText miss": (2, lambda: self.unary("TranslateText",
                                                              pb.TranslateRequest(text=unique("grpc soak")),
                                                              lambda x: x.translated_text)),
            "grpc DescribeImage": (1, lambda: self.unary("DescribeImage",
                                                         pb.ImageRequest(image_url=fake_url + "/media/cat.png"),
                                                         lambda x: x.description)),
            "grpc GenerateCharacter": (2, lambda: self.unary("GenerateCharacter",
                                                             pb.CharacterRequest(name=r(FIXED_NAMES)),
                                                             lambda x: x.back_story)),
            "grpc PirateChat": (2, lambda: self.unary("PirateChat", pb.ChatRequest(question=unique("why")),
                                                      lambda x: x.answer)),
            "grpc TellStory": (3, self.story),
            "grpc GenerateCode": (1, lambda: self.unary("GenerateCode", pb.CodeRequest(description=r(FIXED_TEXTS)),
                                                        lambda x: x.code)),
            "grpc ReviewCode": (1, lambda: self.unary("ReviewCode", pb.CodeReviewRequest(code="x = 1"),
                                                      lambda x: x.review)),
        }


# ---------------------------------------------------------------- upstream errors


def script_fake(fake_url, behaviour):
    """POST (a JSON behaviour) or DELETE (None) fake_llm's /_script."""
    host, port = fake_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        if behaviour is None:
            conn.request("DELETE", "/_script")
        else:
            conn.request("POST", "/_script", body=json.dumps(behaviour), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"fake_llm /_script answered {r.status}")
    finally:
        conn.close()


def injections(rest, grpc_client):
    """(name, behaviour, the request that takes it and checks the mapped error), in turn."""
    pb = grpc_client.pb
    return [
        ("upstream 503 -> POST /chat 503", {"status": 503},
         lambda: rest.post("/chat", {"question": rest.unique("err")}, want_status=503)),
        ("upstream 500 -> POST /chat 502", {"status": 500},
         lambda: rest.post("/chat", {"question": rest.unique("err")}, want_status=502)),
        ("upstream not JSON -> POST /chat 502", {"garbage": True},
         lambda: rest.post("/chat", {"question": rest.unique("err")}, want_status=502)),
        ("upstream 500 -> /tell-story/stream error event", {"status": 500},
         lambda: rest.stream("/tell-story/stream", {"topic": rest.unique("err")}, "story", want_error=True)),
        ("upstream 503 -> grpc PirateChat", {"status": 503},
         lambda: grpc_client.unary("PirateChat", pb.ChatRequest(question=rest.unique("err")), None,
                                   want_codes=("UNAVAILABLE",))),
        ("upstream 500 -> grpc TellJoke", {"status": 500},
         lambda: grpc_client.unary("TellJoke", pb.JokeRequest(name=rest.unique("Err")), None,
                                   want_codes=("INTERNAL", "UNAVAILABLE"))),
    ]


def inject(gate, tally, fake_url, case):
    name, behaviour, probe = case
    gate.pause()
    try:
        script_fake(fake_url, behaviour)
        run_one(tally, name, probe)
    finally:
        try:
            script_fake(fake_url, None)  # (whatever the probe did not take must not fail the load)
        finally:
            gate.resume()


# ---------------------------------------------------------------- the run


def run_one(tally, kind, fn):
    try:
        verdict, what, detail = fn()
    except Exception as e:  # a transport failure, a timeout
        verdict, what, detail = UNEXPLAINED, type(e).__name__, str(e)
    tally.add(kind, verdict, what, detail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--fake-url", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--rate", type=float, default=25.0, help="calls started per second")
    ap.add_argument("--concurrency", type=int, default=8, help="calls in flight at most")
    ap.add_argument("--inject-every", type=float, default=15.0, help="seconds between injected upstream errors")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    stubs = tempfile.mkdtemp(prefix="genkit-soak-stubs.")
    try:
        generate_stubs(stubs)
        run(args)
    finally:
        shutil.rmtree(stubs, ignore_errors=True)


def run(args):
    rest = Rest(args.port, args.fake_url)
    grpc_client = Grpc(args.grpc_port)
    kinds = {**rest.kinds(), **h2c_kinds(args.port), **grpc_client.kinds(args.fake_url, rest.unique)}
    names = list(kinds)
    weights = [kinds[n][0] for n in names]
    cases = itertools.cycle(injections(rest, grpc_client))
    tally, gate = Tally(), Gate()
    slots = threading.BoundedSemaphore(args.concurrency)
    threads = []

    def call(kind):
        try:
            run_one(tally, kind, kinds[kind][1])
        finally:
            gate.leave()
            slots.release()

    start = time.monotonic()
    end = start + args.seconds
    next_call, next_inject, next_progress = start, start + args.inject_every, start + 60
    started = injected = 0
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_inject:
            inject(gate, tally, args.fake_url, next(cases))
            injected += 1
            next_inject += args.inject_every
        if now >= next_progress:
            t = tally.totals()
            print(f"[soak_load] {now - start:5.0f} s: {started} calls, {t[OK]} ok, {t[EXPECTED]} expected, "
                  f"{t[UNEXPLAINED]} unexplained", file=sys.stderr, flush=True)
            next_progress += 60
        slots.acquire()  # bounded: at most --concurrency in flight
        gate.enter()
        kind = random.choices(names, weights)[0]
        th = threading.Thread(target=call, args=(kind,), daemon=True)
        th.start()
        threads.append(th)
        threads = [x for x in threads if x.is_alive()]
        started += 1
        next_call += 1.0 / args.rate
        time.sleep(max(0.0, next_call - time.monotonic()))
    for th in threads:
        th.join(TIMEOUT_S + 5)
    grpc_client.close()
    elapsed = time.monotonic() - start
    t = tally.totals()
    summary = {
        "seconds": round(elapsed, 1), "calls": sum(t.values()), "rate": round(sum(t.values()) / elapsed, 1),
        "ok": t[OK], "expected": t[EXPECTED], "unexplained": t[UNEXPLAINED], "injected": injected,
        "kinds": len(kinds), "by_kind": {k: dict(v) for k, v in sorted(tally.by_kind.items())},
        "expected_by_kind": dict(tally.expected), "unexplained_by_kind": dict(tally.unexplained),
        "unexplained_examples": tally.examples,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
