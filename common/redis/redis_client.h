// One non-blocking Redis connection on a process's event loop: hiredis's
// async API with its libevent adapter, commands pipelined and answered in
// order.
//
// Every command has REDIS_TIMEOUT_MS. When the oldest one outlives it the
// connection is dropped, which fails every command still in flight at once
// (their callers decide on this machine's state instead), and a new
// connection is made with back-off. While no connection is usable, send()
// refuses at once, so no request ever waits on a dead or stopped Redis for
// longer than the timeout. A connection becomes usable when its handshake
// (AUTH, SELECT, SCRIPT LOAD of every script) has been answered; it is
// logged when it becomes usable and when it stops being so.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis/redis_url.h"
#include "common/runtime/loop.h"
#include "common/shm/metrics.h"

struct redisAsyncContext;
struct redisReply;

namespace genkit {

class RedisClient {
 public:
  struct Options {
    RedisEndpoint endpoint;
    std::chrono::milliseconds timeout{50};
    std::chrono::milliseconds handshake_timeout{1000};  // connect, AUTH, SELECT, SCRIPT LOAD
    std::vector<std::string> scripts;                   // Lua sources, loaded on every connection
    std::size_t max_in_flight = 4096;                   // beyond: refused (local state decides)
  };
  // The reply (valid during the call only, never an error reply), or null
  // when there is none (timeout, connection lost, error reply: counted and
  // logged here; the caller decides on local state).
  using Callback = std::function<void(const redisReply* reply)>;

  RedisClient(Loop& loop, Options options, shm::ProcessMetrics& metrics);
  ~RedisClient();  // pending callbacks are dropped, not called
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void start();
  bool usable() const { return state_ == State::kReady; }
  // "connected", or "unavailable: <why>" (for /ready).
  std::string status_text() const;

  // Sends a command; false (and `cb` never runs) when no connection is
  // usable or too many commands are in flight.
  bool send(const std::vector<std::string_view>& args, Callback cb);
  // EVALSHA of options.scripts[script] with its keys and arguments.
  bool run_script(std::size_t script, const std::vector<std::string_view>& keys,
                  const std::vector<std::string_view>& args, Callback cb);
  // Writes what is queued now instead of on the loop's next turn: for an
  // outcome other machines must see before this one answers its client.
  void flush();
  // A reply that is not what was asked for: counted, logged (at most once a
  // second), never trusted.
  void reply_invalid(const char* what);

 private:
  enum class State { kDown, kConnecting, kReady };
  struct Pending {
    RedisClient* owner;
    Callback cb;
    std::chrono::steady_clock::time_point deadline;
    bool settled = false;
  };

  void connect();
  void handshake();
  bool send_raw(const std::vector<std::string_view>& args, std::chrono::milliseconds timeout, Callback cb);
  void on_ready();
  // Drops the connection: in-flight commands fail, a reconnect is scheduled.
  void drop(shm::RedisFailure kind, const std::string& why);
  void schedule_reconnect();
  void arm_timeout();
  void on_timeout_check();
  void mark_down(const std::string& why);

  static void on_reply(redisAsyncContext* ctx, void* reply, void* privdata);
  static void on_connect(const redisAsyncContext* ctx, int status);
  static void on_disconnect(const redisAsyncContext* ctx, int status);

  Loop& loop_;
  Options options_;
  shm::ProcessMetrics& metrics_;
  std::string address_;  // the host resolved once at start (hiredis resolves blocking)
  redisAsyncContext* ctx_ = nullptr;
  State state_ = State::kDown;
  bool closing_ = false;
  std::deque<Pending*> in_flight_;  // unsettled commands, oldest first (hiredis owns the Pending)
  std::vector<std::string> script_shas_;
  std::unique_ptr<Timer> timeout_timer_;
  std::unique_ptr<Timer> reconnect_timer_;
  std::chrono::milliseconds backoff_{0};
  std::string down_reason_ = "not connected yet";
  bool down_logged_ = false;
  int64_t last_invalid_log_ms_ = 0;
};

}  // namespace genkit
