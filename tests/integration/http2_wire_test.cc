// HTTP/2 as only a raw-frame client can exercise it (tests/support/h2_wire.h):
// the flood guards (rapid reset, CONTINUATION flood, oversized header
// blocks) end the connection with GOAWAY(ENHANCE_YOUR_CALM) after bounded
// work and leave the workers serving; a header list over the limit is a
// 431; timeouts (408, idle GOAWAY); flow control; a client that resets or
// drops an SSE stream cancels its flow; a drain ends open streams first.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <set>
#include <thread>

#include "tests/support/h2_wire.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using namespace itest::h2;
using std::chrono::milliseconds;

constexpr int kMaxBody = 4096;

class Http2WireTest : public SharedServerTest<Http2WireTest> {
 public:
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    SharedServerTest<Http2WireTest>::TearDownTestSuite();
  }
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MAX_BODY_SIZE", std::to_string(kMaxBody)},
             {"READ_TIMEOUT", "1"},
             {"KEEP_ALIVE_TIMEOUT", "2"},
             {"MOCK_CHUNK_DELAY_MS", "100"},
             {"RATE_LIMIT_ENABLED", "false"}};
    return o;
  }
};

std::string get(uint32_t stream, const std::string& path = "/health") {
  return frame(kHeaders, kEndHeaders | kEndStream, stream, request_block("GET", path));
}

// The body of `stream` up to its END_STREAM (frames of other streams are skipped).
std::optional<std::string> read_body(Wire& w, uint32_t stream, milliseconds timeout = milliseconds(5000)) {
  std::string body;
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    std::optional<Frame> f = w.until(kData, stream, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    if (!f) return std::nullopt;
    body += f->payload;
    if (f->flags & kEndStream) return body;
  }
}

// /health on fresh connections, enough of them to reach both workers; and
// no worker died on the way.
void expect_workers_serve(ServerProcess& server) {
  for (int i = 0; i < 6; ++i) {
    Wire w;
    ASSERT_TRUE(w.connect(server.port())) << w.error();
    ASSERT_TRUE(w.send(preface() + get(1))) << w.error();
    std::optional<std::string> body = read_body(w, 1);
    ASSERT_TRUE(body) << "connection " << i << ": " << w.error();
    EXPECT_EQ(*body, R"({"status":"ok"})");
  }
  EXPECT_TRUE(server.events("worker_exited").empty()) << server.stdout_text();
}

// Sends `flood` and expects GOAWAY(ENHANCE_YOUR_CALM) soon, the connection
// closed after it, and one warning line naming the client and `reason`.
void expect_goaway_for(ServerProcess& server, const std::string& flood, const std::string& reason) {
  std::size_t warnings_before = server.events("http2_abuse").size();
  Wire w;
  ASSERT_TRUE(w.connect(server.port())) << w.error();
  Clock::time_point start = Clock::now();
  w.send(flood, milliseconds(5000));  // (the server may stop reading before the end)
  std::optional<Frame> goaway = w.until(kGoaway, 0u, milliseconds(5000));
  ASSERT_TRUE(goaway) << reason << ": no GOAWAY: " << w.error();
  EXPECT_EQ(goaway->goaway_error(), kEnhanceYourCalm) << reason;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3)) << reason << ": the flood was not stopped early";
  EXPECT_TRUE(w.wait_closed(milliseconds(6000))) << reason << ": still open after the GOAWAY: " << w.error();
  std::optional<genkit::Json> line = server.wait_event("http2_abuse", milliseconds(3000), [&](genkit::JsonView v) {
    return str(v["client"]) == "127.0.0.1" && str(v["reason"]).find(reason) != std::string::npos;
  });
  ASSERT_TRUE(line) << "no http2_abuse warning with " << reason << "\n" << server.stdout_text();
  EXPECT_EQ(str((*line)["level"]), "warning");
  EXPECT_EQ(server.events("http2_abuse").size(), warnings_before + 1) << "one line per connection";
  expect_workers_serve(server);
}

TEST_F(Http2WireTest, RapidResetEndsTheConnection) {
  std::string flood = preface();
  for (uint32_t i = 0; i < 1000; ++i) {
    uint32_t stream = 2 * i + 1;
    flood += get(stream) + rst_stream(stream, kCancel);
  }
  expect_goaway_for(*server(), flood, "rapid reset");
}

TEST_F(Http2WireTest, ContinuationFloodEndsTheConnection) {
  // A header block that never ends: empty CONTINUATION frames, forever.
  std::string flood = preface() + frame(kHeaders, 0, 1, request_block("GET", "/health"));
  for (int i = 0; i < 10000; ++i) flood += frame(kContinuation, 0, 1);
  expect_goaway_for(*server(), flood, "CONTINUATION");
}

