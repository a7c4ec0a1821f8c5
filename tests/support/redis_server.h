// Runs a real redis-server (/usr/bin/redis-server) for the Redis state
// backend's suites: on 127.0.0.1 and a free port (found by binding port 0
// first; another free port is tried when the server loses the race for it),
// nothing persisted, optionally with a password and a unix socket; waits
// (bounded) until it answers PING. A test can SIGKILL it, SIGSTOP and
// SIGCONT it, and restart it on the same port; it talks to it over hiredis'
// synchronous API (a fresh connection per command, so a restart never
// leaves the test holding a dead one). The destructor always SIGKILLs and
// reaps, and removes its directory, so a failing test never leaves a Redis
// behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace itest {

// One reply of a command, copied out of hiredis' redisReply.
struct RedisReply {
  enum class Type { kNone, kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNone;         // kNone: no reply (connect failure, timeout): see `error`
  std::string str;                 // kString, kStatus, kError
  long long integer = 0;           // kInteger
  std::vector<RedisReply> elements;  // kArray
  std::string error;               // why there is no reply (kNone), or the error reply's text

  bool ok() const { return type != Type::kNone && type != Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
  // For failure messages: the reply as text ("(nil)", "(integer) 3", ["a","b"]...).
  std::string describe() const;
};

struct RedisServerOptions {
  std::string requirepass;   // non-empty: --requirepass
  bool unix_socket = false;  // also listen on <dir>/redis.sock (socket_path())
};

class RedisServer {
 public:
  using Options = RedisServerOptions;

  RedisServer() = default;
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts on a free port (port 0) or on `port`, then waits until PING
  // answers. With port 0 a start that loses its port to another process is
  // retried on another one.
  bool start(const Options& options = {}, int port = 0,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // A free port on 127.0.0.1 nothing listens on now (for a Redis started later).
  static int free_port();

  // SIGKILL and reap: Redis is gone at once, its connections reset.
  void kill9();
  // SIGSTOP / SIGCONT: connections stay open, nothing is answered meanwhile.
  bool stop_process();
  bool continue_process();
  // kill9() (if running), then start again on the same port with the same
  // options (retrying while the port is still being released). An empty
  // Redis: nothing is persisted.
  bool restart(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // SIGKILL (after SIGCONT), reap. Idempotent.
  void stop();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& error() const { return error_; }  // why start() failed
  // The end of redis-server's own log (for failure messages).
  std::string log_tail(size_t max_bytes = 4000) const;

  // One command on a fresh connection (AUTH first with the password; SELECT
  // `db` when not 0), bounded by `timeout`.
  RedisReply command(const std::vector<std::string>& argv, int db = 0,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;
  // Every key matching `pattern`, sorted (SCAN, so bounded work per call).
  std::vector<std::string> keys(const std::string& pattern = "*", int db = 0) const;
  // PTTL of `key`: > 0 expires; -1 no expiry; -2 no such key; -3 no answer.
  long long pttl(const std::string& key, int db = 0) const;
  bool ping() const;

 private:
  bool spawn(int port);
  bool wait_ping(std::chrono::milliseconds timeout, bool* exited);
  bool reap_within(std::chrono::milliseconds timeout);

  Options options_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;          // its working directory: log, socket
  std::string socket_path_;  // Options::unix_socket
  std::string error_;
};

}  // namespace itest
