// The supervisor's process lifecycle: graceful drain on SIGTERM/SIGINT, a
// killed worker replaced, and workers recycled after MAX_REQUESTS. Each test
// owns its server because each one ends or disturbs it.
#include <gtest/gtest.h>

#include <thread>
#include <signal.h>

#include <set>

#include "tests/support/test_util.h"

namespace itest {
namespace {

std::unique_ptr<ServerProcess> start(const Env& env, std::string* why) {
  ServerOptions o;
  o.env = env;
  return start_server(o, why);
}

std::set<int> worker_pids(const ServerProcess& s) {
  std::set<int> pids;
  for (const genkit::Json& e : s.events("worker_spawned")) pids.insert(static_cast<int>(e["worker_pid"].as_number()));
  return pids;
}

TEST(LifecycleTest, SigtermDuringOpenStreamLetsItFinishThenExitsZero) {
  std::string why;
  auto server = start({{"MOCK_CHUNK_DELAY_MS", "300"}, {"SHUTDOWN_GRACE", "10"}}, &why);
  ASSERT_TRUE(server) << why;
  HttpClient c(server->port());
  ASSERT_TRUE(c.send_raw(build_request("POST", "/tell-story/stream", "{}"))) << c.error();
  std::optional<HttpResponse> head = c.read_head();
  ASSERT_TRUE(head) << c.error();
  ASSERT_EQ(head->status, 200);
  std::vector<SseEvent> events;
  std::optional<SseEvent> first = c.next_event();
  ASSERT_TRUE(first) << c.error();
  events.push_back(*first);

  ASSERT_TRUE(server->signal(SIGTERM));
  auto signalled = Clock::now();
  while (auto ev = c.next_event(milliseconds(5000))) events.push_back(*ev);
  EXPECT_TRUE(c.ended()) << "stream cut short by the drain: " << c.error() << "\nafter " << events.size()
                         << " events\nserver log:\n" << server->stdout_text();
  ASSERT_GE(events.size(), 2u);
  genkit::Result<genkit::Json> done = genkit::Json::parse(events.back().data);
  ASSERT_TRUE(done.ok()) << events.back().data;
  EXPECT_TRUE(done->view()["done"].as_bool()) << events.back().data;
  EXPECT_EQ(str(done->view()["story"]), "Echo: Write a short story (3-4 paragraphs) about a brave cat.");

  std::optional<int> code = server->wait_exit(milliseconds(12000));
  ASSERT_TRUE(code) << "supervisor still running 12 s after SIGTERM (SHUTDOWN_GRACE=10)";
  EXPECT_EQ(*code, 0) << server->stderr_text();
  EXPECT_LT(Clock::now() - signalled, std::chrono::seconds(10)) << "drain took longer than SHUTDOWN_GRACE";
}

TEST(LifecycleTest, SigintWhenIdleExitsZero) {
  std::string why;
  auto server = start({}, &why);
  ASSERT_TRUE(server) << why;
  ASSERT_EQ(http_get(server->port(), "/health").status, 200);
  ASSERT_TRUE(server->signal(SIGINT));
  std::optional<int> code = server->wait_exit(milliseconds(5000));
  ASSERT_TRUE(code) << "idle server did not exit within 5 s of SIGINT";
  EXPECT_EQ(*code, 0) << server->stderr_text();
}

TEST(LifecycleTest, KilledWorkerIsReplacedAndServiceContinues) {
  std::string why;
  auto server = start({}, &why);
  ASSERT_TRUE(server) << why;
  ASSERT_TRUE(server->wait_event_count("worker_spawned", 2, milliseconds(5000))) << server->stdout_text();
  std::set<int> before = worker_pids(*server);
  ASSERT_EQ(before.size(), 2u) << server->stdout_text();
  int victim = *before.begin();
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0) << "worker pid " << victim;

  auto replacement = server->wait_event("worker_spawned", milliseconds(5000), [&](genkit::JsonView e) {
    return before.count(static_cast<int>(e["worker_pid"].as_number())) == 0;
  });
  ASSERT_TRUE(replacement) << "no new worker_spawned within 5 s of killing " << victim << "\n"
                           << server->stdout_text();
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = i % 2 ? http_get(server->port(), "/health") : http_post(server->port(), "/tell-joke", "{}");
    EXPECT_EQ(r.status, 200) << "request " << i << " after the kill: " << r.reason << r.body;
  }
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

TEST(LifecycleTest, MaxRequestsRecyclesWorkersWithoutFailingRequests) {
  std::string why;
  auto server = start({{"MAX_REQUESTS", "5"}, {"MAX_REQUESTS_JITTER", "0"}}, &why);
  ASSERT_TRUE(server) << why;
  // One request per connection: every client here opens a fresh socket, so
  // a recycle can only fail a request by refusing or dropping it. The kernel
  // may hand most connections to one worker, and a recycling worker serves
  // on until its replacement is ready, so keep going (bounded) until two
  // replacements have started rather than assuming an even split.
  int sent = 0;
  for (; sent < 400 && server->events("worker_spawned").size() < 4; ++sent) {
    HttpResponse r = sent % 2 ? http_get(server->port(), "/health")
                              : http_post(server->port(), "/tell-joke", json_with("name", "n" + std::to_string(sent)));
    ASSERT_EQ(r.status, 200) << "request " << sent << ": " << r.reason << r.body;
    if (sent >= 24) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(server->wait_event_count("worker_spawned", 4, milliseconds(5000)))
      << "after " << sent << " requests, worker_spawned lines: " << server->events("worker_spawned").size() << "\n"
      << server->stdout_text();
  EXPECT_TRUE(server->wait_event_count("worker_exited", 1, milliseconds(5000)))
      << "a recycled worker should have exited\n" << server->stdout_text();
  for (const genkit::Json& e : server->events("worker_exited")) {
    EXPECT_EQ(e["exit_code"].as_number(), 0) << "a recycled worker should exit cleanly: " << e.dump();
    EXPECT_EQ(e["signal"].as_number(), 0) << e.dump();
  }
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

TEST(LifecycleTest, KeepAliveClientIsToldBeforeAWorkerRecycles) {
  std::string why;
  auto server = start({{"MAX_REQUESTS", "5"}, {"MAX_REQUESTS_JITTER", "0"}}, &why);
  ASSERT_TRUE(server) << why;
  // A worker about to recycle must say "Connection: close" on its last
  // response (RFC 9112 §9.6); otherwise a keep-alive client sends its next
  // request into a closing socket and loses it. The worker keeps serving
  // until its replacement is ready, so allow a few more requests first.
  HttpClient c(server->port());
  for (int i = 1; i <= 300; ++i) {
    if (i > 5) std::this_thread::sleep_for(milliseconds(10));
    std::optional<HttpResponse> r = c.request("GET", "/health");
    ASSERT_TRUE(r) << "request " << i << " on a keep-alive socket was lost: " << c.error()
                   << " (the previous response did not announce Connection: close)";
    ASSERT_EQ(r->status, 200);
    if (r->header("connection").value_or("") == "close") {
      EXPECT_TRUE(c.wait_closed(milliseconds(2000)));
      EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
      return;
    }
  }
  ADD_FAILURE() << "300 requests on one connection with MAX_REQUESTS=5 and no Connection: close";
}

}  // namespace
}  // namespace itest
