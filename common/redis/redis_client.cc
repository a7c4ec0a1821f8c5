#include "common/redis/redis_client.h"

#include <arpa/inet.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>

#include <algorithm>

#include "common/log.h"
#include "common/redis/reply_limits.h"

namespace genkit {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

// hiredis resolves host names with a blocking getaddrinfo on every connect:
// resolve once, at start, before the loop serves anything.
std::string resolve_once(const std::string& host) {
  in6_addr probe;
  if (inet_pton(AF_INET, host.c_str(), &probe) == 1 || inet_pton(AF_INET6, host.c_str(), &probe) == 1) return host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found) return host;
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = found->ai_family == AF_INET6
                         ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                         : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
  std::string out = inet_ntop(found->ai_family, addr, text, sizeof text) ? text : host;
  freeaddrinfo(found);
  return out;
}

}  // namespace

RedisClient::RedisClient(Loop& loop, Options options, shm::ProcessMetrics& metrics)
    : loop_(loop), options_(std::move(options)), metrics_(metrics) {
  if (!options_.endpoint.is_unix()) address_ = resolve_once(options_.endpoint.host);
  timeout_timer_ = std::make_unique<Timer>(loop_.base(), [this] { on_timeout_check(); });
  reconnect_timer_ = std::make_unique<Timer>(loop_.base(), [this] { connect(); });
}

RedisClient::~RedisClient() {
  closing_ = true;
  timeout_timer_.reset();
  reconnect_timer_.reset();
  if (redisAsyncContext* c = ctx_) {
    ctx_ = nullptr;
    redisAsyncFree(c);  // runs every pending callback with no reply: dropped (closing_)
  }
}

void RedisClient::start() { connect(); }

std::string RedisClient::status_text() const {
  return usable() ? "connected" : "unavailable: " + down_reason_ + " (serving on local shared-memory state)";
}

void RedisClient::connect() {
  if (closing_ || ctx_) return;
  const RedisEndpoint& e = options_.endpoint;
  redisAsyncContext* c = e.is_unix() ? redisAsyncConnectUnix(e.socket_path.c_str())
                                     : redisAsyncConnect(address_.c_str(), e.port);
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisAsyncFree(c);
    metrics_.redis_failure(shm::RedisFailure::kConnection);
    mark_down("cannot connect: " + why);
    return schedule_reconnect();
  }
  c->data = this;
  bound_replies(c->c.reader);  // (reply_limits.h)
  redisLibeventAttach(c, loop_.base());
  redisAsyncSetConnectCallback(c, &RedisClient::on_connect);
  redisAsyncSetDisconnectCallback(c, &RedisClient::on_disconnect);
  ctx_ = c;
  state_ = State::kConnecting;
  // The handshake's commands are queued now and written once connected;
  // their deadline also bounds the connect itself.
  handshake();
}

void RedisClient::handshake() {
  const RedisEndpoint& e = options_.endpoint;
  // (An error reply to any of these drops the connection, with Redis's
  // words as the reason: on_reply.)
  auto answered = [](const redisReply*) {};
  if (!e.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!e.username.empty()) auth.push_back(e.username);
    auth.push_back(e.password);
    send_raw(auth, options_.handshake_timeout, answered);
  }
  std::string db = std::to_string(e.db);
  if (e.db != 0) send_raw({"SELECT", db}, options_.handshake_timeout, answered);
  script_shas_.assign(options_.scripts.size(), "");
  for (std::size_t i = 0; i < options_.scripts.size(); ++i) {
    send_raw({"SCRIPT", "LOAD", options_.scripts[i]}, options_.handshake_timeout, [this, i](const redisReply* r) {
      if (!r) return;
      if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        return drop(shm::RedisFailure::kReply, "SCRIPT LOAD: not a SHA1");
      }
      script_shas_[i].assign(r->str, r->len);
    });
  }
  send_raw({"PING"}, options_.handshake_timeout, [this](const redisReply* r) {
    if (r && state_ == State::kConnecting) on_ready();
  });
}

void RedisClient::on_ready() {
  state_ = State::kReady;
  backoff_ = std::chrono::milliseconds(0);
  metrics_.redis_connected(true);
  log_info("redis_connected", {{"url", options_.endpoint.display()}});
  down_logged_ = false;
}

void RedisClient::mark_down(const std::string& why) {
  bool was_ready = state_ == State::kReady;
  state_ = State::kDown;
  down_reason_ = why;
  if (was_ready) metrics_.redis_connected(false);
  if (!down_logged_) {
    down_logged_ = true;
    log_warning("redis_unavailable", {{"url", options_.endpoint.display()},
                                      {"reason", why},
                                      {"fallback", "this machine's shared-memory state"}});
  }
}

void RedisClient::schedule_reconnect() {
  if (closing_) return;
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  reconnect_timer_->start(backoff_);
}

