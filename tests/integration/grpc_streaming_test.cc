// TellStory over gRPC through the real supervisor and grpcd, Gemini on
// fake_llm streaming its pieces 150 ms apart: every chunk arrives on its
// own, in order, and adds up to the story REST streams for the same topic;
// a client that cancels mid-stream gets the upstream stream closed; SIGTERM
// lets an open stream finish (every chunk, OK) while the port stops taking
// connections and the service's health says so.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "tests/support/grpc_client.h"

namespace itest {
namespace {

using genkit::Json;

constexpr int kChunkDelayMs = 150;
constexpr const char* kStreamCall = ":streamGenerateContent";

class GrpcStreamTest : public GrpcServerTest<GrpcStreamTest> {
 public:
  static std::vector<std::string> fake_args() { return {"--chunk-delay-ms", std::to_string(kChunkDelayMs)}; }

 protected:
  // The REST twin's stream for `topic`: its chunk texts and the story of its last event.
  struct RestStory {
    std::vector<std::string> chunks;
    std::string story;
  };
  RestStory rest_story(const std::string& topic) {
    RestStory out;
    SseResult sse = post_sse(port(), "/tell-story/stream", json_with("topic", topic));
    EXPECT_TRUE(sse.head && sse.head->status == 200) << sse.error;
    EXPECT_TRUE(sse.ended) << sse.error;
    for (size_t i = 0; i < sse.events.size(); ++i) {
      Json j = json_or_null(sse.events[i].data);
      if (i + 1 < sse.events.size()) {
        out.chunks.push_back(str(j["chunk"]));
      } else {
        EXPECT_TRUE(j["done"].as_bool()) << sse.events[i].data;
        out.story = str(j["story"]);
      }
    }
    EXPECT_FALSE(out.story.empty()) << sse.raw_body;
    return out;
  }

  // The grpcd access-log line of the call that sent `request_id` (null if none within the bound).
  Json grpc_log_line(const std::string& request_id) {
    std::optional<Json> e = server().wait_event("grpc_request", milliseconds(3000), [&](genkit::JsonView v) {
      return v["request_id"].as_string() == request_id;
    });
    return e ? std::move(*e) : Json::null();
  }
};

TEST_F(GrpcStreamTest, TellStorySendsEveryChunkInOrderAndTheSameStoryAsRest) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  const std::string topic = "a lighthouse keeper and her cat";
  RestStory rest = rest_story(topic);
  ASSERT_GE(rest.chunks.size(), 5u) << "the fake streams one piece per word";

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(20000));
  const std::string id = unique_request_id("story");
  ctx.AddMetadata("x-request-id", id);
  gpb::StoryRequest req;
  req.set_topic(topic);
  std::unique_ptr<grpc::ClientReader<gpb::StoryChunk>> reader = stub().TellStory(&ctx, req);
  std::vector<std::string> chunks;
  std::vector<Clock::time_point> arrived;
  gpb::StoryChunk chunk;
  while (reader->Read(&chunk)) {
    chunks.push_back(chunk.text());
    arrived.push_back(Clock::now());
  }
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << describe(status);

  std::string story;
  for (const std::string& c : chunks) story += c;
  EXPECT_EQ(story, rest.story) << "the chunks must add up to the story REST streams";
  // A reader that keeps up sees each of the model's pieces as its own
  // message, in the order the model sent them: the same pieces REST sent.
  EXPECT_EQ(chunks, rest.chunks);
  ASSERT_GE(arrived.size(), 3u);
  auto spread = arrived.back() - arrived.front();
  EXPECT_GE(spread, milliseconds(kChunkDelayMs * static_cast<int>(arrived.size() - 1) / 2))
      << "the chunks must be sent as the model streams them, not all at the end";

