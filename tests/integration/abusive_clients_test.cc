// Clients that misbehave on purpose, against the real binary: slowloris
// (HTTP/1.1 and HTTP/2), request smuggling shapes (RFC 9112 §2.2, §5, §6),
// header and body bombs, JSON bombs (nesting, invalid UTF-8, NUL), readers
// that never read big responses or an SSE stream, and a connection flood up
// to the fd limit. Each must end in a clear JSON error or a closed
// connection, never a crash, a hang, a request read two ways, or memory
// that grows with the abuse. (What http_protocol_test.cc and
// http2_wire_test.cc cover for honest-but-slow clients is not repeated.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <thread>

#include "tests/support/fake_llm_process.h"
#include "tests/support/h2_wire.h"
#include "tests/support/process_memory.h"
#include "tests/support/raw_connection.h"
#include "tests/support/shared_state_support.h"
#include "tests/support/slow_clients.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using genkit::Json;

constexpr int kMaxBody = 256 * 1024;  // room for the JSON bombs; smaller bodies are cheap to send anyway

class AbusiveHttpTest : public SharedServerTest<AbusiveHttpTest> {
 public:
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    SharedServerTest<AbusiveHttpTest>::TearDownTestSuite();
  }
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MAX_BODY_SIZE", std::to_string(kMaxBody)},
             {"READ_TIMEOUT", "1"},
             {"KEEP_ALIVE_TIMEOUT", "2"},
             {"RATE_LIMIT_ENABLED", "false"}};
    return o;
  }
};

void expect_json_error(const HttpResponse& r, int status, const std::string& what) {
  ASSERT_EQ(r.status, status) << what << ": " << r.reason << " " << r.body;
  genkit::Result<Json> j = r.json();
  ASSERT_TRUE(j.ok()) << what << ": not JSON: " << r.body;
  EXPECT_EQ(str(j->view()["error"]), r.reason) << what << ": " << r.body;
  EXPECT_FALSE(str(j->view()["detail"]).empty()) << what << ": " << r.body;
}

// The server is whole: both workers answer and none was replaced.
void expect_still_serving(ServerProcess& server) {
  for (int i = 0; i < 4; ++i) {
    HttpResponse h = http_get(server.port(), "/health");
    ASSERT_EQ(h.status, 200) << "request " << i << ": " << h.reason;
  }
  HttpResponse joke = http_post(server.port(), "/tell-joke", R"({"name":"Still"})");
  ASSERT_EQ(joke.status, 200) << joke.reason << joke.body;
  EXPECT_TRUE(server.events("worker_exited").empty()) << server.stdout_text();
}

bool logged_request(ServerProcess& server, const std::string& request_id) {
  for (const Json& e : server.events("request")) {
    if (str(e["request_id"]) == request_id) return true;
  }
  return false;
}

// ---------------------------------------------------------------- slowloris

TEST_F(AbusiveHttpTest, SlowlorisHeadersAreCutOffByTheReadTimeoutWhileOthersAreServed) {
  // 40 connections each sending a request head a byte every 250 ms (it
  // would take them ~30 s): READ_TIMEOUT=1 counts from the request's first
  // byte, so the trickle must not keep one alive, and while they hang on
  // the two workers go on serving everyone else.
  const std::string head = "POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "X-Slow: " + std::string(60, 's') + "\r\n\r\n";
  TrickleOptions opts;
  opts.connections = 40;
  opts.interval = milliseconds(250);
  opts.give_up = milliseconds(12000);
  auto slow = std::async(std::launch::async, [&] { return trickle(port(), head, opts); });
  std::this_thread::sleep_for(milliseconds(300));
  for (int i = 0; i < 10; ++i) {
    HttpClient c(port(), milliseconds(3000));
    std::optional<HttpResponse> r = c.request("POST", "/tell-joke", json_with("name", "Busy" + std::to_string(i)),
                                              {}, milliseconds(3000));
    ASSERT_TRUE(r) << "an honest client was not served beside the slowloris: " << c.error();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  std::vector<Trickled> all = slow.get();
  ASSERT_EQ(all.size(), 40u) << "could not open the slow connections";
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Trickled& t = all[i];
    ASSERT_TRUE(t.connection.closed()) << "slow connection " << i << " still open after 12 s, " << t.bytes_sent
                                       << " bytes in";
    EXPECT_LT(t.connection.closed_at() - t.opened, milliseconds(6000))
        << "connection " << i << ": the trickle kept it alive (" << t.bytes_sent << " bytes)";
    EXPECT_LT(t.bytes_sent, head.size()) << "connection " << i << " sent its whole head";
    EXPECT_EQ(t.connection.received().rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u)
        << "connection " << i << ": " << t.connection.received();
    EXPECT_NE(t.connection.received().find(R"({"error":"Request Timeout","detail":)"), std::string::npos)
        << t.connection.received();
  }
  expect_still_serving(*server());
}