TEST_F(Http2WireTest, OversizedHeaderBlockEndsTheConnection) {
  std::string fields;
  for (int i = 0; i < 100; ++i) fields += literal("x-filler", std::string(100, 'f'));
  std::string flood = preface() + frame(kHeaders, 0, 1, request_block("GET", "/health"));
  for (int i = 0; i < 40; ++i) flood += frame(kContinuation, i == 39 ? kEndHeaders : 0, 1, fields);  // ~440 KB
  expect_goaway_for(*server(), flood, "header");
}

TEST_F(Http2WireTest, HeaderListOverTheLimitIs431AndTheConnectionGoesOn) {
  // 70 KB of fields: over the 64 KiB SETTINGS_MAX_HEADER_LIST_SIZE, not a flood.
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 10; ++i) big.emplace_back("x-big-" + std::to_string(i), std::string(7000, 'v'));
  std::string block = request_block("GET", "/health", big);
  std::string bytes = preface();
  for (std::size_t at = 0; at < block.size(); at += 16384) {
    bool first = at == 0, last = at + 16384 >= block.size();
    uint8_t flags = (first ? kEndStream : 0) | (last ? kEndHeaders : 0);
    bytes += frame(first ? kHeaders : kContinuation, flags, 1, block.substr(at, 16384));
  }
  bytes += get(3);
  Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(bytes)) << w.error();
  std::optional<std::string> refused = read_body(w, 1);
  ASSERT_TRUE(refused) << w.error();
  EXPECT_NE(refused->find(R"("error":"Request Header Fields Too Large")"), std::string::npos) << *refused;
  std::optional<std::string> next = read_body(w, 3);
  ASSERT_TRUE(next) << w.error();
  EXPECT_EQ(*next, R"({"status":"ok"})");
}

TEST_F(Http2WireTest, RequestNotReceivedInTimeIs408) {
  Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  std::string headers = request_block("POST", "/tell-joke", {{"content-length", "20"}});
  std::string part = frame(kData, 0, 1, R"({"na)");  // 4 of 20 bytes, then nothing
  ASSERT_TRUE(w.send(preface() + frame(kHeaders, kEndHeaders, 1, headers) + part)) << w.error();
  Clock::time_point start = Clock::now();
  std::optional<std::string> body = read_body(w, 1, milliseconds(5000));
  ASSERT_TRUE(body) << w.error();
  EXPECT_NE(body->find(R"("error":"Request Timeout")"), std::string::npos) << *body;
  EXPECT_GE(Clock::now() - start, milliseconds(500)) << "READ_TIMEOUT is 1 s";
  // The rest of the request is not waited for: the stream is reset (NO_ERROR).
  std::optional<Frame> rst = w.until(kRstStream, 1u, milliseconds(5000));
  ASSERT_TRUE(rst) << w.error();
  EXPECT_EQ(rst->payload, std::string("\0\0\0\0", 4));
  ASSERT_TRUE(w.send(get(3))) << w.error();
  std::optional<std::string> next = read_body(w, 3);
  ASSERT_TRUE(next) << w.error();
  EXPECT_EQ(*next, R"({"status":"ok"})");
}

TEST_F(Http2WireTest, BodyOverTheLimitIs413WithoutReadingOn) {
  Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  // No content-length: the limit is found in the DATA.
  ASSERT_TRUE(w.send(preface() + frame(kHeaders, kEndHeaders, 1, request_block("POST", "/tell-joke")) +
                     frame(kData, 0, 1, std::string(kMaxBody + 1, 'x'))))
      << w.error();
  std::vector<Frame> seen;
  std::optional<Frame> data = w.until(kData, 1u, milliseconds(5000), &seen);
  ASSERT_TRUE(data) << w.error();
  EXPECT_NE(data->payload.find(R"("error":"Payload Too Large")"), std::string::npos) << data->payload;
  // More of the body (within the 256 KiB window the server gave, in force
  // once its SETTINGS are acknowledged): none of it reopens the stream's window.
  std::string more = frame(kSettings, kAck, 0);
  for (int i = 0; i < 12; ++i) more += frame(kData, 0, 1, std::string(16384, 'x'));
  ASSERT_TRUE(w.send(more)) << w.error();
  std::optional<Frame> rst = w.until(kRstStream, 1u, milliseconds(5000), &seen);
  ASSERT_TRUE(rst) << w.error();
  EXPECT_EQ(rst->payload, std::string("\0\0\0\0", 4)) << "NO_ERROR: the response stands";
  for (const Frame& f : seen) EXPECT_FALSE(f.type == kWindowUpdate && f.stream == 1) << "stream 1's window reopened";
}