  EXPECT_EQ(model_calls_to(*fake(), kStreamCall).size(), 2u) << "one upstream stream each for REST and gRPC";
  EXPECT_EQ(trailer(ctx, "retry-after"), "");
  Json line = grpc_log_line(id);
  ASSERT_FALSE(line.view().is_null()) << "no grpc_request line for " << id << "\n" << server().stdout_text();
  EXPECT_EQ(str(line["method"]), "/genkit.sample.v1.GenkitService/TellStory");
  EXPECT_EQ(str(line["code"]), "OK");
}

TEST_F(GrpcStreamTest, CancellingAnOpenStoryClosesTheUpstreamStream) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(20000));
  gpb::StoryRequest req;
  req.set_topic("a very long voyage that nobody finishes");
  std::unique_ptr<grpc::ClientReader<gpb::StoryChunk>> reader = stub().TellStory(&ctx, req);
  gpb::StoryChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk)) << "no first chunk";
  auto cancelled_at = Clock::now();
  ctx.TryCancel();
  int after_cancel = 0;
  while (reader->Read(&chunk)) ++after_cancel;
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << describe(status);
  EXPECT_LE(after_cancel, 1);

  // Left alone, the upstream stream would run another ~1.5 s and end
  // "finished"; cancelled, the daemon hangs up on it.
  std::string last;
  Json closed = wait_upstream_closed(*fake(), kStreamCall, 0, milliseconds(3000), &last);
  ASSERT_FALSE(closed.view().is_null()) << "the upstream stream was not closed after the cancel; fake saw: " << last;
  EXPECT_FALSE(closed["finished"].as_bool()) << closed.dump();
  EXPECT_LT(Clock::now() - cancelled_at, milliseconds(3000));

  // The daemon still serves.
  StoryRead next = read_story(stub(), "a short one", milliseconds(20000));
  EXPECT_TRUE(next.status.ok()) << describe(next.status);
  EXPECT_FALSE(next.chunks.empty());
}

// A client that stops reading must not make the daemon hold the rest of the
// story: HTTP/2 flow control holds the write in flight, later chunks wait in
// a backlog of at most 8 MiB, and past that the stream is cut off and the
// model call cancelled.
TEST_F(GrpcStreamTest, AReaderThatStopsReadingIsCutOffAndTheModelCallCancelled) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  constexpr int kPieces = 14;                // 1 MiB each, 150 ms apart: ~2 s
  const std::string piece(1 << 20, 'w');
  std::string pieces = "[";
  for (int i = 0; i < kPieces; ++i) pieces += (i ? ",\"" : "\"") + piece + "\"";
  pieces += "]";
  ASSERT_TRUE(fake()->script("{\"stream_chunks\":" + pieces + "}"));

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(20000));
  const std::string id = unique_request_id("slow-reader");
  ctx.AddMetadata("x-request-id", id);
  gpb::StoryRequest req;
  req.set_topic("an endless scroll");
  std::unique_ptr<grpc::ClientReader<gpb::StoryChunk>> reader = stub().TellStory(&ctx, req);
  // Read nothing while the model streams every piece.
  std::string last;
  Json closed = wait_upstream_closed(*fake(), kStreamCall, 0, milliseconds(8000), &last);
  ASSERT_FALSE(closed.view().is_null()) << "the model call was not cancelled; fake saw: " << last;
  EXPECT_FALSE(closed["finished"].as_bool()) << "the fake sent the whole stream: " << closed.dump();

  std::size_t received = 0;
  gpb::StoryChunk chunk;
  while (reader->Read(&chunk)) received += chunk.text().size();
  grpc::Status status = reader->Finish();
  EXPECT_FALSE(status.ok()) << "a reader this far behind is cut off";
  EXPECT_LT(received, static_cast<std::size_t>(kPieces) << 20);
  Json line = grpc_log_line(id);
  EXPECT_EQ(str(line["code"]), "RESOURCE_EXHAUSTED") << describe(status) << " received " << received << "\n"
                                                     << server().stdout_text().substr(0, 20000);
}

