#include "common/net/http1_transport.h"
#include "common/text.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

namespace genkit {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxIdleConnections = 1024;  // as libcurl's connection cache
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr milliseconds kConnectTimeout{10000};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool header_safe(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

// Headers this transport writes itself; a caller's copy would conflict.
bool framing_header(std::string_view name) {
  return iequals(name, "host") || iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "connection");
}

}  // namespace

struct Http1Transport::Impl {
  struct Call;

  // One TCP connection: carries one call at a time, then waits in the pool.
  // Its read event stays armed throughout, so moving between a call and
  // the pool changes nothing in epoll; an idle connection that turns
  // readable was closed (or misused) by the server and is dropped.
  struct Conn {
    Impl* owner = nullptr;
    int fd = -1;
    event ev{};
    short armed = 0;
    bool connecting = false;
    bool reused = false;  // has carried a call: the server may have closed it since
    Clock::time_point idle_since;
    std::string key;
    Call* call = nullptr;  // null while idle
  };

  // One request. Owns itself (`self`) until it ends, so a cancel that comes
  // late (a weak_ptr in the token) finds nothing.
  struct Call {
    Impl* owner = nullptr;
    std::shared_ptr<Call> self;
    Call* prev = nullptr;
    Call* next = nullptr;
    PlainHttpTarget target;
    HttpFetchDone done;
    std::function<bool(std::string_view)> on_data;
    std::size_t max_response_bytes = 0;
    bool head = false;
    std::string out;  // the request's bytes; dropped once sent unless a retry may need them
    std::size_t sent = 0;
    bool request_sent = false;
    Conn* conn = nullptr;
    event timer{};
    Clock::time_point deadline = Clock::time_point::max();
    http_parser parser{};
    HttpFetchResult result;
    std::string header_field;
    bool in_value = false;
    bool capture_value = false;
    bool have_content_type = false;
    std::size_t received = 0;
    bool replied = false;  // a byte of the reply arrived
    bool complete = false;
    bool too_large = false;
    bool rejected = false;
    bool cancelled = false;
    bool retried = false;
  };

  Impl(Loop& l, milliseconds max_idle) : loop(l), max_idle_age(max_idle) {}

  ~Impl() {
    while (calls != nullptr) abandon(calls);
    for (auto& [key, conns] : pool) {
      for (Conn* k : conns) close_conn(k);
    }
  }

  // ---- starting a call

  void start(PlainHttpTarget target, HttpFetch request, CancelToken cancel, HttpFetchDone done) {
    if (request.method.empty() || !printable(request.method)) {
      return fail_later(std::move(done), Status(Code::kInternal, "the upstream request has a malformed method"));
    }
    for (const auto& [name, value] : request.headers) {
      if (name.empty() || !printable(name) || name.find(':') != std::string::npos || !header_safe(value)) {
        return fail_later(std::move(done), Status(Code::kInternal, "the upstream request has a malformed header"));
      }
    }
    auto shared = std::make_shared<Call>();
    Call* c = shared.get();
    c->self = std::move(shared);
    c->owner = this;
    c->target = std::move(target);
    c->done = std::move(done);
    c->on_data = std::move(request.on_data);
    c->max_response_bytes = request.max_response_bytes;
    c->head = request.method == "HEAD";
    c->out = request_bytes(c->target, request);
    reset_parser(c);
    evtimer_assign(&c->timer, loop.base(), &Impl::on_timer, c);
    if (request.timeout.count() > 0) c->deadline = Clock::now() + request.timeout;
    link(c);

    std::weak_ptr<Call> weak = c->self;
    cancel.on_cancel([weak] {
      std::shared_ptr<Call> call = weak.lock();
      if (!call || call->cancelled) return;
      call->cancelled = true;
      // Never torn down inside its own callbacks: on the next tick.
      call->owner->loop.defer([weak] {
        if (std::shared_ptr<Call> late = weak.lock()) late->owner->abandon(late.get());
      });
    });
    if (c->cancelled) return;

    Conn* k = take_idle(c->target.authority);
    if (k == nullptr) {
      int err = 0;
      k = open(c->target, &err);
      if (k == nullptr) {
        HttpFetchDone d = std::move(c->done);
        destroy(c);
        return fail_later(std::move(d), unavailable(std::strerror(err)));
      }
    }
    arm_timer(c, k->connecting ? std::min(kConnectTimeout, remaining(c)) : remaining(c));
    attach(c, k);
  }

