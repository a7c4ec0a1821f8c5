// HTTP/2 beside HTTP/1.1 on the same port, checked with the clients users
// have: curl (prior knowledge and "Upgrade: h2c"), nghttp (frames and their
// timing, several streams on one connection) and h2load (many concurrent
// streams); h2 over TLS through ALPN. The raw-frame cases (floods,
// timeouts, flow control, resets) are in http2_wire_test.cc.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <set>

#include "tests/support/command.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kToolTimeout{20000};
constexpr int kMaxBody = 4096;
constexpr int kChunkDelayMs = 60;

class Http2Test : public SharedServerTest<Http2Test> {
 public:
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    SharedServerTest<Http2Test>::TearDownTestSuite();
  }
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MAX_BODY_SIZE", std::to_string(kMaxBody)},
             {"MOCK_CHUNK_DELAY_MS", std::to_string(kChunkDelayMs)},
             {"RATE_LIMIT_ENABLED", "false"}};  // (h2load sends hundreds of POSTs)
    return o;
  }
  static std::string url(const std::string& path) { return "http://127.0.0.1:" + std::to_string(port()) + path; }
};

// A file with `content`, removed with the object.
struct TempFile {
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/genkit-h2-XXXXXX";
    int fd = mkstemp(tmpl);
    path = tmpl;
    if (fd >= 0) close(fd);
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { unlink(path.c_str()); }
  std::string path;
};

// What `curl -i` printed: every status line (a 101 first after an
// upgrade), the last head's fields as received, and the body.
struct CurlReply {
  std::vector<std::string> status_lines;
  std::string version;  // of the final response: "HTTP/2"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  std::string raw;

