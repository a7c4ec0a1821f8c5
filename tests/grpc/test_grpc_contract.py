"""The gRPC contract (SPEC.md §5) of the real genkit-endpoints binary, from a
Python grpcio client: every RPC of genkit.sample.v1.GenkitService against its
REST twin on the same server, input validation, grpc.health.v1, reflection,
the message size limit, the shared rate limiter and circuit breaker, status
mapping, cancellation, access logs with x-request-id, and graceful drain.

Run through run_python_tests.py (it generates the stubs this module imports).
Servers: one per configuration, started once and shared by the classes that
use it; every one is stopped with SIGTERM at the end and must exit 0.
"""

import concurrent.futures
import json
import re
import signal
import threading
import time
import unittest
import uuid

import grpc
from google.protobuf import descriptor_pb2

import genkit_sample_pb2 as pb
import genkit_sample_pb2_grpc as pb_grpc
import health_pb2
import health_pb2_grpc
import reflection_pb2
import reflection_pb2_grpc

import harness
from harness import RPC_TIMEOUT_S, FakeLlm, ServerProcess, http_request, rest_post_json, rest_post_sse

SERVICE = "genkit.sample.v1.GenkitService"
DEFAULT_IMAGE = "https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png"
DEFAULT_TEXT = (  # common/schema/models.cc, the seed's TranslateInput default
    "The Northern Lights, or Aurora Borealis, are one of nature's most spectacular displays. Charged particles "
    "from the Sun collide with gases in Earth's atmosphere, creating shimmering curtains of green, pink, and "
    "violet light that dance across the polar sky. For centuries, cultures around the world have woven myths "
    "and legends around these ethereal lights \u2014 the Vikings believed they were reflections of the "
    "Valkyries' armor, while the S\u00e1mi people considered them the energies of departed souls.")
DEFAULT_QUESTION = "What is the best programming language?"
DEFAULT_DESCRIPTION = "a Python function that checks if a number is prime"
DEFAULT_CODE = "def add(a, b):\n    return a + b"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0), ("grpc.max_receive_message_length", 64 << 20)]


# --------------------------------------------------------------------------
# Shared servers and fake


_SERVERS = {}
_FAKE = {}


def shared_server(name, args=None, env=None):
    """The server of configuration `name`, started on first use."""
    if name not in _SERVERS:
        _SERVERS[name] = None  # a failed start is not retried by every class
        _SERVERS[name] = ServerProcess(args=args, env=env).start()
    server = _SERVERS[name]
    if server is None:
        raise AssertionError("server %r failed to start earlier in this run" % name)
    return server


def shared_fake():
    if "fake" not in _FAKE:
        _FAKE["fake"] = None
        _FAKE["fake"] = FakeLlm(["--chunk-delay-ms", "50"]).start()
    if _FAKE["fake"] is None:
        raise AssertionError("fake_llm failed to start earlier in this run")
    return _FAKE["fake"]


def stop_checked(name, server):
    """SIGTERM; the exit code must be 0 and stderr free of sanitizer reports."""
    problems = []
    code = server.stop()
    if code != 0:
        problems.append("server %r: SIGTERM gave exit code %r (expected 0)\n%s" % (name, code, server.log_tail()))
    findings = server.sanitizer_findings()
    if findings:
        problems.append("server %r: sanitizer findings:\n%s" % (name, "\n".join(findings[:40])))
    return problems


def tearDownModule():  # noqa: N802  (unittest's name)
    problems = []
    for name, server in list(_SERVERS.items()):
        if server is not None:
            problems += stop_checked(name, server)
    _SERVERS.clear()
    fake = _FAKE.pop("fake", None)
    if fake is not None:
        fake.stop()
    harness.kill_everything()
    if problems:
        raise AssertionError("\n".join(problems))


def production_server():
    return shared_server("production")


def gemini_env(fake, **extra):
    env = {"GEMINI_API_KEY": "test-key-grpc", "GEMINI_BASE_URL": fake.base_url}
    env.update(extra)
    return env


def open_channel(server):
    channel = grpc.insecure_channel(server.grpc_target, options=CHANNEL_OPTIONS)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    except grpc.FutureTimeoutError:
        channel.close()
        raise AssertionError("gRPC channel to %s not ready within 10 s\n%s" % (server.grpc_target, server.log_tail()))
    return channel


def describe_error(err):
    return "%s: %r" % (err.code(), err.details())


class GrpcCase(unittest.TestCase):
    """A test class served by one (shared) server; subclasses set server()."""

    maxDiff = 4000

    @classmethod
    def get_server(cls):
        return production_server()

    @classmethod
    def setUpClass(cls):
        cls.server = cls.get_server()
        cls.channel = open_channel(cls.server)
        cls.addClassCleanup(cls.channel.close)
        cls.stub = pb_grpc.GenkitServiceStub(cls.channel)
        cls.health = health_pb2_grpc.HealthStub(cls.channel)

    # -- helpers

    def call(self, method, request, **kw):
        kw.setdefault("timeout", RPC_TIMEOUT_S)
        try:
            fn = getattr(self.stub, method)
            if method == "TellStory":
                return [c.text for c in fn(request, **kw)]
            return fn(request, **kw)
        except grpc.RpcError as e:
            self.fail("%s(%s) failed: %s\n%s" % (method, short(request), describe_error(e), self.server.log_tail(15)))

    def rpc_error(self, method, request, **kw):
        """Calls and returns the RpcError; fails the test when the call succeeds."""
        kw.setdefault("timeout", RPC_TIMEOUT_S)
        fn = getattr(self.stub, method)
        try:
            if method == "TellStory":
                reply = [c.text for c in fn(request, **kw)]
            else:
                reply = fn(request, **kw)
        except grpc.RpcError as e:
            return e
        self.fail("%s(%s) succeeded, expected an error; reply: %s" % (method, short(request), short(reply)))

    def rest(self, path, body, headers=None):
        status, parsed, text = rest_post_json(self.server.http_port, path, body, headers)
        self.assertEqual(status, 200, "REST twin POST %s %s -> %d %s" % (path, short(body), status, text))
        return parsed

    def rest_story(self, body):
        status, events = rest_post_sse(self.server.http_port, "/tell-story/stream", body)
        self.assertEqual(status, 200, "REST /tell-story/stream %s -> %d %s" % (body, status, events))
        self.assertTrue(events and events[-1].get("done") is True and "story" in events[-1],
                        "REST stream did not end with a done event: %s" % events)
        chunks = [e["chunk"] for e in events if "chunk" in e]
        return chunks, events[-1]["story"]