  static std::string request_bytes(const PlainHttpTarget& t, const HttpFetch& r) {
    std::size_t size = r.method.size() + t.path.size() + t.authority.size() + r.body.size() + 64;
    for (const auto& [name, value] : r.headers) size += name.size() + value.size() + 4;
    std::string out;
    out.reserve(size);
    out.append(r.method).append(" ").append(t.path).append(" HTTP/1.1\r\nHost: ").append(t.authority).append("\r\n");
    for (const auto& [name, value] : r.headers) {
      if (!framing_header(name)) out.append(name).append(": ").append(value).append("\r\n");
    }
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
      out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
    }
    out.append("\r\n").append(r.body);
    return out;
  }

  void fail_later(HttpFetchDone done, Status status) {
    std::weak_ptr<bool> guard = alive;
    loop.defer([guard, done = std::move(done), status = std::move(status)]() mutable {
      if (!guard.expired()) done(std::move(status));
    });
  }

  static Status unavailable(const std::string& why) { return {Code::kUnavailable, "the upstream call failed: " + why}; }

  // ---- connections

  // The most recently used connection (the pool is a stack per origin).
  Conn* take_idle(const std::string& key) {
    auto it = pool.find(key);
    if (it == pool.end() || it->second.empty()) return nullptr;
    std::vector<Conn*>& conns = it->second;
    if (Clock::now() - conns.back()->idle_since > max_idle_age) {  // all are older still
      for (Conn* k : conns) close_conn(k);
      idle -= conns.size();
      conns.clear();
      return nullptr;
    }
    Conn* k = conns.back();
    conns.pop_back();
    --idle;
    return k;
  }

  Conn* open(const PlainHttpTarget& t, int* err) {
    int fd = socket(t.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *err = errno;
      return nullptr;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bool connecting = false;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&t.address), t.address_len) != 0) {
      if (errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return nullptr;
      }
      connecting = true;
    }
    auto* k = new Conn;
    k->owner = this;
    k->fd = fd;
    k->connecting = connecting;
    k->key = t.authority;
    return k;
  }

  void arm(Conn* k, short what) {
    if (k->armed == what) return;
    if (k->armed != 0) event_del(&k->ev);
    event_assign(&k->ev, loop.base(), k->fd, static_cast<short>(what | EV_PERSIST), &Impl::on_conn_event, k);
    event_add(&k->ev, nullptr);
    k->armed = what;
  }

  void close_conn(Conn* k) {
    if (k->armed != 0) event_del(&k->ev);
    close(k->fd);
    delete k;
  }

  // A call is over with its connection: back to the pool, or closed.
  void release(Conn* k, bool keep) {
    k->call = nullptr;
    k->reused = true;
    if (!keep || idle >= kMaxIdleConnections) return close_conn(k);
    arm(k, EV_READ);
    k->idle_since = Clock::now();
    std::vector<Conn*>& conns = pool[k->key];
    auto fresh = std::find_if(conns.begin(), conns.end(),
                              [&](const Conn* old) { return k->idle_since - old->idle_since <= max_idle_age; });
    for (auto stale = conns.begin(); stale != fresh; ++stale) close_conn(*stale);
    idle -= static_cast<std::size_t>(fresh - conns.begin());
    conns.erase(conns.begin(), fresh);
    conns.push_back(k);
    ++idle;
  }

  void drop_idle(Conn* k) {
    std::vector<Conn*>& conns = pool[k->key];
    auto it = std::find(conns.begin(), conns.end(), k);
    if (it != conns.end()) {
      *it = conns.back();
      conns.pop_back();
      --idle;
    }
    close_conn(k);
  }

  // ---- the call on its connection

  void attach(Call* c, Conn* k) {
    c->conn = k;
    k->call = c;
    if (k->connecting) return arm(k, EV_READ | EV_WRITE);  // writable = connected (or failed)
    flush(c);
  }

  // A call may be retried once on a fresh connection when a reused one
  // turns out to be closed before any reply: the server dropped it while
  // idle (as libcurl does).
  static bool retryable(const Call* c) { return c->conn->reused && !c->retried && !c->replied; }

  // Sends what is left of the request. False when the call ended or moved
  // to another connection.
  bool flush(Call* c) {
    Conn* k = c->conn;
    while (c->sent < c->out.size()) {
      ssize_t n = send(k->fd, c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL);
      if (n > 0) {
        c->sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        arm(k, EV_READ | EV_WRITE);
        return true;
      } else {
        broken(c, std::strerror(n < 0 ? errno : EPIPE));
        return false;
      }
    }
    c->request_sent = true;
    if (!retryable(c)) std::string().swap(c->out);
    arm(k, EV_READ);
    return true;
  }

  void read(Call* c) {
    Conn* k = c->conn;
    for (;;) {
      ssize_t n = recv(k->fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (!c->replied && c->request_sent) std::string().swap(c->out);  // no retry once the server answered
        c->replied = true;
        if (!feed(c, buffer, static_cast<std::size_t>(n))) return;
        if (static_cast<std::size_t>(n) < sizeof buffer) return;
      } else if (n == 0) {
        return eof(c);
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else {
        return broken(c, std::strerror(errno));
      }
    }
  }

  // Parses reply bytes. False when the call ended (or is being cancelled).
  bool feed(Call* c, const char* data, std::size_t len) {
    std::size_t used = http_parser_execute(&c->parser, &settings(), data, len);
    if (c->cancelled) return false;
    if (c->complete) {
      bool keep = c->request_sent && used == len && !c->parser.upgrade && http_should_keep_alive(&c->parser);
      finish(c, keep);
      return false;
    }
    http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_OK) return true;
    if (c->too_large) {
      fail(c, Status(Code::kUpstream,
                     "the upstream reply exceeded " + std::to_string(c->max_response_bytes) + " bytes"));
    } else if (c->rejected) {
      fail(c, Status(Code::kUpstream, "the upstream reply was rejected while streaming"));
    } else {
      fail(c, unavailable(std::string("malformed HTTP reply (") + http_errno_description(e) + ")"));
    }
    return false;
  }

  void eof(Call* c) {
    if (c->replied) {
      // A reply without a length ends with the connection.
      http_parser_execute(&c->parser, &settings(), nullptr, 0);
      if (c->cancelled) return;
      if (c->complete) return finish(c, false);
    }
    broken(c, c->replied ? "the connection closed mid-reply" : "the connection closed before any reply");
  }

  void broken(Call* c, const std::string& why) {
    if (!retryable(c)) return fail(c, unavailable(why));
    c->retried = true;
    close_conn(c->conn);
    c->conn = nullptr;
    c->sent = 0;
    c->request_sent = false;
    reset_parser(c);
    int err = 0;
    Conn* k = open(c->target, &err);
    if (k == nullptr) return fail(c, unavailable(std::strerror(err)));
    attach(c, k);
  }

  // ---- ending a call

  void finish(Call* c, bool keep) {
    c->result.status = c->parser.status_code;
    c->result.content_type = std::string(trim_blanks(c->result.content_type));
    release(c->conn, keep);
    c->conn = nullptr;
    end(c, std::move(c->result));
  }

  void fail(Call* c, Status status) {
    if (c->conn != nullptr) close_conn(c->conn);
    c->conn = nullptr;
    end(c, std::move(status));
  }

  void end(Call* c, Result<HttpFetchResult> outcome) {
    HttpFetchDone done = std::move(c->done);
    bool cancelled = c->cancelled;
    destroy(c);
    if (!cancelled) done(std::move(outcome));  // may start new calls, even on the same connection
  }

  // Torn down without a word: the caller cancelled.
  void abandon(Call* c) {
    if (c->conn != nullptr) close_conn(c->conn);  // mid-request: not reusable
    c->conn = nullptr;
    destroy(c);
  }

  void destroy(Call* c) {
    event_del(&c->timer);
    if (c->prev != nullptr) c->prev->next = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    if (calls == c) calls = c->next;
    --count;
    std::shared_ptr<Call> last = std::move(c->self);  // frees the call on return
  }

  void link(Call* c) {
    c->next = calls;
    if (calls != nullptr) calls->prev = c;
    calls = c;
    ++count;
  }

  // ---- timers: one per call; equal durations share libevent's O(1) queue

  static milliseconds remaining(const Call* c) {
    if (c->deadline == Clock::time_point::max()) return milliseconds::max();
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(c->deadline - Clock::now()));
  }

  void arm_timer(Call* c, milliseconds delay) {
    if (delay == milliseconds::max()) return;
    timeval tv{static_cast<time_t>(delay.count() / 1000), static_cast<suseconds_t>(delay.count() % 1000 * 1000)};
    evtimer_add(&c->timer, common_timeout(delay.count(), tv));
  }

  const timeval* common_timeout(long long ms, const timeval& tv) {
    for (const auto& [known, shared] : common_timeouts) {
      if (known == ms) return shared;
    }
    if (common_timeouts.size() >= 8) return &tv;
    const timeval* shared = event_base_init_common_timeout(loop.base(), &tv);
    if (shared == nullptr) return &tv;
    common_timeouts.emplace_back(ms, shared);
    return shared;
  }

  static void on_timer(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Call*>(arg);
    Impl* self = c->owner;
    bool connecting = c->conn != nullptr && c->conn->connecting;
    milliseconds left = remaining(c);
    if (!connecting && left.count() > 0) return self->arm_timer(c, left);  // the connect phase ended in time
    self->fail(c, Status(Code::kDeadlineExceeded, "the upstream call timed out"));
  }

  // ---- events

  static void on_conn_event(evutil_socket_t fd, short what, void* arg) {
    auto* k = static_cast<Conn*>(arg);
    Impl* self = k->owner;
    Call* c = k->call;
    if (c == nullptr) {
      char probe;
      ssize_t n = recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      return self->drop_idle(k);  // closed by the server, or bytes nobody asked for
    }
    if (k->connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == EINPROGRESS) return;
      if (err != 0) return self->fail(c, unavailable(std::strerror(err)));
      k->connecting = false;
    }
    if ((what & EV_WRITE) != 0 && !self->flush(c)) return;
    if ((what & EV_READ) != 0) self->read(c);
  }

  // ---- reply parsing (only Content-Type is kept of the headers)

  static Call* call_of(http_parser* p) { return static_cast<Call*>(p->data); }

  static void reset_parser(Call* c) {
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->result = HttpFetchResult();
    c->header_field.clear();
    c->in_value = c->capture_value = c->have_content_type = false;
    c->received = 0;
    c->complete = false;
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t len) {
    Call* c = call_of(p);
    if (c->in_value) c->header_field.clear();
    c->in_value = false;
    c->header_field.append(at, len);
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t len) {
    Call* c = call_of(p);
    if (!c->in_value) {
      c->in_value = true;
      c->capture_value = !c->have_content_type && iequals(c->header_field, "content-type");
      c->have_content_type = c->have_content_type || c->capture_value;
    }
    if (c->capture_value) c->result.content_type.append(at, len);
    return 0;
  }

  static int on_headers_complete(http_parser* p) { return call_of(p)->head ? 1 : 0; }  // 1: no body follows

  static int on_body(http_parser* p, const char* at, std::size_t len) {
    Call* c = call_of(p);
    if (c->cancelled) return 1;
    c->received += len;
    if (c->received > c->max_response_bytes) {
      c->too_large = true;
      return 1;
    }
    if (!c->on_data) {
      c->result.body.append(at, len);
    } else if (!c->on_data(std::string_view(at, len))) {
      c->rejected = true;
      return 1;
    }
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    Call* c = call_of(p);
    if (p->status_code / 100 == 1 && p->status_code != 101) {  // an interim reply: the real one follows
      c->result.content_type.clear();
      c->header_field.clear();
      c->in_value = c->capture_value = c->have_content_type = false;
      return 0;
    }
    c->complete = true;
    http_parser_pause(p, 1);  // stop right after this reply
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x{};
      x.on_header_field = &Impl::on_header_field;
      x.on_header_value = &Impl::on_header_value;
      x.on_headers_complete = &Impl::on_headers_complete;
      x.on_body = &Impl::on_body;
      x.on_message_complete = &Impl::on_message_complete;
      return x;
    }();
    return s;
  }

  Loop& loop;
  milliseconds max_idle_age;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  Call* calls = nullptr;  // every call in flight
  std::size_t count = 0;
  std::unordered_map<std::string, std::vector<Conn*>> pool;
  std::size_t idle = 0;
  std::vector<std::pair<long long, const timeval*>> common_timeouts;
  char buffer[kReadChunk];  // one read at a time on this loop
};

Http1Transport::Http1Transport(Loop& loop, std::chrono::milliseconds max_idle_age)
    : impl_(std::make_unique<Impl>(loop, max_idle_age)) {}
Http1Transport::~Http1Transport() = default;

void Http1Transport::start(PlainHttpTarget target, HttpFetch request, CancelToken cancel, HttpFetchDone done) {
  impl_->start(std::move(target), std::move(request), std::move(cancel), std::move(done));
}

std::size_t Http1Transport::in_flight() const { return impl_->count; }
std::size_t Http1Transport::idle_connections() const { return impl_->idle; }

}  // namespace genkit
