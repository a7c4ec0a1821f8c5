// grpcd's life under the supervisor: a grpcd killed outright is reported
// and replaced, and a client's channel is served again on the same port
// within a bounded time; a SIGHUP reload starts a new grpcd (generation 1)
// before the old one drains and exits, and clients calling in a loop all
// along (4 threads on one channel, no retry policy) see no failed call.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/support/grpc_client.h"

namespace itest {
namespace {

using genkit::Json;

// For a failure: the lifecycle lines of the daemons and every gRPC call that did not end OK.
std::string reload_story(const ServerProcess& server) {
  std::string out;
  for (const std::string& line : server.stdout_lines()) {
    Json j = json_or_null(line);
    std::string_view event = j["event"].as_string();
    bool call_failed = event == "grpc_request" && j["code"].as_string() != "OK";
    if (call_failed || event.starts_with("grpcd_") || event == "reloading" || event == "reload_new_workers_ready" ||
        event == "flow_failed" || event == "request_timeout") {
      out += line + "\n";
    }
  }
  return out;
}

// The log lines that name one of the failed calls ("<request id>: <status>...").
std::string lines_about(const ServerProcess& server, const std::vector<std::string>& failures) {
  std::string out;
  for (const std::string& f : failures) {
    std::string id = f.substr(0, f.find(':'));
    out += "lines about " + id + ":\n";
    for (const std::string& line : server.stdout_lines()) {
      if (line.find("\"" + id + "\"") != std::string::npos) out += line + "\n";
    }
  }
  return out;
}

class GrpcLifecycleTest : public GrpcServerTest<GrpcLifecycleTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }
};

TEST_F(GrpcLifecycleTest, AKilledGrpcdIsReplacedAndTheChannelIsServedAgain) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  grpc::Status first = joke("Before");
  ASSERT_TRUE(first.ok()) << describe(first);
  std::vector<Json> spawned = server().events("grpcd_spawned");
  ASSERT_EQ(spawned.size(), 1u);
  const int victim = static_cast<int>(spawned[0]["worker_pid"].as_number());
  ASSERT_GT(victim, 0);
  EXPECT_EQ(metric(port(), "genkit_endpoints_grpc_daemons_alive"), 1);

  ASSERT_EQ(kill(victim, SIGKILL), 0);
  std::optional<Json> exited = server().wait_event("grpcd_exited", milliseconds(5000), [&](genkit::JsonView e) {
    return static_cast<int>(e["worker_pid"].as_number()) == victim;
  });
  ASSERT_TRUE(exited) << "no grpcd_exited for " << victim << "\n" << server().stdout_text();
  EXPECT_EQ((*exited)["signal"].as_number(), SIGKILL) << exited->dump();
  ASSERT_TRUE(server().wait_event_count("grpcd_spawned", 2, milliseconds(5000)))
      << "grpcd was not replaced\n" << server().stdout_text();
  const int replacement = live_grpcd_pid(server());
  EXPECT_GT(replacement, 0);
  EXPECT_NE(replacement, victim);

  // The same channel: its connection died with the daemon; it reconnects
  // to the port (which the supervisor kept open) and is served by the new grpcd.
  auto killed_at = Clock::now();
  grpc::Status status;
  int attempts = 0;
  bool served = FakeLlmProcess::eventually(
      [&] {
        ++attempts;
        status = joke("After", nullptr, milliseconds(2000));
        return status.ok();
      },
      milliseconds(10000));
  EXPECT_TRUE(served) << "no call succeeded within 10 s after the kill; last: " << describe(status) << " after "
                      << attempts << " attempts\n" << server().stdout_text();
  RecordProperty("served_again_after_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at).count()));
  EXPECT_TRUE(server().wait_event_count("grpcd_started", 2, milliseconds(1000)));
  HealthAnswer health = health_check(channel(), kGenkitService);
  EXPECT_TRUE(health.serving_ok()) << health.describe();
  Samples after = scrape_until(port(), [](const Samples& s) {
    return sample(s, "genkit_endpoints_grpc_daemons_alive") == 1;
  });
  EXPECT_EQ(sample(after, "genkit_endpoints_grpc_daemons_alive"), 1);
}