def short(obj, n=300):
    s = str(obj).replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def retry_after(err):
    """The retry-after trailer of an error (seconds), -1 when absent."""
    for k, v in err.trailing_metadata() or ():
        if k == "retry-after":
            try:
                return int(v)
            except ValueError:
                return -1
    return -1


def character_as_rest(c):
    return {"name": c.name, "backStory": c.back_story, "abilities": list(c.abilities),
            "skills": {"strength": c.skills.strength, "charisma": c.skills.charisma,
                       "endurance": c.skills.endurance}}


def translation_as_rest(t):
    return {"original_text": t.original_text, "translated_text": t.translated_text,
            "target_language": t.target_language, "confidence": t.confidence}


def code_as_rest(c):
    return {"code": c.code, "language": c.language, "explanation": c.explanation, "filename": c.filename}


# --------------------------------------------------------------------------
# Every RPC against its contract and its REST twin (production, mock/echo)


class ContractTest(GrpcCase):

    def test_health_rpc_status_ok(self):
        reply = self.call("Health", pb.HealthRequest())
        self.assertEqual(reply.status, "ok")
        status, _, text = http_request(self.server.http_port, "GET", "/health")
        self.assertEqual((status, json.loads(text)["status"]), (200, reply.status))

    def test_tell_joke_defaults_name_mittens(self):
        reply = self.call("TellJoke", pb.JokeRequest())
        self.assertEqual(reply.joke, "Echo: Tell a medium-length joke about Mittens for user anonymous.")
        self.assertEqual(reply.username, "", "no username sent: proto3 has no null, so it is empty")
        self.assertEqual(self.call("TellJoke", pb.JokeRequest(name="Mittens")).joke, reply.joke,
                         "an empty name must take the default Mittens")
        self.assertEqual(self.rest("/tell-joke", {})["joke"], reply.joke, "REST twin of TellJoke{}")

    def test_tell_joke_name_and_username_echoed(self):
        reply = self.call("TellJoke", pb.JokeRequest(name="Pixel", username="Alice"))
        self.assertEqual(reply.joke, "Echo: Tell a medium-length joke about Pixel for user Alice.")
        self.assertEqual(reply.username, "Alice")
        twin = self.rest("/tell-joke", {"name": "Pixel"}, {"Authorization": "Alice"})
        self.assertEqual((twin["joke"], twin["username"]), (reply.joke, reply.username))

    def test_translate_text_defaults(self):
        reply = self.call("TranslateText", pb.TranslateRequest())
        got = translation_as_rest(reply)
        for field, value in got.items():
            self.assertTrue(value, "TranslationResponse.%s is empty: %s" % (field, got))
        self.assertIn("Northern Lights", reply.translated_text, "default text: %s" % got)
        self.assertIn("French", reply.translated_text, "default target_language French: %s" % got)
        self.assertEqual(got, self.rest("/translate", {}), "REST twin of TranslateText{}")
        spelled = self.call("TranslateText", pb.TranslateRequest(target_language="French"))
        self.assertEqual(translation_as_rest(spelled), got, "empty target_language must be French")

    def test_translate_text_given_fields(self):
        reply = self.call("TranslateText", pb.TranslateRequest(text="Good morning", target_language="German"))
        got = translation_as_rest(reply)
        self.assertIn("Good morning", reply.translated_text, got)
        self.assertIn("German", reply.translated_text, got)
        self.assertEqual(got, self.rest("/translate", {"text": "Good morning", "target_language": "German"}))
        only_text = self.call("TranslateText", pb.TranslateRequest(text="Good morning"))
        self.assertIn("French", only_text.translated_text, "target_language empty → French")
        self.assertEqual(translation_as_rest(only_text), self.rest("/translate", {"text": "Good morning"}))

    def test_describe_image_default_and_given(self):
        reply = self.call("DescribeImage", pb.ImageRequest())
        self.assertEqual(reply.image_url, DEFAULT_IMAGE)
        self.assertEqual(reply.description, "Echo: Describe this image in detail. [media: %s]" % DEFAULT_IMAGE)
        self.assertEqual({"description": reply.description, "image_url": reply.image_url},
                         self.rest("/describe-image", {}))
        url = "https://example.com/cat.png"
        given = self.call("DescribeImage", pb.ImageRequest(image_url=url))
        self.assertEqual((given.description, given.image_url),
                         ("Echo: Describe this image in detail. [media: %s]" % url, url))
        self.assertEqual({"description": given.description, "image_url": given.image_url},
                         self.rest("/describe-image", {"image_url": url}))

    def check_character(self, c):
        self.assertTrue(c.name, "RpgCharacter.name empty")
        self.assertTrue(c.back_story, "RpgCharacter.back_story empty")
        self.assertGreaterEqual(len(c.abilities), 1, "abilities: %s" % list(c.abilities))
        self.assertLessEqual(len(c.abilities), 10, "abilities: %s" % list(c.abilities))
        self.assertTrue(c.HasField("skills"), "RpgCharacter.skills not set")
        for skill in ("strength", "charisma", "endurance"):
            v = getattr(c.skills, skill)
            self.assertTrue(0 <= v <= 100, "skills.%s = %d" % (skill, v))

    def test_generate_character_default_luna(self):
        reply = self.call("GenerateCharacter", pb.CharacterRequest())
        self.check_character(reply)
        self.assertIn("Luna", reply.name, "default name Luna (the echo carries it): %s" % reply)
        self.assertEqual(character_as_rest(reply), self.rest("/generate-character", {}))
        self.assertEqual(character_as_rest(self.call("GenerateCharacter", pb.CharacterRequest(name="Luna"))),
                         character_as_rest(reply))
        named = self.call("GenerateCharacter", pb.CharacterRequest(name="Borin"))
        self.check_character(named)
        self.assertIn("Borin", named.name)
        self.assertEqual(character_as_rest(named), self.rest("/generate-character", {"name": "Borin"}))

    def test_pirate_chat_persona(self):
        reply = self.call("PirateChat", pb.ChatRequest(question="Where is the treasure?"))
        self.assertEqual(reply.persona, "pirate captain")
        self.assertTrue(reply.answer.startswith("Echo: You are a pirate captain"), reply.answer)
        self.assertTrue(reply.answer.endswith(" Where is the treasure?"), reply.answer)
        self.assertEqual({"answer": reply.answer, "persona": reply.persona},
                         self.rest("/chat", {"question": "Where is the treasure?"}))
        default = self.call("PirateChat", pb.ChatRequest())
        self.assertTrue(default.answer.endswith(" " + DEFAULT_QUESTION), "empty question → default: %s" % default)
        self.assertEqual(default.persona, "pirate captain")
        self.assertEqual({"answer": default.answer, "persona": default.persona}, self.rest("/chat", {}))

    def test_tell_story_streams_the_rest_story_in_order(self):
        for topic, effective in (("a lighthouse keeper", "a lighthouse keeper"), ("", "a brave cat")):
            with self.subTest(topic=topic):
                expected = "Echo: Write a short story (3-4 paragraphs) about %s." % effective
                call = self.stub.TellStory(pb.StoryRequest(topic=topic), timeout=RPC_TIMEOUT_S)
                chunks = [c.text for c in call]
                self.assertEqual(call.code(), grpc.StatusCode.OK, call.details())
                self.assertGreaterEqual(len(chunks), 2, "several StoryChunk messages expected: %s" % chunks)
                self.assertTrue(all(chunks), "an empty StoryChunk: %s" % chunks)
                self.assertEqual("".join(chunks), expected)
                rest_chunks, story = self.rest_story({"topic": topic} if topic else {})
                self.assertEqual(story, "".join(chunks), "REST story vs gRPC chunks joined")
                self.assertEqual(chunks, rest_chunks, "the same flow chunks, in the same order")

    def test_generate_code_defaults_python(self):
        reply = self.call("GenerateCode", pb.CodeRequest())
        got = code_as_rest(reply)
        for field, value in got.items():
            self.assertTrue(value, "CodeResponse.%s empty: %s" % (field, got))
        self.assertIn("Generate python code for: " + DEFAULT_DESCRIPTION, reply.code, "defaults: %s" % got)
        self.assertEqual(got, self.rest("/generate-code", {}))
        self.assertEqual(code_as_rest(self.call("GenerateCode", pb.CodeRequest(language="python"))), got)

    def test_generate_code_given_fields(self):
        req = {"description": "reverse a string", "language": "C++"}
        reply = self.call("GenerateCode", pb.CodeRequest(**req))
        self.assertIn("Generate C++ code for: reverse a string", reply.code)
        self.assertEqual(code_as_rest(reply), self.rest("/generate-code", req))
        only_desc = self.call("GenerateCode", pb.CodeRequest(description="reverse a string"))
        self.assertIn("Generate python code for: reverse a string", only_desc.code)

    def test_review_code_review_is_a_json_object(self):
        cases = [
            (pb.CodeReviewRequest(code="int main() { return 0; }", language="cpp"),
             {"code": "int main() { return 0; }", "language": "cpp"}),
            (pb.CodeReviewRequest(code="x = 1"), {"code": "x = 1", "language": None}),
            (pb.CodeReviewRequest(), {}),
            (pb.CodeReviewRequest(), {"code": DEFAULT_CODE}),
        ]
        for req, body in cases:
            with self.subTest(body=body):
                reply = self.call("ReviewCode", req)
                try:
                    review = json.loads(reply.review)
                except ValueError as e:
                    self.fail("review is not JSON (%s): %r" % (e, reply.review))
                self.assertIsInstance(review, dict, reply.review)
                self.assertEqual(review, self.rest("/review-code", body), "REST twin %s" % body)

    def test_unknown_method_is_unimplemented(self):
        fn = self.channel.unary_unary("/%s/NoSuchMethod" % SERVICE, request_serializer=lambda m: b"",
                                      response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as cm:
            fn(None, timeout=RPC_TIMEOUT_S)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED, describe_error(cm.exception))

    def test_malformed_request_bytes_are_invalid_argument(self):
        # Not protobuf, a string field that is not UTF-8, a truncated varint:
        # each is the client's error (not UNIMPLEMENTED: the method exists),
        # and the daemon keeps serving.
        for method in ("TellJoke", "TellStory"):
            kind = self.channel.unary_stream if method == "TellStory" else self.channel.unary_unary
            fn = kind("/%s/%s" % (SERVICE, method), request_serializer=lambda b: b,
                      response_deserializer=lambda b: b)
            for payload in (b"\xff\xff\xff", b"\x0a\x02\xc3\x28", b"\x0a\x80\x80\x80\x80\x10"):
                with self.subTest(method=method, payload=payload):
                    with self.assertRaises(grpc.RpcError) as cm:
                        reply = fn(payload, timeout=RPC_TIMEOUT_S)
                        if method == "TellStory":
                            list(reply)
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                                     describe_error(cm.exception))
        self.assertTrue(self.stub.TellJoke(pb.JokeRequest(name="after"), timeout=RPC_TIMEOUT_S).joke)

    def test_concurrent_rpcs_all_answered(self):
        with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
            jokes = {i: pool.submit(self.stub.TellJoke, pb.JokeRequest(name="cat%d" % i), timeout=RPC_TIMEOUT_S)
                     for i in range(16)}
            stories = {i: pool.submit(lambda t: [c.text for c in self.stub.TellStory(
                pb.StoryRequest(topic=t), timeout=RPC_TIMEOUT_S)], "topic %d" % i) for i in range(8)}
            for i, f in jokes.items():
                self.assertEqual(f.result(timeout=20).joke,
                                 "Echo: Tell a medium-length joke about cat%d for user anonymous." % i)
            for i, f in stories.items():
                self.assertEqual("".join(f.result(timeout=20)),
                                 "Echo: Write a short story (3-4 paragraphs) about topic %d." % i)


