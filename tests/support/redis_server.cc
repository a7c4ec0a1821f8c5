#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace itest {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kRedisServerBinary = "/usr/bin/redis-server";

RedisReply copy_reply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      out.error = out.str;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = RedisReply::Type::kNil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      out.error = "unknown reply type " + std::to_string(r->type);
      break;
  }
  return out;
}

timeval timeval_of(milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// One command on `ctx`; kNone with the context's error when there is no reply.
RedisReply run(redisContext* ctx, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(ctx, static_cast<int>(args.size()), args.data(), lens.data());
  if (!raw) {
    RedisReply none;
    none.error = std::string("no reply: ") + (ctx->err ? ctx->errstr : "unknown error");
    return none;
  }
  RedisReply out = copy_reply(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return out;
}

}  // namespace

std::string RedisReply::describe() const {
  switch (type) {
    case Type::kNone:
      return "(no reply: " + error + ")";
    case Type::kString:
      return "\"" + str + "\"";
    case Type::kStatus:
      return str;
    case Type::kError:
      return "(error) " + str;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer);
    case Type::kNil:
      return "(nil)";
    case Type::kArray: {
      std::string s = "[";
      for (size_t i = 0; i < elements.size(); ++i) s += (i ? ", " : "") + elements[i].describe();
      return s + "]";
    }
  }
  return "?";
}

RedisServer::~RedisServer() {
  stop();
  if (!dir_.empty()) {
    unlink((dir_ + "/redis.log").c_str());
    if (!socket_path_.empty()) unlink(socket_path_.c_str());
    rmdir(dir_.c_str());
  }
}

int RedisServer::free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool RedisServer::start(const Options& options, int port, milliseconds timeout) {
  if (pid_ > 0) {
    error_ = "already started";
    return false;
  }
  options_ = options;
  if (dir_.empty()) {
    char tmpl[] = "/tmp/itest-redis-XXXXXX";
    if (!mkdtemp(tmpl)) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
    dir_ = tmpl;
  }
  if (options_.unix_socket) socket_path_ = dir_ + "/redis.sock";
  const bool any_port = port == 0;
  const auto deadline = SteadyClock::now() + timeout;
  std::string last;
  for (int attempt = 0; attempt < 20 && SteadyClock::now() < deadline; ++attempt) {
    int p = any_port ? free_port() : port;
    if (p <= 0) {
      error_ = "no free port on 127.0.0.1";
      return false;
    }
    if (!spawn(p)) return false;
    bool exited = false;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (wait_ping(std::max(left, milliseconds(1)), &exited)) return true;
    last = "redis-server on port " + std::to_string(p) + (exited ? " exited" : " did not answer PING in time");
    if (!exited) break;  // it runs but does not answer: no point retrying
    // It exited (most likely its port was taken meanwhile): another try.
    if (!any_port) std::this_thread::sleep_for(milliseconds(100));
  }
  stop();
  error_ = last + "; its log:\n" + log_tail();
  return false;
}

bool RedisServer::spawn(int port) {
  std::vector<std::string> args{kRedisServerBinary,
                                "--port", std::to_string(port),
                                "--bind", "127.0.0.1",
                                "--save", "",
                                "--appendonly", "no",
                                "--daemonize", "no",
                                "--dir", dir_,
                                "--logfile", dir_ + "/redis.log"};
  if (!options_.requirepass.empty()) {
    args.insert(args.end(), {"--requirepass", options_.requirepass});
  }
  if (!socket_path_.empty()) {
    unlink(socket_path_.c_str());
    args.insert(args.end(), {"--unixsocket", socket_path_, "--unixsocketperm", "700"});
  }
  // Everything exec needs is built before fork: the test process has other
  // threads, so the child may only make async-signal-safe calls.
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test binary
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  port_ = port;
  return true;
}

bool RedisServer::wait_ping(milliseconds timeout, bool* exited) {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      *exited = true;
      return false;
    }
    if (ping()) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool RedisServer::reap_within(milliseconds timeout) {
  if (pid_ <= 0) return true;
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    pid_t r = waitpid(pid_, nullptr, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return true;
    }
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

void RedisServer::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  if (!reap_within(milliseconds(5000))) {
    waitpid(pid_, nullptr, 0);  // SIGKILL cannot be ignored: this returns
    pid_ = -1;
  }
}

bool RedisServer::stop_process() { return pid_ > 0 && kill(pid_, SIGSTOP) == 0; }

bool RedisServer::continue_process() { return pid_ > 0 && kill(pid_, SIGCONT) == 0; }

bool RedisServer::restart(milliseconds timeout) {
  kill9();
  if (port_ <= 0) {
    error_ = "never started";
    return false;
  }
  return start(options_, port_, timeout);
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);  // (a stopped process dies of SIGKILL too; this keeps it simple to reason about)
  kill9();
}

std::string RedisServer::log_tail(size_t max_bytes) const {
  std::ifstream f(dir_ + "/redis.log");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

RedisReply RedisServer::command(const std::vector<std::string>& argv, int db, milliseconds timeout) const {
  RedisReply none;
  timeval tv = timeval_of(timeout);
  redisContext* ctx = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!ctx || ctx->err) {
    none.error = std::string("connect to 127.0.0.1:") + std::to_string(port_) + ": " +
                 (ctx ? ctx->errstr : "cannot allocate a context");
    if (ctx) redisFree(ctx);
    return none;
  }
  redisSetTimeout(ctx, tv);
  if (!options_.requirepass.empty()) {
    RedisReply auth = run(ctx, {"AUTH", options_.requirepass});
    if (!auth.ok()) {
      redisFree(ctx);
      none.error = "AUTH: " + auth.describe();
      return none;
    }
  }
  if (db != 0) {
    RedisReply select = run(ctx, {"SELECT", std::to_string(db)});
    if (!select.ok()) {
      redisFree(ctx);
      none.error = "SELECT: " + select.describe();
      return none;
    }
  }
  RedisReply out = run(ctx, argv);
  redisFree(ctx);
  return out;
}

std::vector<std::string> RedisServer::keys(const std::string& pattern, int db) const {
  std::set<std::string> found;  // (SCAN may return a key twice)
  std::string cursor = "0";
  for (int round = 0; round < 10000; ++round) {
    RedisReply r = command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, db);
    if (r.type != RedisReply::Type::kArray || r.elements.size() != 2) break;
    for (const RedisReply& k : r.elements[1].elements) found.insert(k.str);
    cursor = r.elements[0].str;
    if (cursor == "0") break;
  }
  return {found.begin(), found.end()};
}

long long RedisServer::pttl(const std::string& key, int db) const {
  RedisReply r = command({"PTTL", key}, db);
  return r.type == RedisReply::Type::kInteger ? r.integer : -3;
}

bool RedisServer::ping() const {
  RedisReply r = command({"PING"}, 0, milliseconds(200));
  return r.type == RedisReply::Type::kStatus && r.str == "PONG";
}

}  // namespace itest
