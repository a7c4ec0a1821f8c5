// Server-Sent Event routes: headers, framing, event contents, incremental
// delivery, and robustness when clients hang up mid-stream.
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

constexpr int kChunkDelayMs = 100;  // long enough to see chunks arrive apart

class StreamingTest : public SharedServerTest<StreamingTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MOCK_CHUNK_DELAY_MS", std::to_string(kChunkDelayMs)}};
    return o;
  }
};

// Checks one complete SSE response and returns the chunk texts.
std::vector<std::string> check_stream(const SseResult& sse, const std::string& done_key,
                                      const std::string& expected_text) {
  std::vector<std::string> chunks;
  EXPECT_TRUE(sse.head) << sse.error;
  if (!sse.head) return chunks;
  const HttpResponse& h = *sse.head;
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("content-type").value_or("").rfind("text/event-stream", 0), 0u)
      << "Content-Type: " << h.header("content-type").value_or("<missing>");
  EXPECT_EQ(h.header("cache-control").value_or("<missing>"), "no-cache");
  EXPECT_EQ(h.header("x-accel-buffering").value_or("<missing>"), "no");
  EXPECT_TRUE(h.chunked) << "SSE must use chunked transfer encoding";
  EXPECT_FALSE(h.has_header("content-length"));
  EXPECT_TRUE(sse.ended) << "stream did not end cleanly: " << sse.error;
  EXPECT_FALSE(sse.events.empty());
  if (sse.events.empty()) return chunks;

  std::string concatenated;
  for (size_t i = 0; i < sse.events.size(); ++i) {
    const SseEvent& ev = sse.events[i];
    // Framing: one "data: <json>" line, then a blank line.
    EXPECT_EQ(ev.raw.rfind("data: ", 0), 0u) << "event " << i << ": " << ev.raw;
    EXPECT_EQ(ev.raw.find('\n'), ev.raw.size() - 2) << "event " << i << " is not a single data line: " << ev.raw;
    genkit::Result<genkit::Json> j = genkit::Json::parse(ev.data);
    EXPECT_TRUE(j.ok()) << "event " << i << " is not JSON: " << ev.data;
    if (!j.ok()) continue;
    bool last = i + 1 == sse.events.size();
    if (!last) {
      EXPECT_TRUE(j->view()["chunk"].is_string()) << "event " << i << ": " << ev.data;
      EXPECT_EQ(j->view().size(), 1u) << ev.data;
      chunks.push_back(str(j->view()["chunk"]));
      concatenated += chunks.back();
    } else {
      EXPECT_TRUE(j->view()["done"].as_bool()) << "last event: " << ev.data;
      EXPECT_EQ(str(j->view()[done_key]), expected_text) << "last event: " << ev.data;
    }
  }
  EXPECT_EQ(concatenated, expected_text) << "the chunks must add up to the full text";
  EXPECT_GE(chunks.size(), 2u) << "the mock streams a multi-word reply in several chunks";
  EXPECT_LE(chunks.size(), 6u);
  // Whole words: every chunk boundary falls next to a space.
  size_t pos = 0;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    pos += chunks[i].size();
    if (pos == 0 || pos >= expected_text.size()) continue;
    EXPECT_TRUE(expected_text[pos - 1] == ' ' || expected_text[pos] == ' ')
        << "chunk " << i << " splits a word: '" << chunks[i] << "' | '" << chunks[i + 1] << "'";
  }
  std::string reassembled;
  for (const SseEvent& ev : sse.events) reassembled += ev.raw;
  EXPECT_EQ(reassembled, sse.raw_body) << "bytes outside of events in the stream";
  return chunks;
}

TEST_F(StreamingTest, TellJokeStreamDefaults) {
  for (const char* body : {"", "{}"}) {
    SseResult sse = post_sse(port(), "/tell-joke/stream", body);
    check_stream(sse, "joke", "Echo: Tell a medium-length joke about Mittens for user anonymous.");
  }
}