# --------------------------------------------------------------------------
# Validation: every constraint of every flow input schema → INVALID_ARGUMENT


def e_(n):
    """n two-byte characters: limits count characters (code points), not bytes."""
    return "\u00e9" * n


# (rpc, field, limit, request factory, REST path, REST body factory, REST headers factory)
MAX_LENGTHS = [
    ("TellJoke", "name", 200, lambda v: pb.JokeRequest(name=v), "/tell-joke", lambda v: {"name": v}, None),
    # REST takes the username from the Authorization header (ASCII there).
    ("TellJoke", "username", 200, lambda v: pb.JokeRequest(username=v), "/tell-joke", lambda v: {},
     lambda v: {"Authorization": "u" * len(v)}),
    ("TranslateText", "text", 10000, lambda v: pb.TranslateRequest(text=v), "/translate", lambda v: {"text": v}, None),
    ("TranslateText", "target_language", 100, lambda v: pb.TranslateRequest(target_language=v), "/translate",
     lambda v: {"target_language": v}, None),
    ("DescribeImage", "image_url", 2048, lambda v: pb.ImageRequest(image_url="https://example.com/" + v[20:]),
     "/describe-image", lambda v: {"image_url": "https://example.com/" + v[20:]}, None),
    ("GenerateCharacter", "name", 200, lambda v: pb.CharacterRequest(name=v), "/generate-character",
     lambda v: {"name": v}, None),
    ("PirateChat", "question", 5000, lambda v: pb.ChatRequest(question=v), "/chat", lambda v: {"question": v}, None),
    ("TellStory", "topic", 1000, lambda v: pb.StoryRequest(topic=v), "/tell-story/stream", lambda v: {"topic": v},
     None),
    ("GenerateCode", "description", 10000, lambda v: pb.CodeRequest(description=v), "/generate-code",
     lambda v: {"description": v}, None),
    ("GenerateCode", "language", 50, lambda v: pb.CodeRequest(language="a" * len(v)), "/generate-code",
     lambda v: {"language": "a" * len(v)}, None),
    ("ReviewCode", "code", 50000, lambda v: pb.CodeReviewRequest(code=v), "/review-code", lambda v: {"code": v},
     None),
    ("ReviewCode", "language", 50, lambda v: pb.CodeReviewRequest(language=v), "/review-code",
     lambda v: {"language": v}, None),
]

