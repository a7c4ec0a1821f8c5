// gRPC messages that no grpc++ client sends, written frame by frame over
// h2c (support/grpc_wire.h) to the real grpcd: a message cut short of its
// length prefix (ended, or left open), a prefix over MAX_BODY_SIZE, bytes
// that are no protobuf, a compressed flag with no grpc-encoding, a gzip
// bomb, a NUL in a string field. Each call must end with a clear status
// promptly (or its connection be closed), never reach the model with what
// the client did not say, and leave the daemon serving.
#include <gtest/gtest.h>

#include "tests/support/grpc_client.h"
#include "tests/support/grpc_wire.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using namespace itest::h2;

constexpr int kMaxBody = 4096;
constexpr const char* kTellJoke = "/genkit.sample.v1.GenkitService/TellJoke";

class GrpcAbusiveTest : public SharedServerTest<GrpcAbusiveTest> {
 public:
  static void TearDownTestSuite() {
    stop_and_check_sanitizers(server().get());
    SharedServerTest<GrpcAbusiveTest>::TearDownTestSuite();
  }
  static ServerOptions options() {
    ServerOptions o;
    o.args = {"--port", "0", "--grpc-port", "0", "--workers", "1"};
    o.env = {{"MAX_BODY_SIZE", std::to_string(kMaxBody)}, {"RATE_LIMIT_ENABLED", "false"}, {"CACHE_ENABLED", "false"}};
    return o;
  }

 protected:
  void SetUp() override {
    SharedServerTest<GrpcAbusiveTest>::SetUp();
    grpc_port_ = grpc_port_of(*server());
    ASSERT_GT(grpc_port_, 0) << server()->stdout_text();
    grpcd_pid_ = live_grpcd_pid(*server());
    ASSERT_GT(grpcd_pid_, 0);
  }

  // One call on a connection of its own: the request HEADERS, then `body`
  // in one DATA frame (END_STREAM if `end`), then the reply.
  std::optional<GrpcOutcome> call(const std::string& body, bool end = true,
                                  const std::vector<std::pair<std::string, std::string>>& extra = {},
                                  const std::string& method = kTellJoke) {
    GrpcWire w;
    if (!w.connect(grpc_port_)) {
      ADD_FAILURE() << w.error();
      return std::nullopt;
    }
    std::string bytes = frame(kHeaders, kEndHeaders, 1, grpc_request_block(method, extra)) +
                        frame(kData, end ? kEndStream : 0, 1, body);
    if (!w.send(bytes)) {
      ADD_FAILURE() << w.error();
      return std::nullopt;
    }
    std::optional<GrpcOutcome> o = w.outcome(1, milliseconds(5000));
    if (!o) ADD_FAILURE() << "no end to the call within 5 s: " << w.error();
    return o;
  }

  // The call ended with `code` in its trailers (not a reset, not OK).
  void expect_status(const std::optional<GrpcOutcome>& o, grpc::StatusCode code, const std::string& what) {
    ASSERT_TRUE(o) << what;
    ASSERT_FALSE(o->reset) << what << ": reset with " << *o->reset;
    ASSERT_TRUE(o->status) << what << ": no grpc-status";
    EXPECT_EQ(*o->status, static_cast<int>(code))
        << what << ": " << grpc_code_name(static_cast<grpc::StatusCode>(*o->status)) << " " << o->message;
  }