TEST_F(StreamingTest, TellJokeStreamUsesNameAndAuthorization) {
  SseResult sse = post_sse(port(), "/tell-joke/stream", R"({"name":"Biscuit"})", {{"Authorization", "Bob"}});
  check_stream(sse, "joke", "Echo: Tell a medium-length joke about Biscuit for user Bob.");
}

TEST_F(StreamingTest, TellStoryStreamDefaultTopic) {
  SseResult sse = post_sse(port(), "/tell-story/stream", "{}");
  check_stream(sse, "story", "Echo: Write a short story (3-4 paragraphs) about a brave cat.");
}

TEST_F(StreamingTest, TellStoryStreamGivenTopic) {
  SseResult sse = post_sse(port(), "/tell-story/stream", R"({"topic":"a lighthouse keeper"})");
  check_stream(sse, "story", "Echo: Write a short story (3-4 paragraphs) about a lighthouse keeper.");
}

TEST_F(StreamingTest, ChunksArriveIncrementally) {
  SseResult sse = post_sse(port(), "/tell-story/stream", "{}");
  std::vector<std::string> chunks = check_stream(sse, "story", "Echo: Write a short story (3-4 paragraphs) about a brave cat.");
  ASSERT_GE(chunks.size(), 3u);
  // With a pause between chunks, a server that buffered the whole reply
  // would deliver every event at once.
  auto spread = sse.events[chunks.size() - 1].arrived - sse.events[0].arrived;
  auto expected = milliseconds(kChunkDelayMs * static_cast<int>(chunks.size() - 1) / 2);
  EXPECT_GE(spread, expected) << "chunks arrived within "
                              << std::chrono::duration_cast<milliseconds>(spread).count() << " ms";
}

TEST_F(StreamingTest, StreamingRequestIdIsEchoed) {
  SseResult sse = post_sse(port(), "/tell-joke/stream", "{}", {{"X-Request-ID", "sse-id-7"}});
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->header("x-request-id").value_or("<missing>"), "sse-id-7");
}

TEST_F(StreamingTest, ConcurrentStreamsAllComplete) {
  constexpr int kStreams = 6;
  std::vector<HttpClient> clients(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(clients[i].connect(port())) << clients[i].error();
    std::string topic = "topic number " + std::to_string(i);
    ASSERT_TRUE(clients[i].send_raw(build_request("POST", "/tell-story/stream", json_with("topic", topic))))
        << clients[i].error();
  }
  for (int i = 0; i < kStreams; ++i) {
    SseResult sse = read_sse(clients[i]);
    check_stream(sse, "story",
                 "Echo: Write a short story (3-4 paragraphs) about topic number " + std::to_string(i) + ".");
  }
}

TEST_F(StreamingTest, ClientClosingMidStreamDoesNotDisturbOthers) {
  // A bystander stream that runs while other clients hang up on theirs.
  HttpClient bystander(port());
  ASSERT_TRUE(bystander.send_raw(build_request("POST", "/tell-story/stream", "{}"))) << bystander.error();
  ASSERT_TRUE(bystander.read_head()) << bystander.error();
  for (int i = 0; i < 6; ++i) {
    HttpClient quitter(port());
    ASSERT_TRUE(quitter.send_raw(build_request("POST", "/tell-joke/stream", "{}"))) << quitter.error();
    ASSERT_TRUE(quitter.read_head()) << quitter.error();
    ASSERT_TRUE(quitter.next_event()) << "first event of stream " << i << ": " << quitter.error();
    quitter.close();  // hang up with the stream still running
  }
  std::vector<SseEvent> events;
  while (auto ev = bystander.next_event(milliseconds(5000))) events.push_back(*ev);
  EXPECT_TRUE(bystander.ended()) << bystander.error();
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back().data.find("\"done\""), std::string::npos) << events.back().data;

  // Both workers still serve plain requests and full streams.
  for (int i = 0; i < 6; ++i) {
    HttpResponse r = http_get(port(), "/health");
    EXPECT_EQ(r.status, 200) << r.reason;
  }
  check_stream(post_sse(port(), "/tell-joke/stream", "{}"), "joke",
               "Echo: Tell a medium-length joke about Mittens for user anonymous.");
}

}  // namespace
}  // namespace itest