// (type, stream) of each whole HTTP/2 frame in `bytes`.
std::vector<std::pair<uint8_t, uint32_t>> frames_in(std::string_view bytes) {
  std::vector<std::pair<uint8_t, uint32_t>> out;
  auto byte = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
  while (bytes.size() >= 9) {
    std::size_t len = byte(0) << 16 | byte(1) << 8 | byte(2);
    if (bytes.size() < 9 + len) break;
    uint32_t stream = (byte(5) << 24 | byte(6) << 16 | byte(7) << 8 | byte(8)) & 0x7fffffff;
    out.emplace_back(static_cast<uint8_t>(byte(3)), stream);
    bytes.remove_prefix(9 + len);
  }
  return out;
}

TEST_F(AbusiveHttpTest, Http2SlowlorisIsClosedByTheReadTimeout) {
  // A HEADERS frame whose header block comes a byte every 250 ms (it would
  // take ~60 s). Until a block ends nothing else may come on the connection
  // (RFC 9113 §6.10), so a 408 on its stream would leave the client holding
  // the connection for as long as it trickles: past READ_TIMEOUT the
  // connection is ended (GOAWAY, close), with no answer on the stream.
  std::vector<std::pair<std::string, std::string>> fields;
  for (int i = 0; i < 10; ++i) fields.emplace_back("x-slow-" + std::to_string(i), std::string(20, 's'));
  const std::string start = h2::preface();
  const std::string bytes =
      start + h2::frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, h2::request_block("GET", "/health", fields));
  const std::size_t warnings = server()->events("http2_headers_timeout").size();
  TrickleOptions opts;
  opts.connections = 10;
  opts.at_once = start.size() + 9 + 20;  // the frame's header and a little of its block: the stream is open
  opts.give_up = milliseconds(12000);
  std::vector<Trickled> all = trickle(port(), bytes, opts);
  ASSERT_EQ(all.size(), 10u);
  for (const Trickled& t : all) {
    ASSERT_TRUE(t.connection.closed()) << t.bytes_sent << " of " << bytes.size() << " bytes sent, still open";
    EXPECT_LT(t.connection.closed_at() - t.opened, milliseconds(7000)) << "the trickle kept the connection alive";
    EXPECT_LT(t.bytes_sent, bytes.size());
    std::vector<std::pair<uint8_t, uint32_t>> got = frames_in(t.connection.received());
    EXPECT_TRUE(std::count(got.begin(), got.end(), std::make_pair(uint8_t{h2::kGoaway}, 0u)) == 1) << "no GOAWAY";
    for (const auto& [type, stream] : got) EXPECT_EQ(stream, 0u) << "frame type " << int(type) << " on stream 1";
  }
  EXPECT_TRUE(server()->wait_event_count("http2_headers_timeout", warnings + 10, milliseconds(2000)));
  // The preface itself trickled: no protocol is chosen yet, and READ_TIMEOUT
  // (counted from the accept) closes the connection.
  opts.at_once = 0;
  std::vector<Trickled> prefaces = trickle(port(), start, opts);
  ASSERT_EQ(prefaces.size(), 10u);
  for (const Trickled& t : prefaces) {
    ASSERT_TRUE(t.connection.closed()) << t.bytes_sent << " preface bytes sent, still open";
    EXPECT_LT(t.bytes_sent, start.size());
  }
  expect_still_serving(*server());
}

// ---------------------------------------------------------------- smuggling

struct Shape {
  const char* name;
  std::string request;  // head (and body) of the request to refuse
  int status;
};

std::string with_body(const std::string& head, const std::string& body) { return head + "\r\n" + body; }

