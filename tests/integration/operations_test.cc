// Operations: a wedged process is killed after WORKER_TIMEOUT and replaced;
// a drain refuses new connections at once and /ready says 503 while the
// work in flight finishes. Each test owns its server: each one disturbs it.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "tests/support/test_util.h"

namespace itest {
namespace {

using genkit::Json;

std::unique_ptr<ServerProcess> start(const Env& env, std::string* why, bool grpc = false) {
  ServerOptions o;
  o.env = env;
  if (grpc) o.args = {"--port", "0", "--workers", "2", "--grpc-port", "0"};
  return start_server(o, why);
}

int pid_of(const Json& event) { return static_cast<int>(event["worker_pid"].as_number()); }

// connect(2) to 127.0.0.1:port; returns 0 or the errno it failed with.
int connect_errno(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

// A stopped process (SIGSTOP: its loop no longer stamps its heartbeat) is
// killed after WORKER_TIMEOUT and replaced, worker and grpcd alike.
TEST(OperationsTest, StoppedWorkerAndGrpcdAreKilledAfterWorkerTimeoutAndReplaced) {
  std::string why;
  auto server = start({{"WORKER_TIMEOUT", "2"}}, &why, /*grpc=*/true);
  ASSERT_TRUE(server) << why;
  std::vector<Json> workers = server->events("worker_spawned");
  std::vector<Json> grpcds = server->events("grpcd_spawned");
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_EQ(grpcds.size(), 1u);
  const int worker = pid_of(workers[0]);
  const int grpcd = pid_of(grpcds[0]);
  // Still alive and well past WORKER_TIMEOUT: a serving process is never killed.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(server->events("worker_timeout").empty()) << server->stdout_text();

  // Clients keep coming, one request per connection: the other worker takes
  // them; only a request the stopped worker had already taken may fail.
  std::atomic<bool> stop_load{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread load([&] {
    while (!stop_load) {
      (http_get(server->port(), "/health").status == 200 ? ok : failed)++;
    }
  });
  auto stopped_at = Clock::now();
  ASSERT_EQ(kill(worker, SIGSTOP), 0);
  ASSERT_EQ(kill(grpcd, SIGSTOP), 0);
  for (int victim : {worker, grpcd}) {
    auto timeout = server->wait_event("worker_timeout", milliseconds(8000),
                                      [&](genkit::JsonView e) { return pid_of(Json::copy_of(e)) == victim; });
    ASSERT_TRUE(timeout) << "no worker_timeout for " << victim << "\n" << server->stdout_text();
    EXPECT_GE((*timeout)["silent_ms"].as_number(), 2000) << timeout->dump();
    EXPECT_TRUE(server->wait_event("worker_killed", milliseconds(5000),
                                   [&](genkit::JsonView e) { return pid_of(Json::copy_of(e)) == victim; }))
        << server->stdout_text();
    const char* exited = victim == grpcd ? "grpcd_exited" : "worker_exited";
    auto gone = server->wait_event(exited, milliseconds(5000),
                                   [&](genkit::JsonView e) { return pid_of(Json::copy_of(e)) == victim; });
    ASSERT_TRUE(gone) << server->stdout_text();
    // A stopped process cannot act on SIGABRT: the SIGKILL that follows ends it.
    EXPECT_EQ((*gone)["signal"].as_number(), SIGKILL) << gone->dump();
  }
  EXPECT_GE(Clock::now() - stopped_at, std::chrono::seconds(2));
  stop_load = true;
  load.join();
  EXPECT_GT(ok.load(), 100) << "the healthy worker should have served on";
  EXPECT_LE(failed.load(), 1) << "only a request the stopped worker held may be lost";
  EXPECT_TRUE(server->wait_event_count("worker_spawned", 3, milliseconds(5000))) << server->stdout_text();
  EXPECT_TRUE(server->wait_event_count("grpcd_spawned", 2, milliseconds(5000))) << server->stdout_text();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  EXPECT_EQ(server->stop(), std::optional<int>(0)) << server->stderr_text();
}

// From the moment SIGTERM arrives: new connections are refused at once (a
// load balancer retries elsewhere), /ready answers 503 on a connection that
// was already open, and a stream in flight still finishes.
TEST(OperationsTest, DrainRefusesNewConnectionsAtOnceAndReadyIs503) {
  std::string why;
  auto server = start({{"MOCK_CHUNK_DELAY_MS", "200"}, {"SHUTDOWN_GRACE", "10"}}, &why);
  ASSERT_TRUE(server) << why;
  HttpClient stream(server->port());
  ASSERT_TRUE(stream.send_raw(build_request("POST", "/tell-story/stream", "{}"))) << stream.error();
  ASSERT_TRUE(stream.read_head()) << stream.error();
  // Keep-alive connections made before the drain, one request served on each.
  std::vector<std::unique_ptr<HttpClient>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<HttpClient>(server->port()));
    std::optional<HttpResponse> r = idle.back()->request("GET", "/health");
    ASSERT_TRUE(r && r->status == 200) << idle.back()->error();
  }

  ASSERT_TRUE(server->signal(SIGTERM));
  ASSERT_TRUE(server->wait_event_count("worker_draining", 2, milliseconds(3000))) << server->stdout_text();
  std::this_thread::sleep_for(milliseconds(50));  // (the supervisor closes its copy as it signals)
  auto before = Clock::now();
  EXPECT_EQ(connect_errno(server->port()), ECONNREFUSED) << "a connection made during the drain must be refused";
  EXPECT_LT(Clock::now() - before, milliseconds(500));

  int answered = 0;
  for (auto& c : idle) {
    std::optional<HttpResponse> ready = c->request("GET", "/ready");
    if (!ready) continue;  // (a connection closed by its worker's drain is fine too)
    ++answered;
    EXPECT_EQ(ready->status, 503) << ready->body;
    EXPECT_EQ(str(json_of(*ready)["checks"]["state"]), "draining") << ready->body;
    EXPECT_EQ(ready->header("connection").value_or(""), "close");
  }
  EXPECT_GT(answered, 0) << "no idle connection was still open to ask /ready";

  while (stream.next_event(milliseconds(5000))) {
  }
  EXPECT_TRUE(stream.ended()) << "the stream in flight was cut by the drain: " << stream.error();
  std::optional<int> code = server->wait_exit(milliseconds(12000));
  EXPECT_EQ(code, std::optional<int>(0)) << server->stderr_text();
}

}  // namespace
}  // namespace itest