TEST_F(GrpcLifecycleTest, SighupReloadsGrpcdWithoutFailingACall) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  const int old_grpcd = live_grpcd_pid(server());
  ASSERT_GT(old_grpcd, 0);

  std::atomic<bool> stop{false};
  std::atomic<int> ok_calls{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto started = Clock::now();
  auto loop = [&](int which) {
    int n = 0;
    while (!stop) {
      grpc::ClientContext ctx;
      set_timeout(ctx, milliseconds(5000));
      const std::string id = "reload-" + std::to_string(which) + "-" + std::to_string(n++);
      ctx.AddMetadata("x-request-id", id);
      gpb::JokeRequest req;
      req.set_name(id);
      gpb::JokeResponse resp;
      grpc::Status s = stub().TellJoke(&ctx, req, &resp);
      if (s.ok()) {
        ++ok_calls;
      } else {
        std::lock_guard lock(mu);
        failures.push_back(id + ": " + describe(s) + " at +" +
                           std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - started).count()) +
                           " ms");
      }
    }
  };
  {
    std::vector<std::jthread> clients;
    for (int i = 1; i <= 4; ++i) clients.emplace_back(loop, i);
    std::this_thread::sleep_for(milliseconds(700));
    EXPECT_TRUE(server().signal(SIGHUP));
    std::optional<Json> fresh = server().wait_event("grpcd_spawned", milliseconds(5000), [](genkit::JsonView e) {
      return e["generation"].as_number() == 1;
    });
    EXPECT_TRUE(fresh) << "no grpcd_spawned of generation 1\n" << server().stdout_text();
    std::optional<Json> old_gone = server().wait_event("grpcd_exited", milliseconds(10000), [&](genkit::JsonView e) {
      return static_cast<int>(e["worker_pid"].as_number()) == old_grpcd;
    });
    EXPECT_TRUE(old_gone) << "the old grpcd did not exit\n" << server().stdout_text();
    if (old_gone) {
      EXPECT_EQ((*old_gone)["exit_code"].as_number(), 0) << old_gone->dump();
    }
    // Keep calling for ~3 s in all, and a little past the old daemon's exit.
    std::this_thread::sleep_until(std::max(started + milliseconds(3000), Clock::now() + milliseconds(300)));
    stop = true;
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed calls during the reload, first: "
                                << (failures.empty() ? "" : failures.front()) << "\n"
                                << reload_story(server()) << lines_about(server(), failures);
  EXPECT_GT(ok_calls.load(), 20) << "the client loop barely ran";
  RecordProperty("calls_during_reload", ok_calls.load());

  const int new_grpcd = live_grpcd_pid(server());
  EXPECT_GT(new_grpcd, 0);
  EXPECT_NE(new_grpcd, old_grpcd);
  // The new daemon logged the last calls.
  std::vector<Json> lines = server().events("grpc_request");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(static_cast<int>(lines.back()["pid"].as_number()), new_grpcd) << lines.back().dump();
}

// A balancer keeps a health Watch open on every backend: it is told
// NOT_SERVING when the drain begins, and must not hold the daemon (and
// with it the supervisor's exit, or a reload's old generation) for the
// whole grace period once no real call is left. The daemon does wait for
// its connections to age out (half the grace period, +10% jitter): a
// connection shut before its client read the GOAWAY would fail calls.
TEST_F(GrpcLifecycleTest, AnOpenHealthWatchDoesNotHoldTheDrain) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}, {"SHUTDOWN_GRACE", "15"}}));
  grpc::Status warm = joke("Warm");
  ASSERT_TRUE(warm.ok()) << describe(warm);
  std::unique_ptr<HealthWatch> watch = watch_health(channel_, kGenkitService, milliseconds(30000));
  ASSERT_EQ(watch->next(), std::optional<HealthStatus>(hpb::HealthCheckResponse::SERVING));

  auto sent = Clock::now();
  ASSERT_TRUE(server().signal(SIGTERM));
  EXPECT_EQ(watch->next(), std::optional<HealthStatus>(hpb::HealthCheckResponse::NOT_SERVING));
  // No call is in flight: the drain waits for the connection to age out
  // (7.5 s × 1.1 + 0.5 s), not for the grace period (15 s).
  std::optional<int> code = server().wait_exit(milliseconds(11000));
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - sent);
  EXPECT_EQ(code, std::optional<int>(0)) << "the server did not exit within 11 s of SIGTERM (SHUTDOWN_GRACE=15) "
                                            "with only a health watch open\n" << server().stdout_text();
  RecordProperty("exit_after_ms", static_cast<int>(took.count()));
  while (watch->next()) {
  }
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - sent), milliseconds(12000))
      << "the watch was held open until the grace period ran out: " << describe(watch->end());
}

}  // namespace
}  // namespace itest