# GenerateCode.language must match ^[a-zA-Z#+]+$.
BAD_LANGUAGES = ["c-sharp", "py thon", "C++17", "go\n", "\u00e9l\u00e9phant", "rust;"]
GOOD_LANGUAGES = ["C#", "C++", "F#", "Rust", "x"]


class ValidationTest(GrpcCase):

    def test_max_length_plus_one_is_invalid_argument_naming_the_field(self):
        for rpc, field, limit, make, path, body, headers in MAX_LENGTHS:
            with self.subTest(rpc=rpc, field=field, length=limit + 1):
                value = e_(limit + 1)
                err = self.rpc_error(rpc, make(value))
                self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, describe_error(err))
                details = err.details() or ""
                self.assertRegex(details, r"\b%s\b" % re.escape(field), "details must name the field")
                self.assertIn(str(limit), details, "details should state the limit")
                status, _, text = http_request(self.server.http_port, "POST", path, json.dumps(body(value)),
                                               headers(value) if headers else None)
                self.assertEqual(status, 400, "REST twin of the same input: %s" % short(text))

    def test_max_length_exactly_is_accepted(self):
        for rpc, field, limit, make, _path, _body, _headers in MAX_LENGTHS:
            with self.subTest(rpc=rpc, field=field, length=limit):
                self.call(rpc, make(e_(limit)))

    def test_code_language_pattern(self):
        for lang in BAD_LANGUAGES:
            with self.subTest(language=lang):
                err = self.rpc_error("GenerateCode", pb.CodeRequest(description="sort a list", language=lang))
                self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, describe_error(err))
                self.assertRegex(err.details() or "", r"\blanguage\b")
                self.assertIn("pattern", err.details() or "")
                status, _, text = rest_post_json(self.server.http_port, "/generate-code",
                                                 {"description": "sort a list", "language": lang})
                self.assertEqual(status, 400, text)
        for lang in GOOD_LANGUAGES:
            with self.subTest(language=lang):
                reply = self.call("GenerateCode", pb.CodeRequest(description="sort a list", language=lang))
                self.assertIn("Generate %s code for: sort a list" % lang, reply.code)

    def test_two_bad_fields_are_both_named(self):
        # As on REST (pydantic reports every error), both fields are named.
        err = self.rpc_error("GenerateCode", pb.CodeRequest(description=e_(10001), language="c-sharp"))
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, describe_error(err))
        self.assertRegex(err.details() or "", r"\bdescription\b")
        self.assertRegex(err.details() or "", r"\blanguage\b")

    def test_empty_fields_take_their_defaults(self):
        # proto3: "" is "not set". Every input field of these flows has a
        # default (none is required), so an empty request is the defaults.
        cases = [
            ("TellJoke", pb.JokeRequest(), pb.JokeRequest(name="Mittens")),
            ("TranslateText", pb.TranslateRequest(),
             pb.TranslateRequest(text=DEFAULT_TEXT, target_language="French")),
            ("DescribeImage", pb.ImageRequest(), pb.ImageRequest(image_url=DEFAULT_IMAGE)),
            ("GenerateCharacter", pb.CharacterRequest(), pb.CharacterRequest(name="Luna")),
            ("PirateChat", pb.ChatRequest(), pb.ChatRequest(question=DEFAULT_QUESTION)),
            ("TellStory", pb.StoryRequest(), pb.StoryRequest(topic="a brave cat")),
            ("GenerateCode", pb.CodeRequest(), pb.CodeRequest(description=DEFAULT_DESCRIPTION, language="python")),
            ("ReviewCode", pb.CodeReviewRequest(), pb.CodeReviewRequest(code=DEFAULT_CODE)),
        ]
        for rpc, empty, spelled in cases:
            with self.subTest(rpc=rpc):
                self.assertEqual(self.call(rpc, empty), self.call(rpc, spelled))

    def test_invalid_stream_request_sends_no_chunk(self):
        call = self.stub.TellStory(pb.StoryRequest(topic="x" * 1001), timeout=RPC_TIMEOUT_S)
        got = []
        with self.assertRaises(grpc.RpcError):
            for c in call:
                got.append(c.text)
        self.assertEqual(got, [])
        self.assertEqual(call.code(), grpc.StatusCode.INVALID_ARGUMENT, call.details())
        self.assertRegex(call.details() or "", r"\btopic\b")


# --------------------------------------------------------------------------
# grpc.health.v1, reflection off in production, access logs


class HealthServiceTest(GrpcCase):

    def test_grpc_listens_on_bind_host_only(self):
        ev = self.server.wait_event("grpc_listening", 0)
        self.assertEqual(ev.get("host"), "127.0.0.1", ev)
        self.assertEqual(ev.get("port"), self.server.grpc_port, ev)

    def test_check_serving_for_server_and_service(self):
        for service in ("", SERVICE):
            with self.subTest(service=service):
                reply = self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)
                self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)

    def test_check_unknown_service_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=RPC_TIMEOUT_S)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND, describe_error(cm.exception))

    def first_watch_status(self, service):
        call = self.health.Watch(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)
        try:
            return next(call).status
        finally:
            call.cancel()

    def test_watch_streams_serving_first(self):
        for service in ("", SERVICE):
            with self.subTest(service=service):
                self.assertEqual(self.first_watch_status(service), health_pb2.HealthCheckResponse.SERVING)

    def test_watch_unknown_service_says_service_unknown(self):
        self.assertEqual(self.first_watch_status("no.such.Service"), health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)

    def test_reflection_is_off_in_production(self):
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                              timeout=RPC_TIMEOUT_S)
        try:
            got = list(responses)
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.UNIMPLEMENTED, describe_error(e))
            return
        self.fail("reflection answered without --debug/DEBUG (expected UNIMPLEMENTED): %s" % short(
            [str(r).replace("\n", " ") for r in got], 600))


