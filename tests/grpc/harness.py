"""Harness of the gRPC contract suite (tests/grpc): stubs, processes, clients.

- generate_stubs(): protoc + grpc_python_plugin into a temp dir, from
  protos/genkit_sample.proto and Debian's grpc-proto health/reflection files
  (copied flat first: python3-grpcio ships no grpc_health/grpc_reflection).
- ServerProcess: the real `genkit-endpoints` supervisor (which forks the HTTP
  workers and execs genkit-endpoints-grpcd) in its own process group, a fresh
  empty working directory and a clean environment; its JSON log lines are
  collected by a reader thread; every wait is bounded; kill() SIGKILLs the
  whole group.
- FakeLlm: tests/fakes' fake_llm (Gemini/OpenAI wire formats) with --record.
- rest_*: HTTP/1.1 twins of the RPCs, with urllib (no proxies).

Everything this module starts is registered in _LIVE_GROUPS and killed by
kill_everything(), which the runner calls at exit, on SIGTERM/SIGINT/SIGHUP
and from its watchdog.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# Set by run_python_tests.py before the tests are loaded.
CONFIG = {
    "binary": None,  # genkit-endpoints (the supervisor)
    "fake": None,  # fake_llm
    "source_dir": None,  # the repository root
    "stub_dir": None,  # where the generated *_pb2*.py live
}

READY_TIMEOUT_S = 30.0  # generous: the ASan build starts slower
RPC_TIMEOUT_S = 10.0  # default deadline of every RPC the suite makes
HTTP_TIMEOUT_S = 10.0

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "ERROR: UndefinedBehaviorSanitizer", "runtime error:")

_LIVE_GROUPS = set()  # pgids of everything started and not yet reaped
_LIVE_LOCK = threading.Lock()


def kill_everything():
    """SIGKILLs every process group this harness started (idempotent)."""
    with _LIVE_LOCK:
        groups = list(_LIVE_GROUPS)
        _LIVE_GROUPS.clear()
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --------------------------------------------------------------------------
# Stubs


def generate_stubs(source_dir, out_dir):
    """Writes genkit_sample_pb2(_grpc), health_pb2(_grpc), reflection_pb2(_grpc)
    into out_dir; raises RuntimeError with protoc's output on failure."""
    protos = {
        "genkit_sample.proto": os.path.join(source_dir, "protos", "genkit_sample.proto"),
        "health.proto": "/usr/share/grpc-proto/grpc/health/v1/health.proto",
        "reflection.proto": "/usr/share/grpc-proto/grpc/reflection/v1alpha/reflection.proto",
    }
    flat = os.path.join(out_dir, "proto_src")
    os.makedirs(flat, exist_ok=True)
    for name, path in protos.items():
        if not os.path.isfile(path):
            raise RuntimeError("missing proto file " + path)
        shutil.copyfile(path, os.path.join(flat, name))
    plugin = "/usr/bin/grpc_python_plugin"
    if not os.access(plugin, os.X_OK):
        raise RuntimeError(plugin + " is missing (Debian package protobuf-compiler-grpc)")
    cmd = ["protoc", "-I", flat, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
           "--plugin=protoc-gen-grpc_python=" + plugin] + [os.path.join(flat, n) for n in protos]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("protoc failed (%d): %s %s\n%s" % (r.returncode, " ".join(cmd), r.stdout, r.stderr))
    for mod in ("genkit_sample_pb2", "genkit_sample_pb2_grpc", "health_pb2", "health_pb2_grpc",
                "reflection_pb2", "reflection_pb2_grpc"):
        if not os.path.isfile(os.path.join(out_dir, mod + ".py")):
            raise RuntimeError("protoc did not write %s.py" % mod)


# --------------------------------------------------------------------------
# Processes


