// The supervisor under a service manager, without one: sd_notify messages on
// a NOTIFY_SOCKET the test binds (READY only once every child accepts,
// WATCHDOG=1 at half WATCHDOG_USEC and withheld while a child is wedged,
// RELOADING/READY, STOPPING, STATUS=, crash-loop back-off) and socket
// activation with listening sockets the test passes (LISTEN_FDS and
// LISTEN_FDNAMES, names in either order).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "tests/support/grpc_client.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using genkit::Json;

// Collects the datagrams sent to a NOTIFY_SOCKET, stamped on arrival.
class NotifySocket {
 public:
  struct Message {
    std::string text;
    Clock::time_point at;
  };

  NotifySocket() {
    char tmpl[] = "/tmp/genkit-notify-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{0, 100000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    reader_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back({std::string(buf, static_cast<std::size_t>(n)), Clock::now()});
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

  std::vector<Message> messages() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Messages containing the line `line` (e.g. "READY=1").
  std::vector<Message> with(const std::string& line) const {
    std::vector<Message> out;
    for (const Message& m : messages()) {
      if (("\n" + m.text + "\n").find("\n" + line + "\n") != std::string::npos) out.push_back(m);
    }
    return out;
  }
  bool wait_for(const std::string& line, std::size_t count, milliseconds timeout) const {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (with(line).size() >= count) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }
  std::string dump() const {
    std::string out;
    for (const Message& m : messages()) out += "[" + m.text + "]\n";
    return out;
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Message> messages_;
  std::thread reader_;
};

ServerOptions notified(const NotifySocket& notify, const Env& extra = {}) {
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "2", "--grpc-port", "0"};
  o.env = {{"NOTIFY_SOCKET", notify.path()}};
  for (const auto& [k, v] : extra) o.env[k] = v;
  return o;
}

TEST(SystemdNotifyTest, ReadyOnlyOnceEveryChildAcceptsThenReloadingReadyAndStopping) {
  NotifySocket notify;
  std::string why;
  auto server = start_server(notified(notify), &why);
  ASSERT_TRUE(server) << why;
  ASSERT_TRUE(notify.wait_for("READY=1", 1, milliseconds(5000))) << notify.dump();
  // The children said they accept (worker_started, grpcd's "ready" to the
  // supervisor) before READY=1 was sent, and the ports answer.
  EXPECT_EQ(server->events("worker_started").size(), 2u) << server->stdout_text();
  EXPECT_EQ(server->events("grpcd_started").size(), 1u) << server->stdout_text();
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  std::vector<NotifySocket::Message> starting = notify.with("READY=1");
  EXPECT_TRUE(starting[0].text.find("STATUS=serving with 2 workers and grpcd") != std::string::npos) << notify.dump();

  ASSERT_TRUE(server->signal(SIGHUP));
  ASSERT_TRUE(notify.wait_for("RELOADING=1", 1, milliseconds(5000))) << notify.dump();
  ASSERT_TRUE(notify.wait_for("READY=1", 2, milliseconds(10000))) << notify.dump();
  EXPECT_LT(notify.with("RELOADING=1")[0].at, notify.with("READY=1")[1].at);

  // STATUS= is refreshed with the requests served.
  for (int i = 0; i < 3; ++i) http_get(server->port(), "/health");
  auto deadline = Clock::now() + milliseconds(8000);
  bool counted = false;
  while (!counted && Clock::now() < deadline) {
    for (const auto& m : notify.messages()) counted = counted || m.text.find("requests served") != std::string::npos;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(counted) << notify.dump();

  ASSERT_TRUE(server->signal(SIGTERM));
  EXPECT_EQ(server->wait_exit(milliseconds(10000)), std::optional<int>(0));
  EXPECT_EQ(notify.with("STOPPING=1").size(), 1u) << notify.dump();
}

// A worker that dies soon after it starts, again and again, is restarted
// with a growing back-off, said in the log and in STATUS=; the next worker
// that comes up clears it.
TEST(SystemdNotifyTest, CrashLoopBackOffIsLoggedAndShownInStatus) {
  NotifySocket notify;
  std::string why;
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
  o.env = {{"NOTIFY_SOCKET", notify.path()}};
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  for (std::size_t kills = 1; kills <= 3; ++kills) {
    std::vector<Json> spawned = server->events("worker_spawned");
    ASSERT_EQ(spawned.size(), kills) << server->stdout_text();
    ASSERT_TRUE(server->wait_event_count("worker_started", kills, milliseconds(5000))) << server->stdout_text();
    ASSERT_EQ(kill(static_cast<int>(spawned.back()["worker_pid"].as_number()), SIGKILL), 0);
    ASSERT_TRUE(server->wait_event_count("worker_spawned", kills + 1, milliseconds(5000))) << server->stdout_text();
  }
  std::vector<Json> backoffs = server->events("crash_loop_backoff");
  ASSERT_EQ(backoffs.size(), 3u) << server->stdout_text();
  EXPECT_EQ(backoffs[0]["restart_in_ms"].as_number(), 100);
  EXPECT_EQ(backoffs[1]["restart_in_ms"].as_number(), 200);
  EXPECT_EQ(backoffs[2]["restart_in_ms"].as_number(), 400);
  bool said = false;
  for (const auto& m : notify.messages()) said = said || m.text.find("keeps crashing") != std::string::npos;
  EXPECT_TRUE(said) << notify.dump();
  ASSERT_TRUE(server->wait_event_count("worker_started", 4, milliseconds(5000)));
  auto deadline = Clock::now() + milliseconds(3000);
  bool recovered = false;
  while (!recovered && Clock::now() < deadline) {
    for (const auto& m : notify.messages()) recovered = recovered || m.text.find("(recovered)") != std::string::npos;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(recovered) << notify.dump();
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

// Gaps between consecutive WATCHDOG=1 messages, in ms.
std::vector<long> watchdog_gaps(const NotifySocket& notify) {
  std::vector<NotifySocket::Message> pings = notify.with("WATCHDOG=1");
  std::vector<long> gaps;
  for (std::size_t i = 1; i < pings.size(); ++i) {
    gaps.push_back(std::chrono::duration_cast<milliseconds>(pings[i].at - pings[i - 1].at).count());
  }
  return gaps;
}

TEST(SystemdNotifyTest, WatchdogPingsAtHalfTheIntervalAndStopsWhileAChildIsWedged) {
  NotifySocket notify;
  std::string why;
  auto server = start_server(notified(notify, {{"WATCHDOG_USEC", "400000"}, {"WORKER_TIMEOUT", "2"}}), &why);
  ASSERT_TRUE(server) << why;
  std::this_thread::sleep_for(milliseconds(2000));
  std::vector<NotifySocket::Message> pings = notify.with("WATCHDOG=1");
  // Every 200 ms: about 10 in 2 s (noisy machines: a wide band).
  EXPECT_GE(pings.size(), 6u) << notify.dump();
  EXPECT_LE(pings.size(), 14u) << notify.dump();

  const int victim = static_cast<int>(server->events("worker_spawned")[0]["worker_pid"].as_number());
  ASSERT_EQ(kill(victim, SIGSTOP), 0);
  ASSERT_TRUE(server->wait_event("worker_killed", milliseconds(8000))) << server->stdout_text();
  ASSERT_TRUE(server->wait_event("watchdog_resumed", milliseconds(3000))) << server->stdout_text();
  std::this_thread::sleep_for(milliseconds(600));
  // While the wedged worker was being killed (SIGABRT, then SIGKILL 2 s
  // later) the supervisor vouched for nothing; then the pings came back.
  std::vector<long> gaps = watchdog_gaps(notify);
  long longest = gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end());
  EXPECT_GE(longest, 1500) << notify.dump();
  EXPECT_LE(gaps.back(), 1000) << notify.dump();
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

TEST(SystemdNotifyTest, AWatchdogMeantForAnotherProcessIsIgnored) {
  NotifySocket notify;
  std::string why;
  auto server = start_server(notified(notify, {{"WATCHDOG_USEC", "400000"}, {"WATCHDOG_PID", "1"}}), &why);
  ASSERT_TRUE(server) << why;
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_TRUE(notify.with("WATCHDOG=1").empty()) << notify.dump();
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

// A listening socket on 127.0.0.1 at a descriptor ≥ 100 that a spawned
// child inherits; closed by the destructor.
struct PassedSocket {
  int fd = -1;
  int port = 0;
  PassedSocket() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(s, 128), 0);
    socklen_t len = sizeof addr;
    getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    fd = fcntl(s, F_DUPFD, 100);
    close(s);
  }
  ~PassedSocket() { close(fd); }
};

// A bash launcher that hands `fds` to the server as 3, 4... with
// LISTEN_PID (its own pid, kept by exec), LISTEN_FDS and LISTEN_FDNAMES.
std::vector<std::string> activation_launcher(const std::vector<int>& fds, const std::string& names) {
  std::string script = "export LISTEN_PID=$$ LISTEN_FDS=" + std::to_string(fds.size()) + " LISTEN_FDNAMES=" + names + "; exec";
  for (std::size_t i = 0; i < fds.size(); ++i) script += " " + std::to_string(3 + i) + "<&" + std::to_string(fds[i]);
  for (int fd : fds) script += " " + std::to_string(fd) + "<&-";
  script += "; exec \"$0\" \"$@\"";
  return {"/bin/bash", "-c", script};
}

TEST(SocketActivationTest, SocketsAreTakenByNameInEitherOrder) {
  PassedSocket http, grpc;
  ServerOptions o;
  o.args = {"--workers", "2", "--port", "1", "--grpc-port", "1"};  // (ignored: the sockets are given)
  // Names swapped on purpose: fd 3 is gRPC's, fd 4 HTTP's.
  o.launcher = activation_launcher({grpc.fd, http.fd}, "grpc:http");
  std::string why;
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  EXPECT_EQ(server->port(), http.port);
  EXPECT_EQ(http_get(http.port, "/health").status, 200);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc.port), grpc::InsecureChannelCredentials());
  HealthAnswer h = health_check(*channel, "", milliseconds(5000));
  EXPECT_TRUE(h.serving_ok()) << h.describe();
  channel.reset();  // (an open channel would hold grpcd's drain)
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

TEST(SocketActivationTest, UnnamedSocketsAreHttpThenGrpc) {
  PassedSocket http;
  ServerOptions o;
  o.args = {"--workers", "1", "--no-grpc"};
  o.launcher = activation_launcher({http.fd}, "");
  std::string why;
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  EXPECT_EQ(server->port(), http.port);
  EXPECT_EQ(http_get(http.port, "/health").status, 200);
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

TEST(SocketActivationTest, BadSocketsAreClearStartUpErrors) {
  PassedSocket one;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int not_a_socket = fcntl(pipe_fds[0], F_DUPFD, 110);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  struct Case {
    std::vector<int> fds;
    std::string names, says;
  } cases[] = {
      {{one.fd}, "metrics", "unknown socket name \"metrics\""},
      {{not_a_socket}, "http", "not a listening TCP socket"},
  };
  for (const Case& c : cases) {
    ServerProcess p;
    ASSERT_TRUE(p.spawn({"--no-grpc"}, base_env(), activation_launcher(c.fds, c.names))) << p.error();
    EXPECT_EQ(p.wait_exit(milliseconds(10000)), std::optional<int>(2)) << p.stderr_text();
    p.wait_streams_closed(milliseconds(3000));
    EXPECT_NE(p.stderr_text().find(c.says), std::string::npos) << p.stderr_text();
  }
  close(not_a_socket);
}

}  // namespace
}  // namespace itest