TEST_F(GrpcStreamTest, SigtermLetsAnOpenStoryFinishAndRefusesNewConnections) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}, {"SHUTDOWN_GRACE", "15"}}));
  const std::string topic = "a storm over the harbour at night";
  RestStory rest = rest_story(topic);
  ASSERT_GE(rest.chunks.size(), 8u);
  HealthAnswer before = health_check(channel(), kGenkitService);
  ASSERT_TRUE(before.serving_ok()) << before.describe();
  // A balancer's health watch on the connection we already have.
  std::unique_ptr<HealthWatch> watch = watch_health(channel_, kGenkitService, milliseconds(10000));
  std::optional<HealthStatus> update = watch->next();
  ASSERT_EQ(update, std::optional<HealthStatus>(hpb::HealthCheckResponse::SERVING));

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(20000));
  gpb::StoryRequest req;
  req.set_topic(topic);
  std::unique_ptr<grpc::ClientReader<gpb::StoryChunk>> reader = stub().TellStory(&ctx, req);
  std::vector<std::string> chunks;
  gpb::StoryChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk)) << "no first chunk";
  chunks.push_back(chunk.text());

  ASSERT_TRUE(server().signal(SIGTERM));
  auto drain_began = Clock::now();
  ASSERT_TRUE(server().wait_event("grpcd_draining", milliseconds(3000)))
      << "grpcd did not start draining\n" << server().stdout_text();

  // The watch hears NOT_SERVING as the drain begins; a balancer then stops
  // sending new calls and ends its watch (GrpcLifecycleTest has one that does not).
  update = watch->next();
  EXPECT_EQ(update, std::optional<HealthStatus>(hpb::HealthCheckResponse::NOT_SERVING))
      << "the health watch did not report NOT_SERVING as the drain began";
  watch->cancel();
  // A Check on that connection: never SERVING once the drain began
  // (NOT_SERVING, or the call refused by the draining server).
  HealthAnswer during = health_check(channel(), kGenkitService, milliseconds(1500));
  EXPECT_FALSE(during.serving_ok()) << "health during the drain: " << during.describe();
  RecordProperty("health_during_drain", during.describe());

  // Nobody holds the listening socket any more: a new connection is
  // refused at once (a balancer retries elsewhere), not queued forever.
  bool refused = FakeLlmProcess::eventually(
      [&] {
        HttpClient probe;
        return !probe.connect(grpc_port(), milliseconds(500));
      },
      milliseconds(1000));
  EXPECT_TRUE(refused) << "TCP connections to the gRPC port are still accepted during the drain";
  std::shared_ptr<grpc::Channel> fresh = grpc_channel(grpc_port());
  auto t0 = Clock::now();
  HealthAnswer fresh_answer = health_check(*fresh, "", milliseconds(5000));
  auto took = Clock::now() - t0;
  EXPECT_FALSE(fresh_answer.status.ok()) << "a new connection was served during the drain: " << fresh_answer.describe();
  EXPECT_LT(took, milliseconds(1500)) << "a new connection during the drain must fail fast, not hang ("
                                      << fresh_answer.describe() << ")";

  // The open stream runs to its end.
  while (reader->Read(&chunk)) chunks.push_back(chunk.text());
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << describe(status);
  std::string story;
  for (const std::string& c : chunks) story += c;
  EXPECT_EQ(story, rest.story);
  EXPECT_EQ(chunks, rest.chunks);
  EXPECT_GT(Clock::now() - drain_began, milliseconds(kChunkDelayMs * 3)) << "the stream ended early";

  std::optional<int> code = server().wait_exit(milliseconds(15000));
  EXPECT_EQ(code, std::optional<int>(0)) << server().stderr_text();
  EXPECT_TRUE(server().wait_event("grpcd_exited", milliseconds(1000)));
}

}  // namespace
}  // namespace itest