def base_env():
    """The environment every server starts from: PATH, loopback, JSON logs,
    a rate limit the suite never reaches, the sanitizers' options; no keys."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "BIND_HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
    }
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "ASAN_SYMBOLIZER_PATH"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class _LineReader:
    """Collects a pipe's lines on a daemon thread; waits are bounded."""

    def __init__(self, stream):
        self.lines = []
        self.closed = False
        self.cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()
            try:
                stream.close()
            except OSError:
                pass

    def snapshot(self):
        with self.cond:
            return list(self.lines)

    def wait_for(self, predicate, timeout):
        """Waits until predicate(lines) is truthy; returns its value or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self.lines)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return predicate(self.lines) or None
                self.cond.wait(min(left, 0.2))

    def join(self, timeout):
        self._thread.join(timeout)


def parse_json_line(line):
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


class ServerProcess:
    """The real genkit-endpoints binary: start() waits for grpc_listening,
    listening and ready; stop() is SIGTERM and a bounded wait for exit 0;
    kill() SIGKILLs the process group (always safe to call)."""

    def __init__(self, args=None, env=None, grpc=True):
        self.args = list(args) if args is not None else ["--port", "0", "--grpc-port", "0", "--workers", "1"]
        self.env = base_env()
        self.env.update(env or {})
        self.grpc = grpc
        self.proc = None
        self.workdir = None
        self.http_port = None
        self.grpc_port = None
        self.exit_code = None
        self.out = None
        self.err = None

    # -- lifecycle

    def start(self, timeout=READY_TIMEOUT_S):
        binary = CONFIG["binary"]
        if not binary or not os.access(binary, os.X_OK):
            raise AssertionError("genkit-endpoints binary not executable: %r" % binary)
        self.workdir = tempfile.mkdtemp(prefix="genkit-grpc-pytest-")
        self.proc = subprocess.Popen([binary] + self.args, cwd=self.workdir, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True, close_fds=True)
        with _LIVE_LOCK:
            _LIVE_GROUPS.add(self.proc.pid)
        self.out = _LineReader(self.proc.stdout)
        self.err = _LineReader(self.proc.stderr)
        deadline = time.monotonic() + timeout
        wanted = ["ready", "listening"] + (["grpc_listening"] if self.grpc else [])
        for event in wanted:
            # "ready" comes once every worker and grpcd accept: what it waits
            # for is logged by then, give or take a few lines.
            bound = deadline - time.monotonic() if event == "ready" else min(5.0, deadline - time.monotonic())
            ev = self.wait_event(event, max(0.0, bound))
            if ev is None:
                why = "no %r event (ready timeout %.0f s)" % (event, timeout)
                if self.proc.poll() is not None:
                    why = "server exited with code %s before %r" % (self.proc.returncode, event)
                self.kill()
                raise AssertionError("%s; args=%s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
                    why, self.args, "\n".join(self.out.snapshot()[-40:]), "\n".join(self.err.snapshot()[-40:])))
        self.http_port = int(self.wait_event("listening", 0)["port"])
        if self.grpc:
            self.grpc_port = int(self.wait_event("grpc_listening", 0)["port"])
        return self

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def stop(self, timeout=15.0):
        """SIGTERM, bounded wait; returns the exit code (None: it hung and was
        killed). The group is SIGKILLed afterwards either way."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.wait_exit(timeout)
        self.kill()
        return code

    def kill(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with _LIVE_LOCK:
            _LIVE_GROUPS.discard(self.proc.pid)
        for reader in (self.out, self.err):
            if reader:
                reader.join(3)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- logs

    def events(self, event=None):
        out = []
        for line in self.out.snapshot():
            obj = parse_json_line(line)
            if obj is not None and (event is None or obj.get("event") == event):
                out.append(obj)
        return out

    def wait_event(self, event, timeout, match=None):
        def find(lines):
            for line in lines:
                obj = parse_json_line(line)
                if obj is not None and obj.get("event") == event and (match is None or match(obj)):
                    return obj
            return None
        return self.out.wait_for(find, timeout)

    def wait_event_count(self, event, count, timeout):
        def enough(lines):
            n = sum(1 for l in lines if (parse_json_line(l) or {}).get("event") == event)
            return n >= count
        return bool(self.out.wait_for(enough, timeout))

    def sanitizer_findings(self):
        err = self.err.snapshot() if self.err else []
        return [l for l in err if any(m in l for m in SANITIZER_MARKS)]

    def log_tail(self, n=30):
        return "--- stdout ---\n%s\n--- stderr ---\n%s" % (
            "\n".join(self.out.snapshot()[-n:]), "\n".join(self.err.snapshot()[-n:]))

    @property
    def grpc_target(self):
        return "127.0.0.1:%d" % self.grpc_port


class FakeLlm:
    """fake_llm --port 0 --record [extra]: reads its {"port":N} line."""

    def __init__(self, extra_args=()):
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        fake = CONFIG["fake"]
        if not fake or not os.access(fake, os.X_OK):
            raise AssertionError("fake_llm binary not executable: %r" % fake)
        self.proc = subprocess.Popen([fake, "--port", "0", "--record"] + self.extra_args,
                                     env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True, close_fds=True)
        with _LIVE_LOCK:
            _LIVE_GROUPS.add(self.proc.pid)
        self.out = _LineReader(self.proc.stdout)
        self.err = _LineReader(self.proc.stderr)

        def port_line(lines):
            for l in lines:
                obj = parse_json_line(l)
                if obj and isinstance(obj.get("port"), int):
                    return obj["port"]
            return None
        self.port = self.out.wait_for(port_line, timeout)
        if not self.port:
            self.stop()
            raise AssertionError("fake_llm printed no port within %.0f s; stderr: %s" % (
                timeout, "\n".join(self.err.snapshot()[-20:])))
        return self

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with _LIVE_LOCK:
            _LIVE_GROUPS.discard(self.proc.pid)

    # -- control API

    def _call(self, method, path, body=None):
        status, _, text = http_request(self.port, method, path, body)
        if status >= 300:
            raise AssertionError("fake_llm %s %s -> %d %s" % (method, path, status, text))
        return json.loads(text) if text else None

    def script(self, behaviours):
        return self._call("POST", "/_script", json.dumps(behaviours))

    def reset(self):
        self._call("DELETE", "/_script")
        self._call("DELETE", "/_requests")

    def requests(self):
        return self._call("GET", "/_requests")

    def model_requests(self):
        """The recorded model calls (Gemini/OpenAI POSTs), oldest first."""
        return [r for r in self.requests() if r.get("method") == "POST" and (
            ":generateContent" in r.get("path", "") or ":streamGenerateContent" in r.get("path", "")
            or r.get("path", "").endswith("/chat/completions"))]


# --------------------------------------------------------------------------
# HTTP (the REST twins)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT_S):
    """Returns (status, headers dict lower-cased, body text)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        return e.code, {k.lower(): v for k, v in e.headers.items()}, text


def rest_post_json(port, path, payload, headers=None):
    """POST a JSON body; returns (status, parsed JSON or None, raw text)."""
    status, _, text = http_request(port, "POST", path, json.dumps(payload), headers)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return status, parsed, text


def rest_post_sse(port, path, payload):
    """POST to an SSE route; returns (status, [event dicts])."""
    status, hdrs, text = http_request(port, "POST", path, json.dumps(payload))
    if status != 200:
        return status, text
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        data = [l[5:].lstrip(" ") for l in block.splitlines() if l.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return status, events