  std::optional<std::string> field(const std::string& name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
};

CurlReply parse_curl(const std::string& out) {
  CurlReply r;
  r.raw = out;
  std::size_t pos = 0;
  while (out.compare(pos, 5, "HTTP/") == 0) {
    std::size_t end = out.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    std::string head = out.substr(pos, end - pos);
    pos = end + 4;
    std::size_t eol = head.find("\r\n");
    std::string status_line = head.substr(0, eol);
    r.status_lines.push_back(status_line);
    std::size_t sp = status_line.find(' ');
    r.version = status_line.substr(0, sp);
    r.status = std::atoi(status_line.c_str() + sp + 1);
    r.fields.clear();
    while (eol != std::string::npos) {
      std::size_t start = eol + 2;
      eol = head.find("\r\n", start);
      std::string line = head.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::size_t v = line.find_first_not_of(' ', colon + 1);
      r.fields.emplace_back(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
    }
    if (r.status >= 200) break;  // (a 1xx head is followed by the real one)
  }
  r.body = out.substr(pos);
  return r;
}

CurlReply curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "-sS", "-i", "--max-time", "15"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult c = run_command(argv, kToolTimeout);
  EXPECT_EQ(c.exit_code, std::optional<int>(0)) << "curl failed: " << c.err;
  return parse_curl(c.out);
}

CommandResult tool(const std::vector<std::string>& argv) {
  CommandResult c = run_command(argv, kToolTimeout);
  EXPECT_TRUE(c.exit_code.has_value()) << argv[0] << " did not finish in time";
  return c;
}

// Every field name as an HTTP/2 peer must send it, plus the fields every
// response carries.
void expect_h2_head(const CurlReply& r, const std::string& what) {
  EXPECT_EQ(r.version, "HTTP/2") << what << "\n" << r.raw;
  for (const auto& [name, value] : r.fields) {
    bool lower =
        std::none_of(name.begin(), name.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
    EXPECT_TRUE(lower) << what << ": field name not lower-case: " << name;
    EXPECT_NE(name, "connection") << what;
    EXPECT_NE(name, "transfer-encoding") << what;
  }
  EXPECT_TRUE(r.field("date").has_value()) << what;
  EXPECT_TRUE(r.field("x-request-id").has_value()) << what;
  EXPECT_EQ(r.field("x-content-type-options").value_or("<missing>"), "nosniff") << what;
  EXPECT_EQ(r.field("x-frame-options").value_or("<missing>"), "DENY") << what;
  EXPECT_EQ(r.field("content-security-policy").value_or("<missing>"), "default-src 'none'") << what;
}

void expect_json_error(const CurlReply& r, int status, const std::string& reason, const std::string& what) {
  EXPECT_EQ(r.status, status) << what << "\n" << r.raw;
  genkit::Result<genkit::Json> j = genkit::Json::parse(r.body);
  ASSERT_TRUE(j.ok()) << what << ": not JSON: " << r.body;
  EXPECT_EQ(str(j->view()["error"]), reason) << what;
  EXPECT_TRUE(j->view()["detail"].is_string()) << what;
  expect_h2_head(r, what);
}

const char* const kJoke = "Echo: Tell a medium-length joke about Waffles for user anonymous.";

TEST_F(Http2Test, PriorKnowledgeServesHealthAndJoke) {
  CurlReply h = curl({"--http2-prior-knowledge", url("/health")});
  EXPECT_EQ(h.status, 200);
  expect_h2_head(h, "GET /health");
  EXPECT_EQ(h.body, R"({"status":"ok"})");
  EXPECT_EQ(h.field("content-length").value_or("<missing>"), "15");
  EXPECT_TRUE(is_uuid4(h.field("x-request-id").value_or(""))) << h.raw;

  CurlReply j = curl({"--http2-prior-knowledge", "-X", "POST", url("/tell-joke"), "-H",
                      "Content-Type: application/json", "-H", "X-Request-ID: h2-joke-1", "-d",
                      R"({"name":"Waffles"})"});
  EXPECT_EQ(j.status, 200) << j.raw;
  expect_h2_head(j, "POST /tell-joke");
  EXPECT_EQ(j.field("x-request-id").value_or(""), "h2-joke-1");
  EXPECT_EQ(j.field("content-type").value_or(""), "application/json");
  genkit::Result<genkit::Json> body = genkit::Json::parse(j.body);
  ASSERT_TRUE(body.ok()) << j.body;
  EXPECT_EQ(str(body->view()["joke"]), kJoke);
}

TEST_F(Http2Test, UpgradeFromHttp11ServesTheRequestAsStreamOne) {
  CurlReply h = curl({"--http2", url("/health")});
  ASSERT_FALSE(h.status_lines.empty()) << h.raw;
  EXPECT_EQ(h.status_lines.front(), "HTTP/1.1 101 Switching Protocols") << h.raw;
  EXPECT_EQ(h.status, 200);
  expect_h2_head(h, "upgraded GET /health");
  EXPECT_EQ(h.body, R"({"status":"ok"})");

  CurlReply j = curl({"--http2", "-X", "POST", url("/tell-joke"), "-H", "X-Request-ID: h2-up-2", "-d",
                      R"({"name":"Waffles"})"});
  EXPECT_EQ(j.status_lines.front(), "HTTP/1.1 101 Switching Protocols") << j.raw;
  EXPECT_EQ(j.status, 200) << j.raw;
  expect_h2_head(j, "upgraded POST /tell-joke");
  EXPECT_EQ(j.field("x-request-id").value_or(""), "h2-up-2");
  genkit::Result<genkit::Json> body = genkit::Json::parse(j.body);
  ASSERT_TRUE(body.ok()) << j.body;
  EXPECT_EQ(str(body->view()["joke"]), kJoke);

  // Later requests of the same curl go over the upgraded connection.
  CommandResult two = tool({"curl", "-sS", "--http2", "-o", "/dev/null", "-o", "/dev/null", "-w",
                            "%{http_version} %{http_code}\n", url("/health"), url("/healthz")});
  EXPECT_EQ(two.out, "2 200\n2 200\n") << two.err;
}

TEST_F(Http2Test, UpgradeNotTakenIsAnsweredOverHttp11) {
  // No valid HTTP2-Settings, HTTP/1.0, or another protocol: plain HTTP/1.1
  // answers, and what is pipelined behind still works.
  HttpClient c(port());
  std::string batch =
      build_request("GET", "/health", {},
                    {{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "not base64!"},
                     {"X-Request-ID", "up-1"}}) +
      build_request("GET", "/health", {},
                    {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"X-Request-ID", "up-2"}}) +
      build_request("POST", "/tell-joke", R"({"name":"Waffles"})",
                    {{"Connection", "Upgrade"}, {"Upgrade", "foo"}, {"X-Request-ID", "up-3"}}) +
      build_request("GET", "/health", {},
                    {{"Connection", "Upgrade"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA"},
                     {"X-Request-ID", "up-4"}}) +  // (Connection does not list HTTP2-Settings)
      build_request("GET", "/healthz", {}, {{"X-Request-ID", "up-5"}});
  ASSERT_TRUE(c.send_raw(batch)) << c.error();
  for (int i = 1; i <= 5; ++i) {
    std::optional<HttpResponse> r = c.read_response();
    ASSERT_TRUE(r) << "response " << i << ": " << c.error();
    EXPECT_EQ(r->version, "HTTP/1.1");
    EXPECT_EQ(r->status, 200) << "response " << i << ": " << r->body;
    EXPECT_EQ(r->header("x-request-id").value_or(""), "up-" + std::to_string(i));
  }
  HttpClient old(port());
  ASSERT_TRUE(old.send_raw("GET /health HTTP/1.0\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                           "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"))
      << old.error();
  std::optional<HttpResponse> r = old.read_response();
  ASSERT_TRUE(r) << old.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->version, "HTTP/1.0");
}

// nghttp -v: one line per frame, with the time it arrived.
struct DataFrame {
  double at = 0;
  int stream = 0;
  bool end_stream = false;
};

std::vector<DataFrame> data_frames(const std::string& nghttp_out) {
  std::vector<DataFrame> frames;
  static const std::regex re(R"(\[\s*([0-9.]+)\] recv DATA frame <length=\d+, flags=0x([0-9a-f]+), stream_id=(\d+)>)");
  for (std::sregex_iterator it(nghttp_out.begin(), nghttp_out.end(), re), end; it != end; ++it) {
    DataFrame f;
    f.at = std::stod((*it)[1]);
    f.end_stream = (std::stoi((*it)[2], nullptr, 16) & 1) != 0;
    f.stream = std::stoi((*it)[3]);
    frames.push_back(f);
  }
  return frames;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

TEST_F(Http2Test, SseEventsArriveIncrementallyEachInItsOwnDataFrame) {
  TempFile body(R"({"name":"Waffles","topic":"a lighthouse keeper"})");
  struct Case { const char* path; const char* done; };
  for (Case c : {Case{"/tell-joke/stream", R"("joke": ")"}, Case{"/tell-story/stream", R"("story": ")"}}) {
    CommandResult r = tool({"nghttp", "-v", "-d", body.path, url(c.path)});
    ASSERT_EQ(r.exit_code, std::optional<int>(0)) << c.path << ": " << r.err << r.out;
    EXPECT_NE(r.out.find(":status: 200"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("content-type: text/event-stream"), std::string::npos) << r.out;
    std::vector<DataFrame> frames = data_frames(r.out);
    std::size_t events = count(r.out, "data: {");
    ASSERT_GE(frames.size(), 3u) << c.path << "\n" << r.out;
    EXPECT_EQ(frames.size(), events) << c.path << ": one DATA frame per event\n" << r.out;
    EXPECT_TRUE(frames.back().end_stream) << r.out;
    // With a pause between the mock's chunks, a server that buffered the
    // stream would deliver every event at once.
    double spread_ms = (frames.back().at - frames.front().at) * 1000;
    EXPECT_GE(spread_ms, kChunkDelayMs * static_cast<double>(frames.size() - 2) / 2) << c.path << "\n" << r.out;
    std::size_t done = r.out.rfind(R"(data: {"done": true, )");
    ASSERT_NE(done, std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.done, done), std::string::npos) << r.out;
  }
  // The same stream through an upgraded connection, read by curl.
  CurlReply up = curl({"--http2", "-N", "-X", "POST", url("/tell-story/stream"), "-d", "{}"});
  EXPECT_EQ(up.status, 200) << up.raw;
  expect_h2_head(up, "upgraded SSE");
  EXPECT_EQ(up.field("cache-control").value_or(""), "no-cache");
  EXPECT_FALSE(up.field("content-length").has_value());
  const char* done =
      R"(data: {"done": true, "story": "Echo: Write a short story (3-4 paragraphs) about a brave cat."})";
  EXPECT_NE(up.body.find(done), std::string::npos) << up.body;
}

TEST_F(Http2Test, ManyConcurrentStreamsOnOneConnection) {
  CommandResult load = tool({"h2load", "-n", "2000", "-c", "2", "-m", "50", url("/health")});
  ASSERT_EQ(load.exit_code, std::optional<int>(0)) << load.err << load.out;
  EXPECT_NE(load.out.find("2000 succeeded, 0 failed, 0 errored, 0 timeout"), std::string::npos) << load.out;
  EXPECT_NE(load.out.find("status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx"), std::string::npos) << load.out;

  TempFile joke(R"({"name":"Waffles"})");
  CommandResult posts = tool({"h2load", "-n", "300", "-c", "1", "-m", "50", "-d", joke.path, url("/tell-joke")});
  ASSERT_EQ(posts.exit_code, std::optional<int>(0)) << posts.err << posts.out;
  EXPECT_NE(posts.out.find("status codes: 300 2xx, 0 3xx, 0 4xx, 0 5xx"), std::string::npos) << posts.out;

  // nghttp: 20 streams of /health and several SSE streams, all on one connection.
  CommandResult many = tool({"nghttp", "-nv", "-m", "20", url("/health")});
  ASSERT_EQ(many.exit_code, std::optional<int>(0)) << many.err << many.out;
  EXPECT_EQ(count(many.out, ":status: 200"), 20u) << many.out;
  EXPECT_EQ(count(many.out, "; Open new stream"), 20u) << many.out;

  TempFile body("{}");
  CommandResult sse =
      tool({"nghttp", "-v", "-m", "3", "-d", body.path, url("/tell-joke/stream"), url("/tell-story/stream")});
  ASSERT_EQ(sse.exit_code, std::optional<int>(0)) << sse.err << sse.out;
  EXPECT_EQ(count(sse.out, ":status: 200"), 6u) << sse.out;
  EXPECT_EQ(count(sse.out, R"(data: {"done": true, "joke": )"), 3u) << sse.out;
  EXPECT_EQ(count(sse.out, R"(data: {"done": true, "story": )"), 3u) << sse.out;
  std::set<int> ended;
  for (const DataFrame& f : data_frames(sse.out)) {
    if (f.end_stream) ended.insert(f.stream);
  }
  EXPECT_EQ(ended.size(), 6u) << sse.out;
}

TEST_F(Http2Test, RoutingAndBodyErrors) {
  expect_json_error(curl({"--http2-prior-knowledge", url("/no-such-route")}), 404, "Not Found", "404");
  CurlReply m = curl({"--http2-prior-knowledge", url("/tell-joke")});
  expect_json_error(m, 405, "Method Not Allowed", "405");
  EXPECT_EQ(m.field("allow").value_or("<missing>"), "POST");
  expect_json_error(curl({"--http2-prior-knowledge", url("/tell-joke"), "-d", "[1"}), 400, "Bad Request", "400");

  // Over MAX_BODY_SIZE: announced by content-length (answered at the
  // headers), and sent as DATA without one (answered when it goes past).
  TempFile big(std::string(kMaxBody + 1000, 'x'));
  expect_json_error(curl({"--http2-prior-knowledge", url("/tell-joke"), "--data-binary", "@" + big.path}), 413,
                    "Payload Too Large", "413 content-length");
  TempFile huge(std::string(4 * 1024 * 1024, 'x'));  // far more than a stream window
  expect_json_error(curl({"--http2-prior-knowledge", url("/tell-joke"), "-H", "Transfer-Encoding: chunked",
                          "--data-binary", "@" + huge.path}),
                    413, "Payload Too Large", "413 DATA");
  // The body limit is not off by one.
  TempFile exact(R"({"name":")" + std::string(kMaxBody - 11, 'a') + R"("})");
  CurlReply ok = curl({"--http2-prior-knowledge", url("/tell-joke"), "--data-binary", "@" + exact.path});
  EXPECT_EQ(ok.status, 400) << "(a valid size, rejected by validation only: name is over 200)\n" << ok.raw;
}

// h2 over TLS: ALPN picks it, and the client then starts with the preface.
class Http2TlsTest : public SharedServerTest<Http2TlsTest> {
 public:
  static std::string dir() {
    static std::string d = [] {
      char tmpl[] = "/tmp/genkit-h2tls-XXXXXX";
      std::string made = mkdtemp(tmpl);
      CommandResult r = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", made + "/key.pem", "-out",
                                     made + "/cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext",
                                     "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                                    kToolTimeout);
      EXPECT_EQ(r.exit_code, std::optional<int>(0)) << r.err;
      return made;
    }();
    return d;
  }
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"TLS_CERT_FILE", dir() + "/cert.pem"},
             {"TLS_KEY_FILE", dir() + "/key.pem"},
             {"RATE_LIMIT_ENABLED", "false"}};
    return o;
  }
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    SharedServerTest<Http2TlsTest>::TearDownTestSuite();
    run_command({"rm", "-rf", dir()}, kToolTimeout);
  }
  static std::string url(const std::string& path) { return "https://127.0.0.1:" + std::to_string(port()) + path; }
};