class AccessLogTest(GrpcCase):

    def logged(self, request_id, timeout=5.0):
        line = self.server.wait_event("grpc_request", timeout, lambda e: e.get("request_id") == request_id)
        self.assertIsNotNone(line, "no grpc_request log line with request_id %r; grpc_request lines: %s" % (
            request_id, self.server.events("grpc_request")[-5:]))
        return line

    def check_line(self, line, method, codes):
        for key in ("request_id", "method", "peer", "code", "duration_ms"):
            self.assertIn(key, line, "field %r missing from %s" % (key, line))
        self.assertEqual(str(line["method"]).lstrip("/"), "%s/%s" % (SERVICE, method), line)
        self.assertIn("127.0.0.1", str(line["peer"]), line)
        self.assertIn(line["code"], codes, line)
        self.assertIsInstance(line["duration_ms"], (int, float), line)
        self.assertGreaterEqual(line["duration_ms"], 0, line)

    def test_x_request_id_in_the_log_line_of_each_call(self):
        rid = "grpc-test-%s" % uuid.uuid4().hex
        self.stub.TellJoke(pb.JokeRequest(name="log"), metadata=[("x-request-id", rid)], timeout=RPC_TIMEOUT_S)
        self.check_line(self.logged(rid), "TellJoke", ("OK", 0))

        rid_bad = "grpc-test-%s" % uuid.uuid4().hex
        with self.assertRaises(grpc.RpcError):
            self.stub.TellJoke(pb.JokeRequest(name="x" * 201), metadata=[("x-request-id", rid_bad)],
                               timeout=RPC_TIMEOUT_S)
        self.check_line(self.logged(rid_bad), "TellJoke", ("INVALID_ARGUMENT", 3))

        rid_stream = "grpc-test-%s" % uuid.uuid4().hex
        list(self.stub.TellStory(pb.StoryRequest(topic="logs"), metadata=[("x-request-id", rid_stream)],
                                 timeout=RPC_TIMEOUT_S))
        self.check_line(self.logged(rid_stream), "TellStory", ("OK", 0))

    def test_x_request_id_returned_in_the_response_metadata(self):
        # As every REST response carries X-Request-ID: the sent id, on success and on error.
        def returned(call_or_err):
            md = list(call_or_err.initial_metadata() or ()) + list(call_or_err.trailing_metadata() or ())
            return [v for k, v in md if k == "x-request-id"]

        rid = "grpc-md-%s" % uuid.uuid4().hex
        _, call = self.stub.TellJoke.with_call(pb.JokeRequest(name="md"), metadata=[("x-request-id", rid)],
                                               timeout=RPC_TIMEOUT_S)
        self.assertEqual(returned(call), [rid], "unary OK")
        stream = self.stub.TellStory(pb.StoryRequest(topic="md"), metadata=[("x-request-id", rid)],
                                     timeout=RPC_TIMEOUT_S)
        list(stream)
        self.assertEqual(returned(stream), [rid], "stream OK")
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.TellJoke(pb.JokeRequest(name="x" * 201), metadata=[("x-request-id", rid)],
                               timeout=RPC_TIMEOUT_S)
        self.assertEqual(returned(cm.exception), [rid],
                         "INVALID_ARGUMENT reply: initial %s trailing %s" % (
                             cm.exception.initial_metadata(), cm.exception.trailing_metadata()))
        _, call = self.stub.Health.with_call(pb.HealthRequest(), timeout=RPC_TIMEOUT_S)
        generated = returned(call)
        self.assertEqual(len(generated), 1, "no id sent: a new one is returned")
        self.assertRegex(generated[0], UUID4)

    def new_line_after(self, before, action):
        action()
        self.assertTrue(self.server.wait_event_count("grpc_request", before + 1, 5.0), "no new grpc_request line")
        return self.server.events("grpc_request")[before]

    def test_missing_or_invalid_request_id_gets_a_uuid4(self):
        for metadata in ([], [("x-request-id", "bad id with spaces")], [("x-request-id", "a" * 129)]):
            with self.subTest(metadata=[(k, short(v, 40)) for k, v in metadata]):
                before = len(self.server.events("grpc_request"))
                line = self.new_line_after(before, lambda: self.stub.Health(
                    pb.HealthRequest(), metadata=metadata, timeout=RPC_TIMEOUT_S))
                self.assertRegex(str(line.get("request_id")), UUID4, line)


# --------------------------------------------------------------------------
# Reflection in debug mode


