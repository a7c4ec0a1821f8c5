// HTTP/1.1 behaviour on the wire: routing errors, request ids, security
// headers, keep-alive, pipelining, body limits and slow clients. The server
// runs with small limits so each one is cheap to hit.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/test_util.h"

namespace itest {
namespace {

constexpr int kMaxBody = 1024;

class HttpProtocolTest : public SharedServerTest<HttpProtocolTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MAX_BODY_SIZE", std::to_string(kMaxBody)}, {"READ_TIMEOUT", "1"}, {"KEEP_ALIVE_TIMEOUT", "2"}};
    return o;
  }
};

void expect_json_error(const HttpResponse& r, int status, const std::string& what) {
  ASSERT_EQ(r.status, status) << what << ": " << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), r.reason) << what << ": " << r.body;
  EXPECT_TRUE(j["detail"].is_string()) << what << ": " << r.body;
}

void expect_security_headers(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.header("x-content-type-options").value_or("<missing>"), "nosniff") << what;
  EXPECT_EQ(r.header("x-frame-options").value_or("<missing>"), "DENY") << what;
  EXPECT_EQ(r.header("content-security-policy").value_or("<missing>"), "default-src 'none'") << what;
  EXPECT_FALSE(r.has_header("strict-transport-security")) << what << ": HSTS is for TLS only";
}

TEST_F(HttpProtocolTest, UnknownPathIs404) {
  expect_json_error(http_get(port(), "/no-such-route"), 404, "GET /no-such-route");
  expect_json_error(http_post(port(), "/tell-joke/nope", "{}"), 404, "POST /tell-joke/nope");
}

TEST_F(HttpProtocolTest, WrongMethodIs405WithAllowHeader) {
  struct M { const char* method; const char* path; const char* allowed; };
  for (M m : {M{"GET", "/tell-joke", "POST"}, M{"DELETE", "/chat", "POST"}, M{"GET", "/tell-story/stream", "POST"},
              M{"POST", "/health", "GET"}, M{"PUT", "/ready", "GET"}}) {
    HttpClient c(port());
    std::optional<HttpResponse> r = c.request(m.method, m.path, m.method == std::string("GET") ? "" : "{}");
    ASSERT_TRUE(r) << m.method << " " << m.path << ": " << c.error();
    expect_json_error(*r, 405, std::string(m.method) + " " + m.path);
    EXPECT_NE(r->header("allow").value_or("").find(m.allowed), std::string::npos)
        << m.method << " " << m.path << " Allow: " << r->header("allow").value_or("<missing>");
  }
}