TEST_F(Http2WireTest, IdleConnectionGetsGoawayAndCloses) {
  Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(preface() + get(1))) << w.error();
  ASSERT_TRUE(read_body(w, 1)) << w.error();
  Clock::time_point idle = Clock::now();
  std::optional<Frame> goaway = w.until(kGoaway, 0u, milliseconds(6000));
  ASSERT_TRUE(goaway) << w.error();
  EXPECT_GE(Clock::now() - idle, milliseconds(1500)) << "KEEP_ALIVE_TIMEOUT is 2 s";
  EXPECT_EQ(goaway->goaway_error(), kNoError);
  EXPECT_EQ(goaway->goaway_last_stream(), 1u);
  EXPECT_TRUE(w.wait_closed(milliseconds(3000))) << w.error();
}

TEST_F(Http2WireTest, FlowControlHoldsTheBodyUntilTheClientOpensItsWindow) {
  Wire w;
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(preface({{0x4, 0}}) + get(1))) << w.error();  // SETTINGS_INITIAL_WINDOW_SIZE = 0
  ASSERT_TRUE(w.until(kHeaders, 1u, milliseconds(5000))) << w.error();
  EXPECT_FALSE(w.until(kData, 1u, milliseconds(700))) << "DATA sent into a closed window";
  ASSERT_FALSE(w.closed()) << w.error();
  ASSERT_TRUE(w.send(window_update(1, 1000))) << w.error();
  std::optional<std::string> body = read_body(w, 1);
  ASSERT_TRUE(body) << w.error();
  EXPECT_EQ(*body, R"({"status":"ok"})");
}

// A client that asks for a lot and reads late: the server stops pulling
// frames (and reading input) while its output is backed up, and resumes
// as the client reads. Nothing is lost or reset.
TEST_F(Http2WireTest, LateReaderGetsEveryResponse) {
  Wire w;
  w.set_receive_buffer(4096);
  ASSERT_TRUE(w.connect(port())) << w.error();
  // Windows wide open: only the socket holds the server back.
  ASSERT_TRUE(w.send(preface({{0x4, 0x7fffffff}}) + window_update(0, 0x7fffffff - 65535))) << w.error();
  for (uint32_t round = 0; round < 2; ++round) {
    std::string batch;
    for (uint32_t i = 0; i < 100; ++i) batch += get(200 * round + 2 * i + 1, "/metrics");  // (the stream limit)
    ASSERT_TRUE(w.send(batch)) << w.error();
    std::this_thread::sleep_for(milliseconds(300));
    // More input while the answers wait: PINGs, each to be answered.
    std::string pings;
    for (int i = 0; i < 20; ++i) pings += frame(kPing, 0, 0, std::string(8, static_cast<char>('a' + i)));
    ASSERT_TRUE(w.send(pings)) << w.error();
    std::set<uint32_t> ended;
    int acks = 0;
    std::size_t body_bytes = 0;
    while (ended.size() < 100 || acks < 20) {
      std::optional<Frame> f = w.next(milliseconds(5000));
      ASSERT_TRUE(f) << "round " << round << ": " << ended.size() << " streams ended, " << acks << " PINGs answered: "
                     << w.error();
      ASSERT_NE(f->type, kRstStream) << "stream " << f->stream << " reset";
      ASSERT_NE(f->type, kGoaway);
      if (f->type == kPing && (f->flags & kAck)) ++acks;
      if (f->type == kData) body_bytes += f->payload.size();
      if ((f->type == kData || f->type == kHeaders) && (f->flags & kEndStream)) ended.insert(f->stream);
    }
    EXPECT_GT(body_bytes, 100u * 1000) << "the /metrics bodies";
  }
}