void RedisClient::drop(shm::RedisFailure kind, const std::string& why) {
  redisAsyncContext* c = ctx_;
  if (!c) return;
  ctx_ = nullptr;
  metrics_.redis_failure(kind);
  mark_down(why);
  // Everything in flight fails now: its callers decide locally at once.
  std::deque<Pending*> failed;
  failed.swap(in_flight_);
  for (Pending* p : failed) p->settled = true;
  for (Pending* p : failed) p->cb(nullptr);
  redisAsyncFree(c);  // (deferred by hiredis when inside its callback)
  schedule_reconnect();
}

bool RedisClient::send(const std::vector<std::string_view>& args, Callback cb) {
  if (state_ != State::kReady || in_flight_.size() >= options_.max_in_flight) return false;
  return send_raw(args, options_.timeout, std::move(cb));
}

bool RedisClient::run_script(std::size_t script, const std::vector<std::string_view>& keys,
                             const std::vector<std::string_view>& args, Callback cb) {
  if (state_ != State::kReady || script >= script_shas_.size()) return false;
  std::string nkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv{"EVALSHA", script_shas_[script], nkeys};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return send(argv, std::move(cb));
}

bool RedisClient::send_raw(const std::vector<std::string_view>& args, std::chrono::milliseconds timeout, Callback cb) {
  if (!ctx_) return false;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* p = new Pending{this, std::move(cb), Clock::now() + timeout};
  if (redisAsyncCommandArgv(ctx_, &RedisClient::on_reply, p, static_cast<int>(args.size()), argv.data(),
                            lens.data()) != REDIS_OK) {
    delete p;
    return false;
  }
  metrics_.redis_command();
  in_flight_.push_back(p);
  if (!timeout_timer_->pending()) arm_timeout();
  return true;
}

void RedisClient::flush() {
  if (ctx_ && state_ == State::kReady) redisAsyncHandleWrite(ctx_);
}

void RedisClient::arm_timeout() {
  if (in_flight_.empty()) return timeout_timer_->cancel();
  auto left = std::chrono::ceil<std::chrono::milliseconds>(in_flight_.front()->deadline - Clock::now());
  timeout_timer_->start(std::max(left, std::chrono::milliseconds(0)));
}

// Deadlines grow in sending order, so the oldest command is the one to check.
void RedisClient::on_timeout_check() {
  if (in_flight_.empty()) return;
  if (Clock::now() < in_flight_.front()->deadline) return arm_timeout();
  bool handshaking = state_ == State::kConnecting;
  drop(shm::RedisFailure::kTimeout, handshaking ? "no answer to the connection's handshake within 1 s"
                                                 : "no answer within REDIS_TIMEOUT_MS");
}

void RedisClient::on_reply(redisAsyncContext*, void* r, void* privdata) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
  RedisClient* self = p->owner;
  if (p->settled || self->closing_) return;
  // Replies come in sending order: this is the oldest unsettled command.
  auto it = std::find(self->in_flight_.begin(), self->in_flight_.end(), p.get());
  if (it != self->in_flight_.end()) self->in_flight_.erase(it);
  p->settled = true;
  auto* reply = static_cast<const redisReply*>(r);
  if (reply && reply->type == REDIS_REPLY_ERROR) {
    std::string text(reply->str, reply->len);
    p->cb(nullptr);
    // A script missing (SCRIPT FLUSH) or a refused handshake: a new
    // connection loads and authenticates again.
    if (self->state_ != State::kReady || text.rfind("NOSCRIPT", 0) == 0) {
      self->drop(shm::RedisFailure::kReply, "Redis answered: " + text);
    } else {
      self->reply_invalid(text.c_str());
    }
    return;
  }
  p->cb(reply);
}

void RedisClient::reply_invalid(const char* what) {
  metrics_.redis_failure(shm::RedisFailure::kReply);
  int64_t now = now_unix_ms();
  if (now - last_invalid_log_ms_ < 1000) return;
  last_invalid_log_ms_ = now;
  log_error("redis_reply_invalid", {{"url", options_.endpoint.display()},
                                    {"reply", std::string(what).substr(0, 200)},
                                    {"fallback", "this machine's shared-memory state"}});
}

void RedisClient::on_connect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisClient*>(c->data);
  if (status == REDIS_OK || self->closing_ || c != self->ctx_) return;
  // hiredis frees the context after this callback.
  self->ctx_ = nullptr;
  std::deque<Pending*> failed;
  failed.swap(self->in_flight_);
  for (Pending* p : failed) p->settled = true;
  self->metrics_.redis_failure(shm::RedisFailure::kConnection);
  self->mark_down(std::string("cannot connect: ") + (c->errstr[0] ? c->errstr : "refused"));
  self->schedule_reconnect();
}

void RedisClient::on_disconnect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisClient*>(c->data);
  if (self->closing_ || c != self->ctx_) return;  // (dropped by us: handled there)
  // The server closed it (killed, restarted, `CLIENT KILL`): hiredis frees it
  // and has failed its pending commands.
  self->ctx_ = nullptr;
  self->in_flight_.clear();
  self->metrics_.redis_failure(shm::RedisFailure::kConnection);
  self->mark_down(status == REDIS_OK ? "Redis closed the connection"
                                     : std::string("connection lost: ") + (c->errstr[0] ? c->errstr : "error"));
  self->schedule_reconnect();
}

}  // namespace genkit