TEST_F(HttpProtocolTest, ClientRequestIdIsEchoed) {
  for (const char* path : {"/health", "/no-such-route"}) {
    HttpResponse r = http_get(port(), path, {{"X-Request-ID", "itest-req-42"}});
    ASSERT_NE(r.status, 0) << r.reason;
    EXPECT_EQ(r.header("x-request-id").value_or("<missing>"), "itest-req-42") << path;
  }
  HttpResponse bad = http_post(port(), "/tell-joke", "[1]", {{"X-Request-ID", "itest-req-43"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.header("x-request-id").value_or("<missing>"), "itest-req-43");
}

TEST_F(HttpProtocolTest, GeneratedRequestIdIsAFreshUuid4) {
  HttpResponse a = http_get(port(), "/health");
  HttpResponse b = http_get(port(), "/health");
  std::string ida = a.header("x-request-id").value_or(""), idb = b.header("x-request-id").value_or("");
  EXPECT_TRUE(is_uuid4(ida)) << "X-Request-ID: " << ida;
  EXPECT_TRUE(is_uuid4(idb)) << "X-Request-ID: " << idb;
  EXPECT_NE(ida, idb);
}

TEST_F(HttpProtocolTest, SecurityHeadersOnEveryKindOfResponse) {
  expect_security_headers(http_get(port(), "/health"), "200 /health");
  expect_security_headers(http_post(port(), "/tell-joke", "{}"), "200 /tell-joke");
  expect_security_headers(http_get(port(), "/nope"), "404");
  expect_security_headers(http_get(port(), "/tell-joke"), "405");
  expect_security_headers(http_post(port(), "/tell-joke", "[1]"), "400");
  expect_security_headers(http_post(port(), "/tell-joke", std::string(kMaxBody + 1, ' ')), "413");
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw(build_request("POST", "/tell-joke/stream", "{}"))) << c.error();
  SseResult sse = read_sse(c);
  ASSERT_TRUE(sse.head) << sse.error;
  expect_security_headers(*sse.head, "SSE");
}

TEST_F(HttpProtocolTest, KeepAliveServesSeveralRequestsOnOneSocket) {
  HttpClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  for (int i = 0; i < 3; ++i) {
    std::optional<HttpResponse> h = c.request("GET", "/health");
    ASSERT_TRUE(h) << "request " << i << ": " << c.error();
    EXPECT_EQ(h->status, 200);
    EXPECT_EQ(h->version, "HTTP/1.1");
    EXPECT_FALSE(h->header("connection").value_or("") == "close") << "request " << i;
    std::optional<HttpResponse> j = c.request("POST", "/tell-joke", R"({"name":"Socks"})");
    ASSERT_TRUE(j) << "joke " << i << ": " << c.error();
    EXPECT_EQ(str(json_of(*j)["joke"]), "Echo: Tell a medium-length joke about Socks for user anonymous.");
  }
  // Client errors are answered without dropping the connection.
  std::optional<HttpResponse> nf = c.request("GET", "/nope");
  ASSERT_TRUE(nf) << c.error();
  EXPECT_EQ(nf->status, 404);
  std::optional<HttpResponse> bad = c.request("POST", "/chat", json_with("question", ""));
  ASSERT_TRUE(bad) << c.error();
  EXPECT_EQ(bad->status, 400);
  std::optional<HttpResponse> last = c.request("GET", "/healthz");
  ASSERT_TRUE(last) << "socket not reusable after 404/400: " << c.error();
  EXPECT_EQ(last->status, 200);
}

TEST_F(HttpProtocolTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpClient c(port());
  std::string batch = build_request("GET", "/health", {}, {{"X-Request-ID", "pipe-1"}}) +
                      build_request("POST", "/tell-joke", R"({"name":"Pipe"})", {{"X-Request-ID", "pipe-2"}}) +
                      build_request("GET", "/missing", {}, {{"X-Request-ID", "pipe-3"}}) +
                      build_request("POST", "/chat", "{}", {{"X-Request-ID", "pipe-4"}});
  ASSERT_TRUE(c.send_raw(batch)) << c.error();
  const int expected_status[] = {200, 200, 404, 200};
  for (int i = 0; i < 4; ++i) {
    std::optional<HttpResponse> r = c.read_response();
    ASSERT_TRUE(r) << "response " << i + 1 << ": " << c.error();
    EXPECT_EQ(r->header("x-request-id").value_or(""), "pipe-" + std::to_string(i + 1));
    EXPECT_EQ(r->status, expected_status[i]) << "response " << i + 1 << ": " << r->body;
  }
}

TEST_F(HttpProtocolTest, PipelinedRequestAfterAStreamWaitsForTheStream) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw(build_request("POST", "/tell-joke/stream", "{}", {{"X-Request-ID", "s-1"}}) +
                         build_request("GET", "/health", {}, {{"X-Request-ID", "s-2"}})))
      << c.error();
  SseResult sse = read_sse(c);
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->header("x-request-id").value_or(""), "s-1");
  ASSERT_TRUE(sse.ended) << sse.error;
  ASSERT_FALSE(sse.events.empty());
  EXPECT_NE(sse.events.back().data.find("\"done\""), std::string::npos) << sse.events.back().data;
  std::optional<HttpResponse> h = c.read_response();
  ASSERT_TRUE(h) << c.error();
  EXPECT_EQ(h->header("x-request-id").value_or(""), "s-2");
  EXPECT_EQ(h->status, 200);
}