class ReflectionDebugTest(GrpcCase):

    @classmethod
    def get_server(cls):
        return shared_server("debug", args=["--port", "0", "--grpc-port", "0", "--workers", "1", "--debug"])

    def reflect(self, **request):
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        try:
            responses = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**request)]),
                                                       timeout=RPC_TIMEOUT_S))
        except grpc.RpcError as e:
            self.fail("ServerReflectionInfo(%s) failed: %s" % (request, describe_error(e)))
        self.assertEqual(len(responses), 1, responses)
        return responses[0]

    def test_list_services(self):
        r = self.reflect(list_services="")
        names = [s.name for s in r.list_services_response.service]
        self.assertIn(SERVICE, names)
        self.assertIn("grpc.health.v1.Health", names)

    def file_for(self, symbol):
        r = self.reflect(file_containing_symbol=symbol)
        self.assertEqual(r.WhichOneof("message_response"), "file_descriptor_response", r)
        files = []
        for raw in r.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto()
            fd.ParseFromString(raw)
            files.append(fd)
        mine = [f for f in files if f.package == "genkit.sample.v1"]
        self.assertEqual(len(mine), 1, [f.name for f in files])
        return mine[0]

    def test_file_containing_service_describes_the_nine_rpcs(self):
        fd = self.file_for(SERVICE)
        self.assertTrue(fd.name.endswith("genkit_sample.proto"), fd.name)
        services = {s.name: s for s in fd.service}
        self.assertIn("GenkitService", services)
        methods = {m.name: m for m in services["GenkitService"].method}
        expected = {"Health": ("HealthRequest", "HealthResponse"), "TellJoke": ("JokeRequest", "JokeResponse"),
                    "TranslateText": ("TranslateRequest", "TranslationResponse"),
                    "DescribeImage": ("ImageRequest", "ImageResponse"),
                    "GenerateCharacter": ("CharacterRequest", "RpgCharacter"),
                    "PirateChat": ("ChatRequest", "ChatResponse"), "TellStory": ("StoryRequest", "StoryChunk"),
                    "GenerateCode": ("CodeRequest", "CodeResponse"),
                    "ReviewCode": ("CodeReviewRequest", "CodeReviewResponse")}
        self.assertEqual(set(methods), set(expected))
        for name, (inp, out) in expected.items():
            m = methods[name]
            self.assertEqual((m.input_type, m.output_type),
                             (".genkit.sample.v1." + inp, ".genkit.sample.v1." + out), name)
            self.assertEqual(m.server_streaming, name == "TellStory", name)
            self.assertFalse(m.client_streaming, name)

    def test_file_containing_message_symbol(self):
        fd = self.file_for("genkit.sample.v1.RpgCharacter")
        msgs = {m.name: m for m in fd.message_type}
        fields = {f.name: (f.number, f.label) for f in msgs["RpgCharacter"].field}
        rep, opt = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED, descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        self.assertEqual(fields, {"name": (1, opt), "back_story": (2, opt), "abilities": (3, rep), "skills": (4, opt)})

    def test_unknown_symbol_not_found(self):
        r = self.reflect(file_containing_symbol="no.such.Symbol")
        self.assertEqual(r.WhichOneof("message_response"), "error_response", r)
        self.assertEqual(r.error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0], r)

    def test_debug_server_serves_the_rpcs(self):
        self.assertEqual(self.call("TellJoke", pb.JokeRequest(name="Dbg")).joke,
                         "Echo: Tell a medium-length joke about Dbg for user anonymous.")


class ReflectionDebugEnvTest(GrpcCase):
    """DEBUG=true (the environment, not the flag) turns reflection on too."""

    @classmethod
    def get_server(cls):
        return shared_server("debug-env", env={"DEBUG": "true"})

    def test_list_services(self):
        ReflectionDebugTest.test_list_services(self)

    reflect = ReflectionDebugTest.reflect


# --------------------------------------------------------------------------
# max_receive_message_length = MAX_BODY_SIZE


class MessageSizeTest(GrpcCase):
    LIMIT = 4096

    @classmethod
    def get_server(cls):
        return shared_server("small-body", env={"MAX_BODY_SIZE": str(cls.LIMIT)})

    def review_of_size(self, size):
        # code field: tag (1 byte) + 2-byte length + n bytes.
        req = pb.CodeReviewRequest(code="x" * (size - 3))
        self.assertEqual(req.ByteSize(), size)
        return req

    def assert_exhausted(self, err):
        self.assertEqual(err.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, describe_error(err))

    def test_oversized_request_resource_exhausted_then_still_serving(self):
        self.assert_exhausted(self.rpc_error("ReviewCode", pb.CodeReviewRequest(code="y" * 5000)))
        self.assert_exhausted(self.rpc_error("TellJoke", pb.JokeRequest(name="n" * 5000)))
        self.assert_exhausted(self.rpc_error("TellStory", pb.StoryRequest(topic="t" * 5000)))
        self.assertEqual(self.call("TellJoke", pb.JokeRequest(name="after")).joke,
                         "Echo: Tell a medium-length joke about after for user anonymous.")
        with open_channel(self.server) as fresh:
            reply = pb_grpc.GenkitServiceStub(fresh).Health(pb.HealthRequest(), timeout=RPC_TIMEOUT_S)
            self.assertEqual(reply.status, "ok")

    def test_limit_is_exactly_max_body_size(self):
        reply = self.call("ReviewCode", self.review_of_size(self.LIMIT))
        self.assertIsInstance(json.loads(reply.review), dict)
        self.assert_exhausted(self.rpc_error("ReviewCode", self.review_of_size(self.LIMIT + 1)))

    def test_a_compressed_message_is_refused_not_inflated(self):
        # grpc-core inflates a compressed message whole before it checks the
        # size (a MAX_BODY_SIZE gzip bomb is ~1000 times that in memory), so
        # the daemon takes requests uncompressed only.
        req = pb.CodeReviewRequest(code="z" * 20000)  # gzip makes it ~60 bytes on the wire
        for compression in (grpc.Compression.Gzip, grpc.Compression.Deflate):
            err = self.rpc_error("ReviewCode", req, compression=compression)
            self.assertEqual(err.code(), grpc.StatusCode.UNIMPLEMENTED, describe_error(err))
            self.assertIn("disabled", err.details())
        self.assertEqual(self.call("TellJoke", pb.JokeRequest(name="after")).joke,
                         "Echo: Tell a medium-length joke about after for user anonymous.")

    def test_rest_uses_the_same_limit(self):
        status, _, text = http_request(self.server.http_port, "POST", "/review-code",
                                       json.dumps({"code": "y" * 5000}))
        self.assertEqual(status, 413, text)


# --------------------------------------------------------------------------
# The shared per-IP rate limiter


class RateLimitTest(GrpcCase):

    @classmethod
    def get_server(cls):
        return shared_server("rate-3", env={"RATE_LIMIT_DEFAULT": "3/minute"})

    def test_fourth_tell_joke_exhausted_health_exempt(self):
        with self.subTest("Health RPC is exempt"):
            for _ in range(5):
                self.assertEqual(self.call("Health", pb.HealthRequest()).status, "ok")
        with self.subTest("grpc.health.v1 is exempt"):
            for _ in range(5):
                reply = self.health.Check(health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT_S)
                self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)
        with self.subTest("3 TellJoke admitted"):
            for i in range(3):
                self.call("TellJoke", pb.JokeRequest(name="rl%d" % i))
        with self.subTest("4th TellJoke RESOURCE_EXHAUSTED, with retry-after"):
            err = self.rpc_error("TellJoke", pb.JokeRequest(name="rl3"))
            self.assertEqual(err.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, describe_error(err))
            self.assertGreaterEqual(retry_after(err), 1, "trailing metadata: %s" % (err.trailing_metadata(),))
        with self.subTest("a new connection from the same IP is the same client"):
            with open_channel(self.server) as fresh:
                with self.assertRaises(grpc.RpcError) as cm:
                    pb_grpc.GenkitServiceStub(fresh).PirateChat(pb.ChatRequest(question="q"),
                                                                timeout=RPC_TIMEOUT_S)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 describe_error(cm.exception))
        with self.subTest("streaming RPC limited too"):
            err = self.rpc_error("TellStory", pb.StoryRequest(topic="rl"))
            self.assertEqual(err.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, describe_error(err))
        with self.subTest("health still answered after the limit"):
            self.assertEqual(self.call("Health", pb.HealthRequest()).status, "ok")
            reply = self.health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=RPC_TIMEOUT_S)
            self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)
        with self.subTest("REST shares the bucket: /tell-joke 429"):
            status, _, text = rest_post_json(self.server.http_port, "/tell-joke", {})
            self.assertEqual(status, 429, text)


