// Server-side time limits that need a slow model: REQUEST_TIMEOUT cuts a
// request off, SHUTDOWN_GRACE bounds a drain. MOCK_CHUNK_DELAY_MS makes the
// mock's streamed replies outlast both limits.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

// A 504 before the stream starts, or (the head being sent already) a final
// event that reports the error instead of the story.
void expect_timed_out(const SseResult& sse) {
  ASSERT_TRUE(sse.head) << sse.error;
  if (sse.head->status == 504) return;
  ASSERT_EQ(sse.head->status, 200);
  EXPECT_TRUE(sse.ended) << "stream not terminated after the timeout: " << sse.error;
  ASSERT_FALSE(sse.events.empty());
  genkit::Result<genkit::Json> last = genkit::Json::parse(sse.events.back().data);
  ASSERT_TRUE(last.ok()) << sse.events.back().data;
  EXPECT_TRUE(last->view()["error"].is_string()) << "last event should report the timeout: " << sse.events.back().data;
  EXPECT_FALSE(last->view()["story"].present()) << "the story cannot have completed: " << sse.events.back().data;
}

TEST(TimeoutsTest, RequestTimeoutCutsOffASlowStream) {
  std::string why;
  ServerOptions o;
  // 6 chunks 1.5 s apart would take ~7.5 s; REQUEST_TIMEOUT=1 must stop it.
  o.env = {{"REQUEST_TIMEOUT", "1"}, {"MOCK_CHUNK_DELAY_MS", "1500"}};
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  auto start = Clock::now();
  SseResult sse = post_sse(server->port(), "/tell-story/stream", "{}");
  auto took = Clock::now() - start;
  expect_timed_out(sse);
  EXPECT_LT(took, milliseconds(4000)) << "REQUEST_TIMEOUT=1 but the request ran "
                                      << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  EXPECT_EQ(http_get(server->port(), "/health").status, 200) << "server unhealthy after a timeout";
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

TEST(TimeoutsTest, ShutdownGraceBoundsTheDrain) {
  std::string why;
  ServerOptions o;
  o.env = {{"SHUTDOWN_GRACE", "1"}, {"MOCK_CHUNK_DELAY_MS", "2000"}};
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  HttpClient c(server->port());
  ASSERT_TRUE(c.send_raw(build_request("POST", "/tell-story/stream", "{}"))) << c.error();
  ASSERT_TRUE(c.read_head()) << c.error();
  ASSERT_TRUE(c.next_event()) << c.error();
  // The stream needs ~10 s more; the drain may only take SHUTDOWN_GRACE=1 s.
  ASSERT_TRUE(server->signal(SIGTERM));
  auto signalled = Clock::now();
  std::optional<int> code = server->wait_exit(milliseconds(8000));
  ASSERT_TRUE(code) << "supervisor still running 8 s after SIGTERM with SHUTDOWN_GRACE=1";
  EXPECT_LT(Clock::now() - signalled, milliseconds(4000)) << "exit code " << *code;
  EXPECT_TRUE(c.wait_closed(milliseconds(2000))) << "the cut stream's connection is still open";
}

}  // namespace
}  // namespace itest