TEST_F(HttpProtocolTest, ManyPipelinedRequestsToALateReaderAreAllAnsweredInOrder) {
  // Far more than one read of input (the worker reads 16 KiB at a time and
  // stops reading at 256 KiB buffered), answered into a socket the client
  // does not drain until it has sent everything: the server must keep the
  // unparsed rest, resume after each response and queue what the socket
  // will not take yet, without losing or reordering a byte.
  constexpr int kRequests = 4000;
  HttpClient c;
  c.set_receive_buffer(4096);
  ASSERT_TRUE(c.connect(port())) << c.error();
  std::string batch;
  for (int i = 0; i < kRequests; ++i) {
    std::vector<std::pair<std::string, std::string>> h = {{"X-Request-ID", "many-" + std::to_string(i)}};
    batch += i % 2 ? build_request("GET", "/health", {}, h)
                   : build_request("POST", "/tell-joke", json_with("name", "p" + std::to_string(i)), h);
  }
  ASSERT_GT(batch.size(), 256u * 1024) << "the batch should outgrow the server's input bound";
  ASSERT_TRUE(c.send_raw(batch, milliseconds(20000))) << c.error();
  std::this_thread::sleep_for(milliseconds(200));
  for (int i = 0; i < kRequests; ++i) {
    std::optional<HttpResponse> r = c.read_response();
    ASSERT_TRUE(r) << "response " << i << ": " << c.error();
    ASSERT_EQ(r->header("x-request-id").value_or(""), "many-" + std::to_string(i));
    ASSERT_EQ(r->status, 200) << r->body;
    if (i % 2 == 0) {
      ASSERT_NE(r->body.find("about p" + std::to_string(i) + " "), std::string::npos) << r->body;
    }
  }
}

// A server whose responses can outgrow the kernel's socket buffers: the
// debug-only OpenAPI document is several KiB.
class LateReaderTest : public SharedServerTest<LateReaderTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"DEBUG", "true"}, {"LOG_FORMAT", "json"}};
    return o;
  }
};

TEST_F(LateReaderTest, ResponsesBeyondTheSocketBuffersAreQueuedAndDeliveredWhole) {
  // More bytes of responses than the kernel buffers on both sides hold (the
  // server's send buffer grows to 4 MiB): the rest waits in the connection
  // and must be written out as the client reads, in order, byte for byte.
  HttpClient probe(port());
  std::optional<HttpResponse> doc = probe.request("GET", "/openapi.json");
  ASSERT_TRUE(doc) << probe.error();
  ASSERT_EQ(doc->status, 200);
  const std::size_t requests = (6u << 20) / doc->body.size() + 1;
  HttpClient c;
  c.set_receive_buffer(4096);
  ASSERT_TRUE(c.connect(port())) << c.error();
  std::string batch;
  for (std::size_t i = 0; i < requests; ++i) {
    batch += build_request("GET", "/openapi.json", {}, {{"X-Request-ID", "late-" + std::to_string(i)}});
  }
  ASSERT_TRUE(c.send_raw(batch)) << c.error();
  std::this_thread::sleep_for(milliseconds(300));
  for (std::size_t i = 0; i < requests; ++i) {
    std::optional<HttpResponse> r = c.read_response();
    ASSERT_TRUE(r) << "response " << i << " of " << requests << ": " << c.error();
    ASSERT_EQ(r->header("x-request-id").value_or(""), "late-" + std::to_string(i));
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->body, doc->body) << "response " << i;
  }
}

TEST_F(HttpProtocolTest, ConnectionCloseIsHonoured) {
  HttpClient c(port());
  std::optional<HttpResponse> r = c.request("GET", "/health", {}, {{"Connection", "close"}});
  ASSERT_TRUE(r) << c.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection").value_or("<missing>"), "close");
  EXPECT_TRUE(c.wait_closed(milliseconds(2000))) << "server kept the connection open: " << c.error();
}