  // The same grpcd goes on answering a well-formed call.
  void expect_daemon_serves() {
    EXPECT_EQ(live_grpcd_pid(*server()), grpcd_pid_) << "grpcd was replaced\n" << server()->stdout_text();
    auto stub = gpb::GenkitService::NewStub(grpc_channel(grpc_port_));
    grpc::ClientContext ctx;
    set_timeout(ctx, milliseconds(5000));
    gpb::JokeRequest req;
    req.set_name("Afterwards");
    gpb::JokeResponse resp;
    grpc::Status s = stub->TellJoke(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << describe(s);
    EXPECT_EQ(resp.joke(), "Echo: Tell a medium-length joke about Afterwards for user anonymous.");
  }

  static std::string joke_request(const std::string& name) {
    gpb::JokeRequest req;
    req.set_name(name);
    return req.SerializeAsString();
  }

  int grpc_port_ = 0;
  int grpcd_pid_ = 0;
};

TEST_F(GrpcAbusiveTest, AWellFormedRawCallIsAnswered) {
  // (The raw client itself is right: the same framing, whole, is served.)
  std::optional<GrpcOutcome> o = call(grpc_message(joke_request("Raw")));
  expect_status(o, grpc::StatusCode::OK, "a whole message");
  gpb::JokeResponse resp;
  ASSERT_GE(o->data.size(), 5u);
  ASSERT_TRUE(resp.ParseFromString(o->data.substr(5))) << o->data;
  EXPECT_EQ(resp.joke(), "Echo: Tell a medium-length joke about Raw for user anonymous.");
}

TEST_F(GrpcAbusiveTest, AMessageCutShortOfItsLengthIsInvalidArgument) {
  // The stream ends (END_STREAM) before the message does: nothing is left to
  // wait for, and what came is no message of the method.
  const std::string message = joke_request("Truncated");
  struct Case { const char* what; std::string body; };
  const std::vector<Case> cases = {
      {"10 of the 100 bytes the prefix declares", grpc_prefix(false, 100) + message.substr(0, 10)},
      {"the message less its last byte", grpc_prefix(false, static_cast<uint32_t>(message.size())) +
                                              message.substr(0, message.size() - 1)},
      {"a prefix with no message", grpc_prefix(false, 10)},
      {"3 bytes of a prefix", grpc_prefix(false, 10).substr(0, 3)},
      {"100 bytes of the 64 MiB declared", grpc_prefix(false, 64u << 20) + std::string(100, 'x')},
  };
  for (const Case& c : cases) {
    std::optional<GrpcOutcome> o = call(c.body);
    expect_status(o, grpc::StatusCode::INVALID_ARGUMENT, c.what);
    EXPECT_NE(o->message.find("not a valid message"), std::string::npos) << c.what << ": " << o->message;
  }
  expect_daemon_serves();
}

TEST_F(GrpcAbusiveTest, AMessageOverMaxBodySizeIsResourceExhausted) {
  const std::string big = joke_request(std::string(2 * kMaxBody, 'b'));
  std::optional<GrpcOutcome> o = call(grpc_message(big));
  expect_status(o, grpc::StatusCode::RESOURCE_EXHAUSTED, "a message of 2 x MAX_BODY_SIZE");
  EXPECT_NE(o->message.find("larger than max"), std::string::npos) << o->message;
  expect_daemon_serves();
}

TEST_F(GrpcAbusiveTest, BytesThatAreNoProtobufAreInvalidArgument) {
  struct Case { const char* what; std::string payload; };
  const std::vector<Case> cases = {
      {"an over-long varint tag", std::string(11, '\xff')},
      {"a length past the end", std::string("\x0a\x7f" "abc", 5)},
      {"field number 0", std::string("\x02\x01x", 3)},
      {"an end-group with no group", std::string("\x0c", 1)},
      {"a proto3 string that is not UTF-8", std::string("\x0a\x02\xff\xfe", 4)},
  };
  for (const Case& c : cases) {
    std::optional<GrpcOutcome> o = call(grpc_message(c.payload));
    expect_status(o, grpc::StatusCode::INVALID_ARGUMENT, c.what);
  }
  expect_daemon_serves();
}

TEST_F(GrpcAbusiveTest, ACompressedFlagWithoutAnEncodingIsReadOneWayOnly) {
  // The gRPC spec asks for INTERNAL; grpc-core 1.51 reads such a message as
  // the plain bytes it is. Either is one reading of the message (never an
  // inflate of bytes that are not compressed, never a hang).
  for (const char* encoding : {"", "identity"}) {
    std::vector<std::pair<std::string, std::string>> extra;
    if (*encoding) extra.emplace_back("grpc-encoding", encoding);
    std::optional<GrpcOutcome> o = call(grpc_message(joke_request("Flagged"), true), true, extra);
    ASSERT_TRUE(o && o->status) << "grpc-encoding '" << encoding << "'";
    if (*o->status == static_cast<int>(grpc::StatusCode::INTERNAL)) continue;
    ASSERT_EQ(*o->status, 0) << o->message;
    gpb::JokeResponse resp;
    ASSERT_TRUE(o->data.size() > 5 && resp.ParseFromString(o->data.substr(5)));
    EXPECT_EQ(resp.joke(), "Echo: Tell a medium-length joke about Flagged for user anonymous.");
  }
  expect_daemon_serves();
}

TEST_F(GrpcAbusiveTest, CompressedRequestsAreRefusedNotInflated) {
  // A gzip bomb: 3 MiB of protobuf in under MAX_BODY_SIZE of gzip.
  // grpc-core would inflate it whole before checking its size (with the
  // default limit, 1 MiB of gzip is ~1 GiB of memory): compressed requests
  // are UNIMPLEMENTED, bomb or not.
  const std::string bomb = gzip_of(joke_request(std::string(3u << 20, 'z')));
  ASSERT_LT(bomb.size(), static_cast<std::size_t>(kMaxBody));
  for (const std::string& payload : {bomb, gzip_of(joke_request("Zipped")), std::string("not gzip at all")}) {
    std::optional<GrpcOutcome> o = call(grpc_message(payload, true), true, {{"grpc-encoding", "gzip"}});
    expect_status(o, grpc::StatusCode::UNIMPLEMENTED, "gzip, " + std::to_string(payload.size()) + " bytes");
  }
  std::optional<GrpcOutcome> deflate = call(grpc_message("xx", true), true, {{"grpc-encoding", "deflate"}});
  expect_status(deflate, grpc::StatusCode::UNIMPLEMENTED, "deflate");
  expect_daemon_serves();
}

TEST_F(GrpcAbusiveTest, ANulInAStringFieldIsInvalidArgumentNotCutShort) {
  // A proto3 string may hold U+0000; the flows' JSON cannot: the field is
  // refused, not silently cut at the NUL ("A\0B" read as "A").
  std::optional<GrpcOutcome> joke = call(grpc_message(joke_request(std::string("A\0B", 3))));
  expect_status(joke, grpc::StatusCode::INVALID_ARGUMENT, "TellJoke name with a NUL");
  EXPECT_NE(joke->message.find("name: a NUL character"), std::string::npos) << joke->message;
  gpb::StoryRequest story;
  story.set_topic(std::string("cats\0dogs", 9));
  std::optional<GrpcOutcome> stream =
      call(grpc_message(story.SerializeAsString()), true, {}, "/genkit.sample.v1.GenkitService/TellStory");
  expect_status(stream, grpc::StatusCode::INVALID_ARGUMENT, "TellStory topic with a NUL");
  EXPECT_NE(stream->message.find("topic: a NUL character"), std::string::npos) << stream->message;
  expect_daemon_serves();
}

TEST(GrpcAbusiveStallTest, AStreamStalledMidMessageIsClosedNotHeldForever) {
  // The prefix declares 64 MiB, 100 bytes come, and the stream stays open.
  // grpc-core waits for the rest with no timeout of its own; the connection
  // ages out (SHUTDOWN_GRACE=2: after ~1 s) and, its call still not begun
  // past READ_TIMEOUT + REQUEST_TIMEOUT (2 s), is closed.
  ServerOptions o;
  o.args = {"--port", "0", "--grpc-port", "0", "--workers", "1"};
  o.env = {{"MAX_BODY_SIZE", std::to_string(kMaxBody)}, {"SHUTDOWN_GRACE", "2"}, {"READ_TIMEOUT", "1"},
           {"REQUEST_TIMEOUT", "1"}};
  std::string why;
  std::unique_ptr<ServerProcess> server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  const int port = grpc_port_of(*server);
  ASSERT_GT(port, 0);
  GrpcWire w;
  ASSERT_TRUE(w.connect(port)) << w.error();
  ASSERT_TRUE(w.send(frame(kHeaders, kEndHeaders, 1, grpc_request_block(kTellJoke)) +
                     frame(kData, 0, 1, grpc_prefix(false, 64u << 20) + std::string(100, 'x'))))
      << w.error();
  EXPECT_TRUE(w.wire().wait_closed(milliseconds(10000))) << "the stalled call's connection is still open";
  auto stub = gpb::GenkitService::NewStub(grpc_channel(port));
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(5000));
  gpb::JokeRequest req;
  gpb::JokeResponse resp;
  grpc::Status s = stub->TellJoke(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
  EXPECT_TRUE(server->sanitizer_findings().empty()) << server->stderr_text();
}

}  // namespace
}  // namespace itest
