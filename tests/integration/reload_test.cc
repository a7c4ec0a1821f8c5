// Supervisor signals that change the worker set without stopping service:
// SIGHUP reload (new workers first, then the old ones drain) and TTIN/TTOU.
#include <gtest/gtest.h>
#include <signal.h>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/support/test_util.h"

namespace itest {
namespace {

using std::chrono::milliseconds;

// Sends requests one per connection until stopped; counts failures.
class RequestLoop {
 public:
  explicit RequestLoop(int port)
      : thread_([this, port] {
          while (!stop_) {
            HttpResponse r = http_get(port, "/health");
            if (r.status == 200) {
              ++ok_;
            } else if (failed_++ == 0) {
              first_failure_ = std::to_string(r.status) + " " + r.reason;
            }
          }
        }) {}
  ~RequestLoop() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::string first_failure() const { return first_failure_; }  // read after finish()

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  std::string first_failure_;
  std::thread thread_;
};

TEST(ReloadTest, SighupReplacesEveryWorkerWithoutFailingARequest) {
  std::string why;
  auto server = start_server(ServerOptions{}, &why);
  ASSERT_TRUE(server) << why;
  RequestLoop load(server->port());
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(server->signal(SIGHUP));
  ASSERT_TRUE(server->wait_event("reload_new_workers_ready", milliseconds(10000))) << server->stdout_text();
  // Both old workers drain and exit cleanly.
  ASSERT_TRUE(server->wait_event_count("worker_exited", 2, milliseconds(10000))) << server->stdout_text();
  std::this_thread::sleep_for(milliseconds(200));
  load.finish();
  EXPECT_GT(load.ok(), 0);
  EXPECT_EQ(load.failed(), 0) << "first failure: " << load.first_failure();
  int new_generation = 0;
  for (const genkit::Json& e : server->events("worker_spawned")) new_generation += e["generation"].as_number() == 1;
  EXPECT_EQ(new_generation, 2);
  for (const genkit::Json& e : server->events("worker_exited")) EXPECT_EQ(e["exit_code"].as_number(), 0) << e.dump();
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f);
}

TEST(ReloadTest, InvalidConfigurationOnReloadKeepsTheRunningOne) {
  // The reload re-reads .env from the working directory: break it there.
  std::string why;
  auto server = start_server(ServerOptions{}, &why);
  ASSERT_TRUE(server) << why;
  ASSERT_TRUE(write_file(server->workdir() + "/.env", "MAX_BODY_SIZE=big\n"));
  ASSERT_TRUE(server->signal(SIGHUP));
  ASSERT_TRUE(server->wait_event("reload_failed_keeping_config", milliseconds(5000))) << server->stdout_text();
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  EXPECT_EQ(server->events("reloading").size(), 0u);
  unlink((server->workdir() + "/.env").c_str());  // so the harness can remove its directory
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

TEST(ReloadTest, AChangedSettingTakesEffectOnReload) {
  std::string why;
  auto server = start_server(ServerOptions{}, &why);
  ASSERT_TRUE(server) << why;
  const std::string body = json_with("name", std::string(150, 'x'));
  ASSERT_EQ(http_post(server->port(), "/tell-joke", body).status, 200);
  ASSERT_TRUE(write_file(server->workdir() + "/.env", "MAX_BODY_SIZE=100\n"));
  ASSERT_TRUE(server->signal(SIGHUP));
  ASSERT_TRUE(server->wait_event("reload_new_workers_ready", milliseconds(10000))) << server->stdout_text();
  ASSERT_TRUE(server->wait_event_count("worker_exited", 2, milliseconds(10000))) << server->stdout_text();
  EXPECT_EQ(http_post(server->port(), "/tell-joke", body).status, 413);
  unlink((server->workdir() + "/.env").c_str());
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

TEST(ReloadTest, TheEnvFileIsReReadOnReload) {
  // What the Debian package's unit does: --env-file /etc/genkit-endpoints/...
  char tmpl[] = "/tmp/genkit-envfile-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  const std::string file = dir + "/service.env";
  ASSERT_TRUE(write_file(file, "# the service's settings\nMAX_BODY_SIZE=1000\n"));
  ServerOptions o;
  o.args.insert(o.args.end(), {"--env-file", file});
  std::string why;
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  const std::string body = json_with("name", std::string(150, 'x'));
  ASSERT_EQ(http_post(server->port(), "/tell-joke", body).status, 200);
  ASSERT_TRUE(write_file(file, "MAX_BODY_SIZE=100\n"));
  ASSERT_TRUE(server->signal(SIGHUP));
  ASSERT_TRUE(server->wait_event("reload_new_workers_ready", milliseconds(10000))) << server->stdout_text();
  ASSERT_TRUE(server->wait_event_count("worker_exited", 2, milliseconds(10000))) << server->stdout_text();
  EXPECT_EQ(http_post(server->port(), "/tell-joke", body).status, 413);
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
  unlink(file.c_str());
  rmdir(dir.c_str());
}

TEST(ReloadTest, ABrokenPromptOnReloadIsRefusedAndTheOldOnesServe) {
  char tmpl[] = "/tmp/genkit-prompts-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ifstream in(std::string(GENKIT_SOURCE_DIR) + "/prompts/code_review.prompt");
  std::ofstream(dir + "/code_review.prompt") << in.rdbuf();
  ServerOptions o;
  o.env = {{"PROMPTS_DIR", dir}};
  std::string why;
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  ASSERT_TRUE(write_file(dir + "/broken.prompt", "---\nmodel: [unclosed\n---\nHello {{name}}\n"));
  ASSERT_TRUE(server->signal(SIGHUP));
  auto refused = server->wait_event("reload_failed_keeping_config", milliseconds(5000));
  ASSERT_TRUE(refused) << server->stdout_text();
  EXPECT_NE(refused->dump().find("broken.prompt"), std::string::npos) << refused->dump();
  EXPECT_EQ(server->events("reloading").size(), 0u);
  EXPECT_EQ(http_post(server->port(), "/review-code", "{}").status, 200);
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
  unlink((dir + "/broken.prompt").c_str());
  unlink((dir + "/code_review.prompt").c_str());
  rmdir(dir.c_str());
}

TEST(ReloadTest, TtinAddsAWorkerAndTtouRemovesOne) {
  std::string why;
  auto server = start_server(ServerOptions{}, &why);
  ASSERT_TRUE(server) << why;
  ASSERT_TRUE(server->signal(SIGTTIN));
  ASSERT_TRUE(server->wait_event("workers_increased", milliseconds(5000)));
  ASSERT_TRUE(server->wait_event_count("worker_spawned", 3, milliseconds(5000)));
  ASSERT_TRUE(server->signal(SIGTTOU));
  ASSERT_TRUE(server->wait_event("workers_decreased", milliseconds(5000)));
  ASSERT_TRUE(server->wait_event_count("worker_exited", 1, milliseconds(5000)));
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  // The removed worker is not replaced.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(server->events("worker_spawned").size(), 3u);
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

}  // namespace
}  // namespace itest