TEST_F(HttpProtocolTest, BodyOverLimitByContentLengthIs413) {
  HttpResponse r = http_post(port(), "/tell-joke", std::string(kMaxBody + 1, ' '));
  expect_json_error(r, 413, "body of MAX_BODY_SIZE+1 bytes");
  // A large declared length is refused from the headers alone, without
  // waiting for (or reading) the body.
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000000\r\n\r\n{")) << c.error();
  std::optional<HttpResponse> early = c.read_response(milliseconds(3000));
  ASSERT_TRUE(early) << c.error();
  expect_json_error(*early, 413, "Content-Length: 10000000");
}

TEST_F(HttpProtocolTest, BodyAtTheLimitIsAccepted) {
  std::string body = R"({"name":"Edge"})";
  body.resize(kMaxBody, ' ');  // trailing whitespace is valid JSON
  HttpResponse r = http_post(port(), "/tell-joke", body);
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(str(json_of(r)["joke"]), "Echo: Tell a medium-length joke about Edge for user anonymous.");
}

TEST_F(HttpProtocolTest, ChunkedRequestBodyIsDecoded) {
  HttpClient c(port());
  std::string req = "POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "8\r\n{\"name\":\r\n"
                    "9\r\n\"Chunky\"}\r\n"
                    "0\r\n\r\n";
  ASSERT_TRUE(c.send_raw(req)) << c.error();
  std::optional<HttpResponse> resp = c.read_response();
  ASSERT_TRUE(resp) << c.error();
  ASSERT_EQ(resp->status, 200) << resp->body;
  EXPECT_EQ(str(json_of(*resp)["joke"]), "Echo: Tell a medium-length joke about Chunky for user anonymous.");
}

TEST_F(HttpProtocolTest, ChunkedBodyGrowingPastTheLimitIs413) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
      << c.error();
  const std::string chunk = "190\r\n" + std::string(400, ' ') + "\r\n";  // 0x190 = 400 bytes
  for (int i = 0; i < 4; ++i) {
    if (!c.send_raw(chunk)) break;  // the server may already have answered and closed
  }
  std::optional<HttpResponse> r = c.read_response(milliseconds(3000));
  ASSERT_TRUE(r) << c.error();
  expect_json_error(*r, 413, "chunked body of 1600 bytes");
}

TEST_F(HttpProtocolTest, SlowHeadersGet408AndClose) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("POST /tell-joke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")) << c.error();
  auto start = Clock::now();
  std::optional<HttpResponse> r = c.read_response(milliseconds(5000));
  ASSERT_TRUE(r) << "no 408 within 5 s with READ_TIMEOUT=1: " << c.error();
  expect_json_error(*r, 408, "half-sent headers");
  EXPECT_GE(Clock::now() - start, milliseconds(500)) << "408 came before READ_TIMEOUT elapsed";
  EXPECT_TRUE(c.wait_closed(milliseconds(2000))) << "connection left open after 408";
}

TEST_F(HttpProtocolTest, SlowBodyGets408) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{\"questio"))
      << c.error();
  std::optional<HttpResponse> r = c.read_response(milliseconds(5000));
  ASSERT_TRUE(r) << "no 408 within 5 s for a body that never completes: " << c.error();
  expect_json_error(*r, 408, "half-sent body");
  EXPECT_TRUE(c.wait_closed(milliseconds(2000))) << "connection left open after 408";
}

TEST_F(HttpProtocolTest, IdleKeepAliveConnectionIsClosedAfterTimeout) {
  HttpClient c(port());
  std::optional<HttpResponse> r = c.request("GET", "/health");
  ASSERT_TRUE(r) << c.error();
  auto start = Clock::now();
  EXPECT_TRUE(c.wait_closed(milliseconds(6000))) << "idle connection outlived KEEP_ALIVE_TIMEOUT=2";
  EXPECT_GE(Clock::now() - start, milliseconds(1500)) << "idle connection closed before KEEP_ALIVE_TIMEOUT";
}

TEST_F(HttpProtocolTest, EveryRequestIsLoggedWithIdMethodPathStatus) {
  ASSERT_EQ(http_post(port(), "/tell-joke", "{}", {{"X-Request-ID", "log-check-1"}}).status, 200);
  ASSERT_EQ(http_get(port(), "/nowhere", {{"X-Request-ID", "log-check-2"}}).status, 404);
  struct Want { const char* id; const char* method; const char* path; int status; };
  for (Want w : {Want{"log-check-1", "POST", "/tell-joke", 200}, Want{"log-check-2", "GET", "/nowhere", 404}}) {
    auto line = server()->wait_event("request", milliseconds(3000),
                                     [&](genkit::JsonView e) { return e["request_id"].as_string() == w.id; });
    ASSERT_TRUE(line) << "no request log line for " << w.id;
    EXPECT_EQ(str((*line)["method"]), w.method) << line->dump();
    EXPECT_EQ(str((*line)["path"]), w.path) << line->dump();
    EXPECT_EQ((*line)["status"].as_number(), w.status) << line->dump();
  }
}

TEST_F(HttpProtocolTest, WithLogFormatJsonEveryStdoutLineIsAJsonEvent) {
  ASSERT_EQ(http_get(port(), "/health").status, 200);
  std::vector<std::string> lines = server()->stdout_lines();
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    genkit::Result<genkit::Json> j = genkit::Json::parse(line);
    ASSERT_TRUE(j.ok()) << "not JSON: " << line;
    EXPECT_TRUE(j->view()["event"].is_string()) << line;
    EXPECT_TRUE(j->view()["level"].is_string()) << line;
  }
}

}  // namespace
}  // namespace itest
