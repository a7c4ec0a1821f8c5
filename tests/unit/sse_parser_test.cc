// SseParser: the incremental text/event-stream parser used for streamed
// upstream model replies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/net/sse_parser.h"

namespace genkit {
namespace {

// Feeds `bytes` in slices of `step` bytes; collects every event. `all_ok` is
// false if any feed reported an oversized event.
std::vector<SseEvent> feed_in_steps(SseParser& p, std::string_view bytes, std::size_t step, bool* all_ok) {
  std::vector<SseEvent> out;
  *all_ok = true;
  for (std::size_t i = 0; i < bytes.size(); i += step) {
    bool ok = false;
    for (SseEvent& e : p.feed(bytes.substr(i, step), &ok)) out.push_back(std::move(e));
    *all_ok = *all_ok && ok;
  }
  return out;
}

TEST(SseParser, SingleEventInOneFeed) {
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = p.feed("data: hello\n\n", &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "hello");
  EXPECT_EQ(events[0].event, "");
}

TEST(SseParser, NothingUntilTheBlankLine) {
  SseParser p;
  bool ok = false;
  EXPECT_TRUE(p.feed("data: a\n", &ok).empty());
  EXPECT_TRUE(ok);
  EXPECT_TRUE(p.feed("data: b", &ok).empty());
  EXPECT_TRUE(p.feed("\n", &ok).empty());
  std::vector<SseEvent> events = p.feed("\n", &ok);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb");
}

TEST(SseParser, OneByteAtATimeLf) {
  const std::string stream =
      "data: {\"a\":1}\n\n"
      "event: delta\ndata: second\n\n"
      ": keep-alive\n\n"
      "data: x\ndata: y\ndata: z\n\n";
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = feed_in_steps(p, stream, 1, &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[0].event, "");
  EXPECT_EQ(events[1].event, "delta");
  EXPECT_EQ(events[1].data, "second");
  EXPECT_EQ(events[2].data, "x\ny\nz");
  EXPECT_EQ(events[2].event, "") << "the event name must not leak into the next event";
}

TEST(SseParser, OneByteAtATimeCrlf) {
  const std::string stream =
      "event: message\r\ndata: one\r\n\r\n"
      "data: two\r\ndata: lines\r\n\r\n";
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = feed_in_steps(p, stream, 1, &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "message");
  EXPECT_EQ(events[0].data, "one");
  EXPECT_EQ(events[1].data, "two\nlines");
  for (const SseEvent& e : events) EXPECT_EQ(e.data.find('\r'), std::string::npos);
}

TEST(SseParser, EveryByteBoundaryGivesTheSameEvents) {
  const std::string stream =
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\r\n\r\n"
      ":comment\n"
      "event: usage\ndata:no-space\n\n"
      "data: [DONE]\n\n";
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    SseParser p;
    bool ok = false;
    std::vector<SseEvent> events = feed_in_steps(p, stream, step, &ok);
    ASSERT_TRUE(ok) << "step " << step;
    ASSERT_EQ(events.size(), 3u) << "step " << step;
    EXPECT_EQ(events[0].data, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}");
    EXPECT_EQ(events[1].event, "usage");
    EXPECT_EQ(events[1].data, "no-space");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

TEST(SseParser, MixedLineEndings) {
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = p.feed("data: a\r\ndata: b\n\r\ndata: c\n\n", &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a\nb");
  EXPECT_EQ(events[1].data, "c");
}

TEST(SseParser, CommentsAndUnknownFieldsAreIgnored) {
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = p.feed(": ping\nid: 7\nretry: 1000\nfoo: bar\ndata: payload\n: more\n\n", &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "payload");
  EXPECT_EQ(events[0].event, "");
}

TEST(SseParser, CommentOnlyOrEventOnlyBlocksDispatchNothing) {
  SseParser p;
  bool ok = false;
  EXPECT_TRUE(p.feed(": keep-alive\n\n", &ok).empty());
  EXPECT_TRUE(p.feed("event: ping\n\n", &ok).empty());
  std::vector<SseEvent> events = p.feed("data: after\n\n", &ok);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "") << "an event name without data must not carry over";
  EXPECT_EQ(events[0].data, "after");
}

TEST(SseParser, OnlyOneLeadingSpaceIsStripped) {
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = p.feed("data:  two spaces\ndata:\ndata\n\n", &ok);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, " two spaces\n\n");
}

TEST(SseParser, ManyEventsInOneFeed) {
  std::string stream;
  for (int i = 0; i < 100; ++i) stream += "data: " + std::to_string(i) + "\n\n";
  SseParser p;
  bool ok = false;
  std::vector<SseEvent> events = p.feed(stream, &ok);
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 100u);
  EXPECT_EQ(events[42].data, "42");
}

TEST(SseParser, OversizedPartialLineSetsNotOk) {
  SseParser p(64);
  bool ok = true;
  EXPECT_TRUE(p.feed("data: " + std::string(100, 'x'), &ok).empty());
  EXPECT_FALSE(ok);
}

TEST(SseParser, OversizedMultiLineEventSetsNotOk) {
  SseParser p(64);
  bool ok = true;
  bool any_failed = false;
  for (int i = 0; i < 10; ++i) {
    p.feed("data: " + std::string(20, 'y') + "\n", &ok);
    any_failed |= !ok;
  }
  EXPECT_TRUE(any_failed) << "200 bytes of pending data exceed a 64-byte limit";
}

TEST(SseParser, OversizedEventArrivingByteByByteSetsNotOk) {
  SseParser p(64);
  bool ok = true;
  feed_in_steps(p, "data: " + std::string(100, 'z') + "\n\n", 1, &ok);
  EXPECT_FALSE(ok);
}

TEST(SseParser, OversizedCompleteEventInOneFeedSetsNotOk) {
  // The whole oversized event arrives (and completes) in a single read.
  SseParser p(64);
  bool ok = true;
  p.feed("data: " + std::string(200, 'w') + "\n\n", &ok);
  EXPECT_FALSE(ok) << "an event of 200 bytes exceeds the 64-byte limit even when it arrives in one read";
}

TEST(SseParser, EventsWithinTheLimitStayOk) {
  SseParser p(64);
  bool ok = false;
  for (int i = 0; i < 50; ++i) {
    std::vector<SseEvent> events = p.feed("data: " + std::string(40, 'a') + "\n\n", &ok);
    ASSERT_TRUE(ok);
    ASSERT_EQ(events.size(), 1u);
  }
}

}  // namespace
}  // namespace genkit