class RateLimitSharedWithRestTest(GrpcCase):

    @classmethod
    def get_server(cls):
        return shared_server("rate-3-rest-first", env={"RATE_LIMIT_DEFAULT": "3/minute"})

    def test_rest_requests_spend_the_grpc_clients_tokens(self):
        for i in range(3):
            status, _, text = rest_post_json(self.server.http_port, "/tell-joke", {"name": "r%d" % i})
            self.assertEqual(status, 200, text)
        err = self.rpc_error("TellJoke", pb.JokeRequest(name="g"))
        self.assertEqual(err.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                         "one bucket per client IP for REST and gRPC: %s" % describe_error(err))


# --------------------------------------------------------------------------
# Gemini on fake_llm: what reaches the provider, status mapping, cancellation


STORY_PROMPT = "Write a short story (3-4 paragraphs) about a brave cat."


class GeminiFakeTest(GrpcCase):
    """Cache and breaker off: every RPC is exactly its model calls."""

    @classmethod
    def get_server(cls):
        fake = shared_fake()
        return shared_server("gemini", env=gemini_env(fake, CACHE_ENABLED="false", CB_ENABLED="false",
                                                      LLM_TIMEOUT="3000"))

    def setUp(self):
        self.fake = shared_fake()
        self.fake.reset()

    def model_calls(self, n, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            calls = self.fake.model_requests()
            if len(calls) >= n or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(calls), n, "model calls recorded by fake_llm: %s" % short(calls, 2000))
        return calls

    @staticmethod
    def first_text(body):
        return body["contents"][0]["parts"][0]["text"]

    def test_tell_joke_reaches_gemini_with_the_rest_prompt(self):
        reply = self.call("TellJoke", pb.JokeRequest())
        self.assertEqual(reply.joke, "Gemini says: Tell a medium-length joke about Mittens for user anonymous.")
        (rec,) = self.model_calls(1)
        self.assertTrue(rec["path"].endswith("/models/gemini-2.5-flash:generateContent"), rec["path"])
        self.assertEqual(rec["headers"].get("x-goog-api-key"), "test-key-grpc")
        self.assertEqual(self.first_text(rec["body"]), "Tell a medium-length joke about Mittens for user anonymous.")
        named = self.call("TellJoke", pb.JokeRequest(name="Waffles", username="Bob"))
        self.assertEqual(named.joke, "Gemini says: Tell a medium-length joke about Waffles for user Bob.")
        self.assertEqual(named.username, "Bob")

    def test_pirate_chat_sends_the_system_instruction(self):
        reply = self.call("PirateChat", pb.ChatRequest(question="Where is the treasure?"))
        self.assertEqual((reply.answer, reply.persona), ("Gemini says: Where is the treasure?", "pirate captain"))
        (rec,) = self.model_calls(1)
        self.assertTrue(rec["body"]["systemInstruction"]["parts"][0]["text"].startswith("You are a pirate captain"))

    def test_translate_runs_the_tool_loop_and_matches_rest(self):
        req = {"text": "   hi   ", "target_language": "German"}
        reply = self.call("TranslateText", pb.TranslateRequest(**req))
        calls = self.model_calls(2)
        first = calls[0]["body"]
        self.assertEqual(first["tools"][0]["functionDeclarations"][0]["name"], "get_current_time")
        self.assertEqual(first["generationConfig"]["responseMimeType"], "application/json")
        self.assertTrue(self.first_text(first).endswith("\n\nText: hi"), "sanitize-input step: %r" % first)
        self.assertIn("to German.", self.first_text(first))
        self.assertEqual(translation_as_rest(reply), self.rest("/translate", req))

    def test_generate_character_structured_output(self):
        reply = self.call("GenerateCharacter", pb.CharacterRequest(name="Borin"))
        (rec,) = self.model_calls(1)
        self.assertIn("named Borin", self.first_text(rec["body"]))
        self.assertEqual(rec["body"]["generationConfig"]["responseMimeType"], "application/json")
        self.assertEqual(character_as_rest(reply), self.rest("/generate-character", {"name": "Borin"}))
        self.assertGreaterEqual(len(reply.abilities), 1)

    def test_describe_image_fetches_the_url_inline(self):
        url = self.fake.base_url + "/media/cat.png"
        reply = self.call("DescribeImage", pb.ImageRequest(image_url=url))
        self.assertEqual((reply.description, reply.image_url), ("Gemini says: Describe this image in detail.", url))
        (rec,) = self.model_calls(1)
        parts = rec["body"]["contents"][0]["parts"]
        self.assertEqual(parts[0]["text"], "Describe this image in detail.")
        self.assertEqual(parts[1]["inlineData"]["mimeType"], "image/png", parts)

    def test_describe_image_url_must_be_http_or_data(self):
        for url in ("ftp://example.com/cat.png", "file:///etc/passwd", "not a url"):
            with self.subTest(url=url):
                self.fake.reset()
                err = self.rpc_error("DescribeImage", pb.ImageRequest(image_url=url))
                self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, describe_error(err))
                self.assertIn("URL", err.details() or "")
                status, parsed, text = rest_post_json(self.server.http_port, "/describe-image", {"image_url": url})
                self.assertEqual(status, 400, text)
                self.assertEqual(err.details(), parsed["detail"], "the same flow, the same message")
                self.model_calls(0, timeout=0.2)

    def test_tell_story_relays_upstream_chunks_as_they_arrive(self):
        text = "Gemini says: " + STORY_PROMPT
        pieces = re.findall(r"\S+\s*", text)
        call = self.stub.TellStory(pb.StoryRequest(), timeout=RPC_TIMEOUT_S)
        chunks, arrivals = [], []
        for c in call:
            chunks.append(c.text)
            arrivals.append(time.monotonic())
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        self.assertEqual(chunks, pieces, "one StoryChunk per upstream SSE event, in order")
        (rec,) = self.model_calls(1)
        self.assertIn(":streamGenerateContent", rec["path"])
        # fake_llm waits 50 ms between events: relayed one by one, the chunks
        # spread over about (n-1) x 50 ms; buffered, they arrive together.
        spread = arrivals[-1] - arrivals[0]
        self.assertGreater(spread, 0.5 * 0.05 * (len(pieces) - 1), "chunks were buffered: spread %.3f s" % spread)

    def test_invalid_input_never_reaches_the_model(self):
        for rpc, req in (("TellJoke", pb.JokeRequest(name="x" * 201)),
                         ("GenerateCode", pb.CodeRequest(language="c-sharp")),
                         ("TellStory", pb.StoryRequest(topic="x" * 1001))):
            with self.subTest(rpc=rpc):
                err = self.rpc_error(rpc, req)
                self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, describe_error(err))
        self.model_calls(0, timeout=0.3)

    def test_upstream_error_is_internal_and_leaks_nothing(self):
        self.fake.script({"status": 500})
        err = self.rpc_error("TellJoke", pb.JokeRequest())
        self.assertEqual(err.code(), grpc.StatusCode.INTERNAL, describe_error(err))
        details = err.details() or ""
        for secret in ("test-key-grpc", "fake_llm", "127.0.0.1:%d" % self.fake.port, "generateContent"):
            self.assertNotIn(secret, details, "leaked in the status details")
        self.fake.script({"status": 500})
        status, _, text = rest_post_json(self.server.http_port, "/tell-joke", {})
        self.assertEqual(status, 502, "REST twin: %s" % text)

    def test_model_timeout_is_deadline_exceeded(self):
        self.fake.script({"delay_ms": 8000})
        started = time.monotonic()
        err = self.rpc_error("TellJoke", pb.JokeRequest(), timeout=15)
        elapsed = time.monotonic() - started
        self.assertEqual(err.code(), grpc.StatusCode.DEADLINE_EXCEEDED, describe_error(err))
        self.assertTrue(2.0 <= elapsed < 7.0, "LLM_TIMEOUT=3000 should end it after ~3 s, took %.2f s" % elapsed)

    def wait_recorded(self, timeout=3.0):
        """Waits for the model call to reach fake_llm; returns when it saw it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.fake.model_requests():
                return time.monotonic()
            time.sleep(0.02)
        self.fail("the model call never reached fake_llm")

    def wait_client_closed(self, seen_at):
        # LLM_TIMEOUT (3 s from the call, which is before seen_at) would close
        # the upstream call too: a close seen within 2.5 s of seen_at is the
        # client's cancel propagated.
        deadline = seen_at + 2.5
        calls = []
        while time.monotonic() < deadline:
            calls = self.fake.model_requests()
            if calls and calls[0].get("client_closed"):
                return
            time.sleep(0.05)
        self.fail("the upstream call was not cancelled after the client's cancel (bound 2.5 s, LLM_TIMEOUT "
                  "3 s): %s" % short(calls, 600))

    def test_client_cancel_cancels_the_upstream_call(self):
        self.fake.script({"hang": True})
        future = self.stub.TellJoke.future(pb.JokeRequest(name="cancel"), timeout=15)
        seen_at = self.wait_recorded()
        future.cancel()
        self.wait_client_closed(seen_at)

    def test_stream_cancel_cancels_the_upstream_call(self):
        self.fake.script({"hang": True})
        call = self.stub.TellStory(pb.StoryRequest(topic="cancel"), timeout=15)
        seen_at = self.wait_recorded()
        call.cancel()
        self.wait_client_closed(seen_at)


class CircuitBreakerTest(GrpcCase):

    @classmethod
    def get_server(cls):
        fake = shared_fake()
        return shared_server("gemini-breaker", env=gemini_env(
            fake, CACHE_ENABLED="false", CB_FAILURE_THRESHOLD="1", CB_RECOVERY_TIMEOUT="60"))

    def test_open_circuit_is_unavailable_for_grpc_and_rest(self):
        fake = shared_fake()
        fake.reset()
        fake.script({"status": 500})
        # The failure's own status is GeminiFakeTest's business; here it only opens the circuit.
        self.rpc_error("TellJoke", pb.JokeRequest(name="cb1"))
        with self.subTest("circuit open → UNAVAILABLE without a model call, with retry-after"):
            fake.reset()
            err = self.rpc_error("TellJoke", pb.JokeRequest(name="cb2"))
            self.assertEqual(err.code(), grpc.StatusCode.UNAVAILABLE, describe_error(err))
            self.assertEqual(len(fake.model_requests()), 0, "an open circuit must not call the model")
            self.assertGreaterEqual(retry_after(err), 1, "trailing metadata: %s" % (err.trailing_metadata(),))
        with self.subTest("REST shares the breaker: 503"):
            status, _, text = rest_post_json(self.server.http_port, "/tell-joke", {})
            self.assertEqual(status, 503, text)
        with self.subTest("health stays SERVING"):
            reply = self.health.Check(health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT_S)
            self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)


# --------------------------------------------------------------------------
# Graceful stop: SIGTERM finishes an open TellStory stream, then exit 0


class DrainTest(unittest.TestCase):

    def test_sigterm_finishes_the_open_stream_then_exits_0(self):
        server = ServerProcess(env={"MOCK_CHUNK_DELAY_MS": "200", "SHUTDOWN_GRACE": "10"}).start()
        self.addCleanup(server.kill)
        channel = open_channel(server)
        self.addCleanup(channel.close)
        call = pb_grpc.GenkitServiceStub(channel).TellStory(pb.StoryRequest(), timeout=15)
        chunks = [next(call).text]
        server.signal(signal.SIGTERM)
        try:
            for c in call:
                chunks.append(c.text)
        except grpc.RpcError as e:
            self.fail("stream cut by SIGTERM after %d chunks: %s" % (len(chunks), describe_error(e)))
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        self.assertEqual("".join(chunks), "Echo: " + STORY_PROMPT)
        self.assertGreaterEqual(len(chunks), 2)
        code = server.wait_exit(15)
        self.assertEqual(code, 0, "exit code after SIGTERM\n%s" % server.log_tail())
        self.assertEqual(server.sanitizer_findings(), [])


if __name__ == "__main__":
    unittest.main()