std::vector<Shape> smuggling_shapes() {
  const std::string post = "POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  return {
      {"transfer-encoding-and-content-length",
       with_body(post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400},
      {"content-length-after-transfer-encoding",
       with_body(post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"), 400},
      {"two-different-content-lengths", with_body(post + "Content-Length: 2\r\nContent-Length: 14\r\n", "{}"), 400},
      {"two-equal-content-lengths", with_body(post + "Content-Length: 2\r\nContent-Length: 2\r\n", "{}"), 400},
      {"content-length-list", with_body(post + "Content-Length: 2, 2\r\n", "{}"), 400},
      {"negative-content-length", with_body(post + "Content-Length: -2\r\n", "{}"), 400},
      {"obs-fold", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: one\r\n folded\r\n\r\n", 400},
      {"obs-fold-of-transfer-encoding", with_body(post + "Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n"), 400},
      {"whitespace-before-the-first-field", "GET /health HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n", 400},
      {"bare-lf-line-ends", "GET /health HTTP/1.1\nHost: 127.0.0.1\n\n", 400},
      {"one-bare-lf", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\nX-A: b\r\n\r\n", 400},
      {"cr-without-lf", "GET /health HTTP/1.1\rHost: 127.0.0.1\r\n\r\n", 400},
      {"whitespace-before-colon", with_body(post + "Transfer-Encoding : chunked\r\n", "0\r\n\r\n"), 400},
      {"chunked-not-last", with_body(post + "Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"), 400},
      {"unknown-coding-only", with_body(post + "Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), 400},
      {"chunked-twice", with_body(post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
       400},
      {"coding-before-chunked", with_body(post + "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501},
      {"transfer-encoding-in-http-1.0",
       with_body("POST /tell-joke HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400},
      {"chunk-size-overflow",
       with_body(post + "Transfer-Encoding: chunked\r\n", "1000000000000000002\r\n{}\r\n0\r\n\r\n"), 400},
      {"two-hosts", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: example.com\r\n\r\n", 400},
      {"no-host", "GET /health HTTP/1.1\r\n\r\n", 400},
      {"http-0.9-request-line", "GET /health\r\n\r\n", 505},
      {"http-2-request-line-over-http1", "GET /health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 505},
  };
}

TEST_F(AbusiveHttpTest, SmugglingShapesAreRefusedAndTheConnectionClosed) {
  // Each shape is followed by a request of its own on the same connection:
  // read another way, its framing would make that request (or a part of the
  // refused one) run. It must never be answered nor logged.
  for (const Shape& s : smuggling_shapes()) {
    const std::string hidden_id = std::string("smuggled-") + s.name;
    HttpClient c(port());
    ASSERT_TRUE(c.send_raw(s.request + build_request("GET", "/health", {}, {{"X-Request-ID", hidden_id}})))
        << s.name << ": " << c.error();
    std::optional<HttpResponse> r = c.read_response();
    ASSERT_TRUE(r) << s.name << ": no answer: " << c.error();
    expect_json_error(*r, s.status, s.name);
    EXPECT_EQ(r->header("connection").value_or("<missing>"), "close") << s.name;
    std::optional<HttpResponse> second = c.read_response(milliseconds(2000));
    EXPECT_FALSE(second) << s.name << ": a second response after the refusal: " << second->status << " "
                         << second->body;
    EXPECT_FALSE(logged_request(*server(), hidden_id)) << s.name << ": the request behind it ran";
  }
  expect_still_serving(*server());
}

TEST_F(AbusiveHttpTest, ARequestInsideABodyIsNeverRunAsARequest) {
  const std::string hidden = build_request("GET", "/health", {}, {{"X-Request-ID", "inside-a-body"}});
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                         std::to_string(hidden.size()) + "\r\n\r\n" + hidden +
                         build_request("GET", "/health", {}, {{"X-Request-ID", "after-the-body"}})))
      << c.error();
  std::optional<HttpResponse> first = c.read_response();
  ASSERT_TRUE(first) << c.error();
  expect_json_error(*first, 400, "a request line as a JSON body");
  EXPECT_EQ(str(json_of(*first)["detail"]).rfind("body: malformed JSON", 0), 0u) << first->body;
  std::optional<HttpResponse> second = c.read_response();
  ASSERT_TRUE(second) << c.error();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->header("x-request-id").value_or(""), "after-the-body") << "the body was read as a request";
  EXPECT_FALSE(logged_request(*server(), "inside-a-body"));
}

TEST_F(AbusiveHttpTest, TrailerFieldsNeverJoinTheRequestHeaders) {
  // /tell-joke takes its username from Authorization: one that arrives as a
  // trailer, after the body (and after every check of the head), must not.
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "10\r\n{\"name\":\"Trail\"}\r\n0\r\nAuthorization: FromTheTrailer\r\n\r\n"))
      << c.error();
  std::optional<HttpResponse> r = c.read_response();
  ASSERT_TRUE(r) << c.error();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(str(json_of(*r)["joke"]), "Echo: Tell a medium-length joke about Trail for user anonymous.");
  EXPECT_TRUE(json_of(*r)["username"].is_null()) << r->body;
}

// ---------------------------------------------------------------- header and body bombs

// Sends `request` (the server may stop reading it) and expects `status` as a
// JSON error, then the connection closed.
void expect_bomb_refused(int port, const std::string& request, int status, const std::string& what) {
  HttpClient c(port);
  c.send_raw(request, milliseconds(5000));  // (may fail once the server has answered and closed)
  std::optional<HttpResponse> r = c.read_response(milliseconds(5000));
  ASSERT_TRUE(r) << what << ": no answer: " << c.error();
  expect_json_error(*r, status, what);
  EXPECT_EQ(r->header("connection").value_or("<missing>"), "close") << what;
  EXPECT_TRUE(c.wait_closed(milliseconds(5000))) << what << ": left open";
}

TEST_F(AbusiveHttpTest, HeaderBombsAreRefusedWith431Or414) {
  std::string many = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 1000; ++i) many += "X-Field-" + std::to_string(i) + ": v\r\n";
  expect_bomb_refused(port(), many + "\r\n", 431, "1000 header fields");
  expect_bomb_refused(port(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(200000, 'b') +
                                  "\r\n\r\n", 431, "one 200 KB header");
  expect_bomb_refused(port(), "GET /health?q=" + std::string(200000, 'q') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                      414, "a 200 KB request target");
  std::string trailers = "POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "2\r\n{}\r\n0\r\n";
  for (int i = 0; i < 1000; ++i) trailers += "X-Trailer-" + std::to_string(i) + ": v\r\n";
  expect_bomb_refused(port(), trailers + "\r\n", 431, "1000 trailer fields");
  expect_bomb_refused(port(), "POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2;ext=" + std::string(200000, 'e') + "\r\n{}\r\n0\r\n\r\n",
                      400, "a 200 KB chunk extension");
  expect_still_serving(*server());
}

TEST_F(AbusiveHttpTest, ACompressedBodyIsRefusedNotInflated) {
  // A gzip bomb: 32 MiB of JSON whitespace in a few KiB. No route decodes a
  // content coding, and reading the bytes as plain JSON would be wrong too:
  // 415, naming what is accepted (RFC 9110 §15.5.16).
  std::string bomb = gzip_of("{\"name\":\"Zip\"" + std::string(32 << 20, ' ') + "}");
  ASSERT_LT(bomb.size(), static_cast<std::size_t>(kMaxBody));
  HttpResponse r = http_post(port(), "/tell-joke", bomb, {{"Content-Encoding", "gzip"}});
  expect_json_error(r, 415, "a gzip body");
  EXPECT_EQ(r.header("accept-encoding").value_or("<missing>"), "identity");
  // A plain body labelled gzip is not read as plain either.
  HttpResponse labelled = http_post(port(), "/tell-joke", R"({"name":"Plain"})", {{"Content-Encoding", "gzip"}});
  expect_json_error(labelled, 415, "a plain body labelled gzip");
  // Over HTTP/2 too.
  h2::Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(h2::preface() +
                     h2::frame(h2::kHeaders, h2::kEndHeaders, 1,
                               h2::request_block("POST", "/tell-joke", {{"content-encoding", "gzip"}})) +
                     h2::frame(h2::kData, h2::kEndStream, 1, bomb.substr(0, 16000))))
      << w.error();
  std::optional<std::string> body = h2::body_of_stream(w, 1);
  ASSERT_TRUE(body) << w.error();
  EXPECT_NE(body->find(R"("error":"Unsupported Media Type")"), std::string::npos) << *body;
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}", {{"Content-Encoding", "identity"}}).status, 200);
}

// ---------------------------------------------------------------- JSON bombs

void expect_400_detail(const HttpResponse& r, const std::string& detail_part, const std::string& what) {
  expect_json_error(r, 400, what);
  EXPECT_NE(str(json_of(r)["detail"]).find(detail_part), std::string::npos) << what << ": " << r.body;
}

TEST_F(AbusiveHttpTest, DeeplyNestedJsonIsRefusedAtABoundedDepth) {
  struct Bomb { const char* what; std::string body; };
  const std::vector<Bomb> bombs = {
      {"100000 [", std::string(100000, '[')},
      {"100000 [ closed", std::string(100000, '[') + std::string(100000, ']')},
      {"30000 {\"a\":", [] { std::string s; for (int i = 0; i < 30000; ++i) s += "{\"a\":"; return s; }()},
      {"65 levels in a field", "{\"name\":" + std::string(65, '[') + std::string(65, ']') + "}"},
  };
  for (const char* path : {"/tell-joke", "/chat", "/tell-story/stream"}) {
    for (const Bomb& b : bombs) {
      HttpResponse r = http_post(port(), path, b.body);
      expect_400_detail(r, "body: JSON nested deeper than 64 levels", std::string(path) + " " + b.what);
    }
  }
  // The flow-server protocol reads the same bodies (its own error shape).
  HttpResponse flow = http_post(port(), "/flows/tell_joke", "{\"data\":" + std::string(100000, '[') + "}");
  EXPECT_EQ(flow.status, 400) << flow.body;
  EXPECT_NE(flow.body.find("nested deeper than 64 levels"), std::string::npos) << flow.body;
  // Nesting within the bound is parsed (and then judged by the schema).
  HttpResponse shallow = http_post(port(), "/tell-joke", "{\"extra\":" + std::string(60, '[') + std::string(60, ']') +
                                                             ",\"name\":\"Flat\"}");
  EXPECT_EQ(shallow.status, 200) << shallow.body;
  expect_still_serving(*server());
}

TEST_F(AbusiveHttpTest, InvalidUtf8AndNulInJsonStringsAre400) {
  struct Bad { const char* what; std::string body; const char* detail; };
  const std::vector<Bad> bad = {
      {"a 0xFF byte", "{\"name\":\"A\xff" "B\"}", "invalid UTF-8"},
      {"an overlong '/'", "{\"name\":\"A\xc0\xaf" "B\"}", "invalid UTF-8"},
      {"a UTF-8 encoded surrogate", "{\"name\":\"A\xed\xa0\x80" "B\"}", "invalid UTF-8"},
      {"a truncated sequence", "{\"name\":\"A\xe2\x82\"}", "invalid UTF-8"},
      {"a stray continuation byte", "{\"name\":\"\x80\"}", "invalid UTF-8"},
      {"a code point above U+10FFFF", "{\"name\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"},
      {"invalid UTF-8 in a key", "{\"na\xffme\":\"x\"}", "invalid UTF-8"},
      {"an escaped NUL", R"({"name":"A\u0000B"})", "NUL"},
      {"an escaped NUL in a key", R"({"na\u0000me":"x"})", "NUL"},
      {"a raw NUL byte", std::string("{\"name\":\"A\0B\"}", 14), "control character"},
      {"a raw control character", "{\"name\":\"A\x01" "B\"}", "control character"},
      {"a raw newline", "{\"name\":\"A\nB\"}", "control character"},
      {"a lone high surrogate", R"({"name":"A\ud800B"})", "surrogate"},
      {"a lone low surrogate", R"({"name":"A\udc00B"})", "surrogate"},
      {"a reversed pair", R"({"name":"\ude00\ud83d"})", "surrogate"},
  };
  for (const char* path : {"/tell-joke", "/tell-joke/stream"}) {
    for (const Bad& b : bad) {
      HttpResponse r = http_post(port(), path, b.body);
      expect_400_detail(r, b.detail, std::string(path) + ": " + b.what);
      EXPECT_EQ(str(json_of(r)["detail"]).rfind("body: ", 0), 0u) << b.what << ": " << r.body;
    }
  }
  // Well-formed text in every UTF-8 length, and an escaped pair, arrive whole.
  HttpResponse ok =
      http_post(port(), "/tell-joke", "{\"name\":\"Zo\xc3\xab \xe7\x8c\xab \xf0\x9f\x98\x80 \\ud83d\\ude00\"}");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(str(json_of(ok)["joke"]),
            "Echo: Tell a medium-length joke about Zo\xc3\xab \xe7\x8c\xab \xf0\x9f\x98\x80 \xf0\x9f\x98\x80 for user "
            "anonymous.");
  // Over HTTP/2: the same refusal.
  h2::Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(h2::preface() + h2::frame(h2::kHeaders, h2::kEndHeaders, 1, h2::request_block("POST", "/chat")) +
                     h2::frame(h2::kData, h2::kEndStream, 1, R"({"question":"why\u0000not"})")))
      << w.error();
  std::optional<std::string> body = h2::body_of_stream(w, 1);
  ASSERT_TRUE(body) << w.error();
  EXPECT_NE(body->find("NUL"), std::string::npos) << *body;
  expect_still_serving(*server());
}

// ---------------------------------------------------------------- HTTP/2 framing

TEST_F(AbusiveHttpTest, Http2RequestsWithAmbiguousFramingAreResetNotRun) {
  // RFC 9113 §8.2.2 and §8.1.1: connection-specific fields, a content-length
  // the DATA contradicts, field values with CR/LF or NUL, upper-case names:
  // the stream is malformed (PROTOCOL_ERROR), the connection goes on.
  struct Case { const char* what; std::string block; std::string data; };
  auto post = [](std::vector<std::pair<std::string, std::string>> extra, const std::string& id) {
    extra.emplace_back("x-request-id", id);
    return h2::request_block("POST", "/tell-joke", extra);
  };
  const std::vector<Case> cases = {
      {"transfer-encoding", post({{"transfer-encoding", "chunked"}}, "h2-te"), "0\r\n\r\n"},
      {"connection", post({{"connection", "keep-alive"}}, "h2-connection"), "{}"},
      {"content-length too small", post({{"content-length", "2"}}, "h2-cl-small"), R"({"name":"Longer"})"},
      {"content-length too large", post({{"content-length", "100"}}, "h2-cl-large"), "{}"},
      {"CRLF in a value", post({{"x-note", "a\r\nx-injected: b"}}, "h2-crlf"), "{}"},
      {"NUL in a value", post({{"x-note", std::string("a\0b", 3)}}, "h2-nul"), "{}"},
      {"upper-case name", post({{"X-Upper", "v"}}, "h2-upper"), "{}"},
  };
  h2::Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(h2::preface())) << w.error();
  uint32_t stream = 1;
  for (const Case& c : cases) {
    ASSERT_TRUE(w.send(h2::frame(h2::kHeaders, h2::kEndHeaders, stream, c.block) +
                       h2::frame(h2::kData, h2::kEndStream, stream, c.data)))
        << c.what << ": " << w.error();
    std::optional<h2::Frame> rst = w.until(h2::kRstStream, stream, milliseconds(5000));
    ASSERT_TRUE(rst) << c.what << ": not reset: " << w.error();
    EXPECT_EQ(rst->rst_error(), h2::kProtocolError) << c.what;
    stream += 2;
  }
  ASSERT_TRUE(w.send(h2::frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, stream,
                               h2::request_block("GET", "/health"))))
      << w.error();
  std::optional<std::string> next = h2::body_of_stream(w, stream);
  ASSERT_TRUE(next) << "the connection did not survive the resets: " << w.error();
  EXPECT_EQ(*next, R"({"status":"ok"})");
  for (const char* id : {"h2-te", "h2-connection", "h2-cl-small", "h2-cl-large", "h2-crlf", "h2-nul", "h2-upper"}) {
    EXPECT_FALSE(logged_request(*server(), id)) << id << " was run";
  }
}

// ---------------------------------------------------------------- readers that do not read

std::vector<int> worker_pids(const ServerProcess& server) {
  std::vector<int> pids;
  for (const auto& [slot, pid] : live_workers_by_slot(server)) pids.push_back(pid);
  return pids;
}

// The server's gauge of open HTTP connections (all workers), -1 if unreadable.
long open_connections(int port) {
  HttpResponse m = http_get(port, "/metrics");
  const std::string name = "\ngenkit_endpoints_http_connections_open ";
  std::size_t at = m.body.find(name);
  return m.status == 200 && at != std::string::npos ? std::stol(m.body.substr(at + name.size())) : -1;
}

constexpr long kFlatKib = 32 * 1024;  // what "memory stays flat" tolerates

// A server of its own: its workers' memory is measured from its own start.
class AbusiveSlowReaderTest : public SharedServerTest<AbusiveSlowReaderTest> {
 public:
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    SharedServerTest<AbusiveSlowReaderTest>::TearDownTestSuite();
  }
  static ServerOptions options() {
    ServerOptions o;
    // (MAX_REQUESTS=0: answering the flood must not recycle a worker mid-measure.)
    o.env = {{"KEEP_ALIVE_TIMEOUT", "4"},
             {"RATE_LIMIT_ENABLED", "false"},
             {"MAX_REQUESTS", "0"},
             {"ASAN_OPTIONS", asan_options_for_measuring()}};
    return o;
  }
};

TEST_F(AbusiveSlowReaderTest, PipelinedRequestsOfAClientThatDoesNotReadAreHeldBackNotAnswered) {
  // 16 clients each pipeline ~8 MiB worth of /metrics requests into a 4 KiB
  // receive buffer and never read. Past what the kernel buffers, the server
  // must stop taking their requests (not render answers it can only hold),
  // and close them once they have been idle for KEEP_ALIVE_TIMEOUT.
  constexpr int kReaders = 16;
  HttpResponse sample = http_get(port(), "/metrics");
  ASSERT_EQ(sample.status, 200);
  const std::size_t requests = (8u << 20) / sample.body.size() + 1;
  const std::vector<int> pids = worker_pids(*server());
  ASSERT_EQ(pids.size(), 2u);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(http_get(port(), "/metrics").status, 200);  // (warm)
  const long before = total_resident_kib(pids);
  const long peak_before = total_peak_resident_kib(pids);
  std::string batch;
  for (std::size_t i = 0; i < requests; ++i) batch += build_request("GET", "/metrics");
  std::vector<RawConnection> readers(kReaders);
  for (RawConnection& r : readers) {
    ASSERT_TRUE(r.connect(port(), milliseconds(2000), 4096));
    ASSERT_EQ(r.send_some(batch, milliseconds(3000)), batch.size()) << "the requests are small: they all go in";
  }
  std::this_thread::sleep_for(milliseconds(1500));  // the server has answered what it will
  const long held = total_resident_kib(pids) - before;
  const long peak = total_peak_resident_kib(pids) - peak_before;
  EXPECT_LT(held, kFlatKib) << "the workers hold " << held << " KiB more for " << kReaders << " non-readers";
  EXPECT_LT(peak, kFlatKib) << "the workers' peak grew by " << peak << " KiB";
  // Closed by the server, not by us: the gauge drops while our sockets stay open.
  bool closed = FakeLlmProcess::eventually([&] { return open_connections(port()) <= 1; }, milliseconds(10000));
  EXPECT_TRUE(closed) << open_connections(port()) << " connections still open";
  for (RawConnection& r : readers) {
    EXPECT_TRUE(r.read_until_closed(milliseconds(5000))) << "a non-reader's connection was not closed";
    EXPECT_LT(r.received_bytes(), requests * sample.body.size()) << "every request was answered";
  }
  EXPECT_LT(total_resident_kib(pids) - before, kFlatKib);
  expect_still_serving(*server());
}

// One fake_llm streaming a long reply (a chunk every ms), so a stream can
// outgrow what the server holds for a reader that does not read.
class AbusiveSseReaderTest : public FakeLlmServerTest<AbusiveSseReaderTest> {
 public:
  static std::vector<std::string> fake_args() { return {"--chunk-delay-ms", "1"}; }
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    FakeLlmServerTest<AbusiveSseReaderTest>::TearDownTestSuite();
  }
  static ServerOptions options() {
    ServerOptions o;
    o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
    o.env = gemini_env_for(fake()->base_url());
    o.env["CACHE_ENABLED"] = "false";
    o.env["RATE_LIMIT_ENABLED"] = "false";
    o.env["ASAN_OPTIONS"] = asan_options_for_measuring();
    return o;
  }

  // The next model call streams `chunks` pieces of 8 KiB.
  static void script_long_stream(int chunks) {
    std::vector<std::string> pieces(static_cast<std::size_t>(chunks), std::string(8192, 'x'));
    ASSERT_TRUE(fake()->script("{\"stream_chunks\":" + json_array_of(pieces) + "}")) << fake()->error();
  }

  bool upstream_closed() {
    return FakeLlmProcess::eventually(
        [&] {
          for (const Json& r : fake()->model_requests()) {
            if (str(r["path"]).find(":streamGenerateContent") != std::string::npos && r["client_closed"].as_bool()) {
              return true;
            }
          }
          return false;
        },
        milliseconds(5000));
  }
};

TEST_F(AbusiveSseReaderTest, AnSseStreamToAClientThatDoesNotReadIsDroppedAndItsModelCallEnded) {
  // 24 MiB of events, over ~3 s, into a 4 KiB receive buffer: the server
  // holds up to its per-connection bound (8 MiB), then drops the client and
  // stops the model call rather than buffer the rest.
  ASSERT_NO_FATAL_FAILURE(script_long_stream(3000));
  const std::vector<int> pids = worker_pids(*server());
  ASSERT_EQ(pids.size(), 1u);
  const long before = total_resident_kib(pids);
  RawConnection reader;
  ASSERT_TRUE(reader.connect(port(), milliseconds(2000), 4096));
  std::string request = build_request("POST", "/tell-joke/stream", "{}", {{"X-Request-ID", "never-reads"}});
  ASSERT_EQ(reader.send_some(request, milliseconds(2000)), request.size());
  std::optional<Json> dropped = server()->wait_event("slow_client_dropped", milliseconds(15000));
  ASSERT_TRUE(dropped) << "the stream was buffered without bound\n" << server()->stdout_text();
  EXPECT_EQ(str((*dropped)["level"]), "warning");
  EXPECT_TRUE(upstream_closed()) << "the model call went on for a client that was gone";
  EXPECT_TRUE(reader.read_until_closed(milliseconds(5000))) << "the dropped connection is still open";
  EXPECT_EQ(reader.received().rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reader.received().substr(0, 200);
  EXPECT_LT(reader.received_bytes(), 24u << 20) << "the whole stream arrived after all";
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_LT(total_resident_kib(pids) - before, kFlatKib) << "memory did not come back after the drop";
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}").status, 200);
}

TEST_F(AbusiveSseReaderTest, AnHttp2StreamWhoseReaderIsBehindIsResetAndTheConnectionGoesOn) {
  // The client grants no flow-control window: the stream's events can only
  // queue. Past the per-stream bound (1 MiB) it is reset (CANCEL), the model
  // call ends, and the connection's other streams are served.
  ASSERT_NO_FATAL_FAILURE(script_long_stream(3000));
  h2::Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(h2::preface({{0x4, 0}}) +
                     h2::frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1,
                               h2::request_block("POST", "/tell-joke/stream"))))
      << w.error();
  std::optional<h2::Frame> rst = w.until(h2::kRstStream, 1u, milliseconds(15000));
  ASSERT_TRUE(rst) << "the stream was not reset: " << w.error();
  EXPECT_EQ(rst->rst_error(), h2::kCancel);
  EXPECT_TRUE(upstream_closed()) << "the model call went on for a reset stream";
  ASSERT_TRUE(w.send(h2::frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 3, h2::request_block("GET", "/health"))))
      << w.error();
  ASSERT_TRUE(w.send(h2::window_update(3, 1000))) << w.error();
  std::optional<std::string> next = h2::body_of_stream(w, 3);
  ASSERT_TRUE(next) << w.error();
  EXPECT_EQ(*next, R"({"status":"ok"})");
}