TEST_F(Http2TlsTest, AlpnH2ServesRequestsAndStreams) {
  CurlReply h = curl({"--http2", "--cacert", dir() + "/cert.pem", url("/health")});
  EXPECT_EQ(h.status, 200) << h.raw;
  expect_h2_head(h, "h2 GET /health");
  EXPECT_TRUE(h.field("strict-transport-security").has_value()) << h.raw;
  CurlReply sse = curl({"--http2", "-N", "--cacert", dir() + "/cert.pem", url("/tell-joke/stream"), "-d", "{}"});
  EXPECT_EQ(sse.status, 200) << sse.raw;
  EXPECT_NE(sse.body.find(R"(data: {"done": true, "joke": )"), std::string::npos) << sse.body;
  CommandResult load = tool({"h2load", "-n", "500", "-c", "2", "-m", "20", url("/health")});
  ASSERT_EQ(load.exit_code, std::optional<int>(0)) << load.err << load.out;
  EXPECT_NE(load.out.find("Application protocol: h2"), std::string::npos) << load.out;
  EXPECT_NE(load.out.find("status codes: 500 2xx, 0 3xx, 0 4xx, 0 5xx"), std::string::npos) << load.out;
  // HTTP/1.1 still works on the same port, and "Upgrade: h2c" is not for
  // TLS (ALPN chooses there): answered over HTTP/1.1.
  CurlReply one = curl({"--http1.1", "--cacert", dir() + "/cert.pem", url("/health")});
  EXPECT_EQ(one.status_lines.front(), "HTTP/1.1 200 OK");
  const std::string upgrade =
      "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
  std::string address = "127.0.0.1:" + std::to_string(port());
  CommandResult up = run_command(
      {"openssl", "s_client", "-connect", address, "-alpn", "http/1.1", "-quiet", "-ign_eof"}, kToolTimeout, upgrade);
  EXPECT_EQ(up.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << up.out << up.err;
}

}  // namespace
}  // namespace itest
