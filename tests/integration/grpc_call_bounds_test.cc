// What bounds a unary gRPC call, through the real supervisor and grpcd with
// Gemini on fake_llm: the client's deadline (the model call is cut off
// with it, not left running), the client's cancel (the upstream request is
// closed), and MAX_BODY_SIZE as the largest request message
// (RESOURCE_EXHAUSTED, and the daemon goes on serving).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/grpc_client.h"

namespace itest {
namespace {

using genkit::Json;

constexpr const char* kGenerate = ":generateContent";

class GrpcCallBoundsTest : public GrpcServerTest<GrpcCallBoundsTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }
};

TEST_F(GrpcCallBoundsTest, ClientDeadlineEndsTheCallAndTheModelCall) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  // The model takes 3 s; the client gives the call 300 ms.
  ASSERT_TRUE(fake()->script(R"({"delay_ms":3000})")) << fake()->error();
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(300));
  const std::string id = unique_request_id("deadline");
  ctx.AddMetadata("x-request-id", id);
  gpb::JokeRequest req;
  req.set_name("Slowpoke");
  gpb::JokeResponse resp;
  auto started = Clock::now();
  grpc::Status status = stub().TellJoke(&ctx, req, &resp);
  auto took = Clock::now() - started;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(status);
  EXPECT_LT(took, milliseconds(1000));

  // The daemon stops the model call at the deadline: the fake sees its
  // request closed well before the 3 s reply would have been written.
  std::string last;
  Json closed = wait_upstream_closed(*fake(), kGenerate, 0, milliseconds(2000), &last);
  ASSERT_FALSE(closed.view().is_null()) << "the model call outlived the client's deadline; fake saw: " << last;
  EXPECT_FALSE(closed["finished"].as_bool()) << closed.dump();
  EXPECT_LT(Clock::now() - started, milliseconds(3000));

  std::optional<Json> line = server().wait_event("grpc_request", milliseconds(3000), [&](genkit::JsonView v) {
    return v["request_id"].as_string() == id;
  });
  ASSERT_TRUE(line) << "no grpc_request line for " << id;
  EXPECT_EQ(str((*line)["method"]), "/genkit.sample.v1.GenkitService/TellJoke");
  EXPECT_LT((*line)["duration_ms"].as_number(), 1500) << line->dump();
}

TEST_F(GrpcCallBoundsTest, CancellingAUnaryCallClosesTheUpstreamRequest) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  // The model never answers: only a cancel can end its request.
  ASSERT_TRUE(fake()->script(R"({"hang":true})")) << fake()->error();
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(15000));
  std::atomic<bool> reached{false};
  std::jthread canceller([&] {
    // Cancel once the call has reached the model.
    reached = FakeLlmProcess::eventually([&] { return !model_calls_to(*fake(), kGenerate).empty(); },
                                         milliseconds(5000));
    ctx.TryCancel();
  });
  gpb::JokeRequest req;
  req.set_name("Hangs");
  gpb::JokeResponse resp;
  auto started = Clock::now();
  grpc::Status status = stub().TellJoke(&ctx, req, &resp);
  canceller.join();
  ASSERT_TRUE(reached) << "the call never reached the model";
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << describe(status);
  EXPECT_LT(Clock::now() - started, milliseconds(5000));

  std::string last;
  Json closed = wait_upstream_closed(*fake(), kGenerate, 0, milliseconds(3000), &last);
  ASSERT_FALSE(closed.view().is_null()) << "the upstream request was not closed after the cancel; fake saw: " << last;
  EXPECT_FALSE(closed["finished"].as_bool());

  // Nothing is stuck: the next call goes through.
  gpb::JokeResponse next;
  grpc::Status again = joke("Prompt", &next);
  EXPECT_TRUE(again.ok()) << describe(again);
  EXPECT_NE(next.joke().find("Prompt"), std::string::npos) << next.joke();
}

TEST_F(GrpcCallBoundsTest, AMessageOverMaxBodySizeIsResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}, {"MAX_BODY_SIZE", "4096"}}));
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(5000));
  gpb::TranslateRequest big;
  big.set_text(std::string(10 * 1024, 'a'));
  big.set_target_language("German");
  gpb::TranslationResponse resp;
  grpc::Status status = stub().TranslateText(&ctx, big, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(status);
  EXPECT_TRUE(model_calls_to(*fake(), kGenerate).empty()) << "an oversized message must not reach the model";

  // The next, normal call on the same channel succeeds.
  grpc::ClientContext ctx2;
  set_timeout(ctx2, milliseconds(10000));
  gpb::TranslateRequest small;
  small.set_text("good morning");
  small.set_target_language("German");
  gpb::TranslationResponse ok;
  grpc::Status next = stub().TranslateText(&ctx2, small, &ok);
  EXPECT_TRUE(next.ok()) << describe(next);
  EXPECT_FALSE(ok.translated_text().empty());
  EXPECT_FALSE(model_calls_to(*fake(), kGenerate).empty());
}

}  // namespace
}  // namespace itest