// A client that writes far faster than it reads (here: 300,000 PINGs, 5 MB
// of answers): once the socket is full the server stops reading it, rather
// than queueing answers without end (or tripping nghttp2's flood limit),
// and catches up as the client reads.
TEST_F(Http2WireTest, ClientThatDoesNotReadIsHeldBackNotQueuedFor) {
  constexpr int kPings = 300000;
  Wire w;
  w.set_receive_buffer(4096);
  ASSERT_TRUE(w.connect(port())) << w.error();
  ASSERT_TRUE(w.send(preface())) << w.error();
  std::string pings;
  for (int i = 0; i < kPings; ++i) pings += frame(kPing, 0, 0, std::string(8, 'p'));
  std::atomic<bool> sent{false};
  std::thread writer([&] {  // blocks while the server holds back; the main thread reads
    std::string_view rest = pings;
    Clock::time_point deadline = Clock::now() + std::chrono::seconds(20);
    while (!rest.empty() && Clock::now() < deadline) {
      ssize_t n = ::send(w.fd(), rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        rest.remove_prefix(static_cast<std::size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        break;
      } else {
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
    sent = rest.empty();
  });
  std::this_thread::sleep_for(milliseconds(1000));  // read nothing for a while
  int acks = 0;
  std::optional<Frame> f;
  while (acks < kPings && (f = w.next(milliseconds(5000)))) {
    ASSERT_NE(f->type, kGoaway) << "error " << f->goaway_error() << " after " << acks << " answers";
    if (f->type == kPing && (f->flags & kAck)) ++acks;
  }
  writer.join();
  EXPECT_TRUE(sent);
  EXPECT_EQ(acks, kPings) << w.error();
}

// An SSE stream the client gives up on: reset (the connection goes on) or
// the whole connection closed. Either way the flow is cancelled.
TEST_F(Http2WireTest, ClientResetOrCloseMidSseCancelsTheFlow) {
  for (bool reset : {true, false}) {
    std::string id = reset ? "h2-sse-reset" : "h2-sse-close";
    Wire w;
    ASSERT_TRUE(w.connect(port())) << w.error();
    ASSERT_TRUE(w.send(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1,
                                         request_block("POST", "/tell-story/stream", {{"x-request-id", id}}))))
        << w.error();
    std::optional<Frame> first = w.until(kData, 1u, milliseconds(5000));
    ASSERT_TRUE(first) << id << ": " << w.error();
    EXPECT_EQ(first->payload.rfind("data: {\"chunk\": ", 0), 0u) << first->payload;
    EXPECT_FALSE(first->flags & kEndStream);
    if (reset) {
      ASSERT_TRUE(w.send(rst_stream(1, kCancel) + get(3))) << w.error();
      std::optional<std::string> next = read_body(w, 3);
      ASSERT_TRUE(next) << "the connection must survive a stream reset: " << w.error();
      EXPECT_EQ(*next, R"({"status":"ok"})");
    } else {
      w.close();
    }
    std::optional<genkit::Json> gone = server()->wait_event(
        "client_disconnected", milliseconds(3000), [&](genkit::JsonView v) { return str(v["request_id"]) == id; });
    EXPECT_TRUE(gone) << id << ": no client_disconnected (logged only while the stream runs)\n"
                      << server()->stdout_text();
  }
}

// SIGTERM with an SSE stream open: GOAWAY (shutdown notice, then the last
// stream id), the stream runs to its end, then the connection closes and
// the server exits 0.
TEST(Http2DrainTest, DrainFinishesOpenStreamsBehindGoaway) {
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
  o.env = {{"MOCK_CHUNK_DELAY_MS", "150"}};
  std::string why;
  std::unique_ptr<ServerProcess> server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  Wire w;
  ASSERT_TRUE(w.connect(server->port())) << w.error();
  std::string story = request_block("POST", "/tell-story/stream");
  ASSERT_TRUE(w.send(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, story))) << w.error();
  ASSERT_TRUE(w.until(kData, 1u, milliseconds(5000))) << w.error();
  ASSERT_TRUE(server->signal(SIGTERM));
  std::vector<Frame> goaways;
  std::string rest;
  bool ended = false;
  while (std::optional<Frame> f = w.next(milliseconds(8000))) {
    if (f->type == kGoaway) goaways.push_back(*f);
    if (f->type == kData && f->stream == 1) {
      rest += f->payload;
      ended = ended || (f->flags & kEndStream);
    }
  }
  EXPECT_TRUE(w.closed()) << w.error();
  ASSERT_EQ(goaways.size(), 2u);
  EXPECT_EQ(goaways[0].goaway_last_stream(), 0x7fffffffu) << "a shutdown notice first";
  EXPECT_EQ(goaways[1].goaway_last_stream(), 1u);
  EXPECT_EQ(goaways[1].goaway_error(), kNoError);
  EXPECT_TRUE(ended) << rest;
  EXPECT_NE(rest.find(R"(data: {"done": true, "story": )"), std::string::npos) << rest;
  EXPECT_EQ(server->wait_exit(milliseconds(10000)), std::optional<int>(0)) << server->stderr_text();
  EXPECT_TRUE(server->sanitizer_findings().empty()) << server->stderr_text();
}

}  // namespace
}  // namespace itest
