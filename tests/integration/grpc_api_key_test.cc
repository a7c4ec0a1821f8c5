// API_KEYS on the gRPC side, through the real supervisor and grpcd: the
// "authorization" metadata verbatim is the key (one implementation with
// REST, common/api_keys.h); none → UNAUTHENTICATED, wrong →
// PERMISSION_DENIED, before validation and the model (the fake sees no
// call); the sample's Health RPC and grpc.health.v1 need no key; the key is
// never echoed in a status nor logged.
#include <gtest/gtest.h>

#include "tests/support/grpc_client.h"

namespace itest {
namespace {

constexpr const char* kKey = "grpc-key-4d9e1a";
constexpr const char* kWrongKey = "grpc-wrong-key-77b2";

class GrpcApiKeyTest : public GrpcServerTest<GrpcApiKeyTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  void SetUp() override {
    GrpcServerTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(start_grpc({{"API_KEYS", kKey}, {"CACHE_ENABLED", "false"}}));
  }

  grpc::Status joke_with(const char* key, const std::string& name, gpb::JokeResponse* out) {
    grpc::ClientContext ctx;
    set_timeout(ctx, milliseconds(10000));
    if (key) ctx.AddMetadata("authorization", key);
    gpb::JokeRequest req;
    req.set_name(name);
    return stub().TellJoke(&ctx, req, out);
  }
};

TEST_F(GrpcApiKeyTest, NoKeyUnauthenticatedWrongKeyPermissionDenied) {
  gpb::JokeResponse resp;
  grpc::Status none = joke_with(nullptr, "Pixel", &resp);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(none);
  grpc::Status empty = joke_with("", "Pixel", &resp);
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(empty);
  for (std::string wrong : {std::string(kWrongKey), "Bearer " + std::string(kKey)}) {
    grpc::Status s = joke_with(wrong.c_str(), "Pixel", &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << describe(s);
    EXPECT_EQ(s.error_message().find(wrong), std::string::npos) << "the key is echoed: " << s.error_message();
  }
  // Auth comes before validation: an invalid request without a key is UNAUTHENTICATED.
  grpc::Status invalid = joke_with(nullptr, std::string(201, 'x'), &resp);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(invalid);
  // The server-streaming RPC too.
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(10000));
  gpb::StoryRequest req;
  auto reader = stub().TellStory(&ctx, req);
  gpb::StoryChunk chunk;
  while (reader->Read(&chunk)) {
  }
  grpc::Status story = reader->Finish();
  EXPECT_EQ(story.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(story);
  EXPECT_TRUE(fake()->model_requests().empty()) << "a refused call reached the model";
}

TEST_F(GrpcApiKeyTest, TheKeyAdmitsTheCall) {
  gpb::JokeResponse resp;
  grpc::Status s = joke_with(kKey, "Pixel", &resp);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_FALSE(resp.joke().empty());
  EXPECT_EQ(resp.joke().find(kKey), std::string::npos);
  EXPECT_EQ(fake()->model_requests().size(), 1u);
}

TEST_F(GrpcApiKeyTest, HealthNeedsNoKey) {
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(5000));
  gpb::HealthRequest req;
  gpb::HealthResponse resp;
  grpc::Status s = stub().Health(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(resp.status(), "ok");
  HealthAnswer h = health_check(channel(), "");
  EXPECT_TRUE(h.serving_ok()) << h.describe();
}

TEST_F(GrpcApiKeyTest, KeysAreNeverLogged) {
  gpb::JokeResponse resp;
  ASSERT_TRUE(joke_with(kKey, "Pixel", &resp).ok());
  EXPECT_EQ(joke_with(kWrongKey, "Pixel", &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The access-log lines of both calls are written by now.
  ASSERT_TRUE(server().wait_event_count("grpc_request", 2, milliseconds(3000)));
  std::string logs = server().stdout_text() + server().stderr_text();
  EXPECT_EQ(logs.find(kKey), std::string::npos);
  EXPECT_EQ(logs.find(kWrongKey), std::string::npos);
}

}  // namespace
}  // namespace itest