// ---------------------------------------------------------------- a flood up to the fd limit

TEST(AbusiveFloodTest, AConnectionFloodPastTheFdLimitIsSurvivedAndServedThrough) {
  // One worker that may hold 64 descriptors, 300 idle connections: accept(2)
  // fails with EMFILE while the kernel queues the rest. The worker must go
  // on (pausing its accepts), close each idle connection at READ_TIMEOUT,
  // work through the queue, and serve the client queued behind the flood.
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
  o.launcher = {"/bin/bash", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""};
  o.env = {{"READ_TIMEOUT", "1"}, {"RATE_LIMIT_ENABLED", "false"}};
  std::string why;
  std::unique_ptr<ServerProcess> server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  std::vector<RawConnection> flood(300);
  for (RawConnection& c : flood) ASSERT_TRUE(c.connect(server->port(), milliseconds(2000)));
  std::optional<Json> emfile = server->wait_event("accept_failed", milliseconds(5000),
                                                  [](genkit::JsonView v) { return v["errno"].as_number() == EMFILE; });
  ASSERT_TRUE(emfile) << "the flood did not reach the fd limit\n" << server->stdout_text();
  auto queued = std::async(std::launch::async, [&] {
    HttpClient c(server->port(), milliseconds(2000));
    return c.request("GET", "/health", {}, {{"X-Request-ID", "behind-the-flood"}}, milliseconds(25000));
  });
  for (std::size_t i = 0; i < flood.size(); ++i) {
    ASSERT_TRUE(flood[i].read_until_closed(milliseconds(25000))) << "flood connection " << i << " never closed";
    EXPECT_EQ(flood[i].received_bytes(), 0u) << "an idle connection is closed without an answer";
  }
  std::optional<HttpResponse> behind = queued.get();
  ASSERT_TRUE(behind) << "the client behind the flood was never served";
  EXPECT_EQ(behind->status, 200);
  EXPECT_FALSE(server->exited());
  EXPECT_TRUE(server->events("worker_exited").empty()) << server->stdout_text();
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  EXPECT_EQ(http_post(server->port(), "/tell-joke", "{}").status, 200);
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
  EXPECT_TRUE(server->sanitizer_findings().empty()) << server->stderr_text();
}

}  // namespace
}  // namespace itest
