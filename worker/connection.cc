#include "worker/connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "worker/http1_session.h"

namespace genkit::http {

namespace {
constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t kHttp2PrefaceLen = sizeof(kHttp2Preface) - 1;

}  // namespace

void Connection::accept(ServerContext& ctx, int fd, const std::string& client_ip) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  new Connection(ctx, fd, client_ip);  // owns itself; freed in destroy()
}

Connection::Connection(ServerContext& ctx, int fd, std::string client_ip)
    : ctx_(ctx),
      bev_(bufferevent_socket_new(ctx.base, fd, BEV_OPT_CLOSE_ON_FREE)),
      timer_(evtimer_new(ctx.base, &Connection::on_timer, this)),
      client_ip_(std::move(client_ip)) {
  ++ctx_.open_connections;
  ctx_.connections.insert(this);
  bufferevent_setcb(bev_, &Connection::on_read, &Connection::on_write, &Connection::on_event, this);
  // Bounded input: while a response is pending, a pipelining client can
  // buffer at most this much before we stop reading its socket.
  bufferevent_setwatermark(bev_, EV_READ, 0, 256 * 1024);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  arm_timer(ctx_.limits.read_timeout_s);
}

Connection::~Connection() {
  event_free(timer_);
  bufferevent_free(bev_);
  --ctx_.open_connections;
  ctx_.connections.erase(this);
  if (ctx_.on_connection_closed) ctx_.on_connection_closed();
}

void Connection::write(const void* data, std::size_t len) {
  if (dead_ || len == 0) return;
  // Nothing queued: try the socket first. A small response then costs one
  // send(2) and no write-event registration (two epoll_ctl calls saved).
  if (pending_output() == 0) {
    ssize_t n = send(bufferevent_getfd(bev_), data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return close_now();
      n = 0;
    }
    if (static_cast<std::size_t>(n) == len) return;
    data = static_cast<const char*>(data) + n;
    len -= static_cast<std::size_t>(n);
  }
  bufferevent_write(bev_, data, len);
  if (pending_output() > ctx_.limits.max_output_buffer) {
    log_warning("slow_client_dropped", {{"client", client_ip_}, {"buffered", pending_output()}});
    close_now();
  }
}

std::size_t Connection::pending_output() const { return evbuffer_get_length(bufferevent_get_output(bev_)); }

void Connection::arm_timer(int seconds) {
  timeval tv{seconds, 0};
  evtimer_add(timer_, &tv);
}

void Connection::disarm_timer() { evtimer_del(timer_); }

void Connection::close_after_write() {
  closing_ = true;
  bufferevent_disable(bev_, EV_READ);
  if (pending_output() == 0) close_now();
}

void Connection::close_now() {
  if (dead_) return;
  dead_ = true;
  if (session_) session_->on_close();
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  evtimer_del(timer_);
  // Freed on the next loop iteration: the caller may be a method of our own
  // session, still on the stack.
  event_base_once(ctx_.base, -1, EV_TIMEOUT, &Connection::on_destroy, this, nullptr);
}

void Connection::on_destroy(int, short, void* arg) { delete static_cast<Connection*>(arg); }

void Connection::begin_drain() {
  if (session_) return session_->begin_drain();
  // Accepted, but its first bytes are not read yet: its request is on the
  // way. The session that reads it sees the drain and answers with a close.
  arm_timer(1);
}

void Connection::resume_reading() {
  if (dead_ || closing_ || !session_) return;
  evbuffer* input = bufferevent_get_input(bev_);
  if (evbuffer_get_length(input) > 0) session_->on_data(input);
}

void Connection::choose_protocol(evbuffer* input) {
  std::size_t have = evbuffer_get_length(input);
  std::size_t n = have < kHttp2PrefaceLen ? have : kHttp2PrefaceLen;
  unsigned char head[kHttp2PrefaceLen];
  evbuffer_copyout(input, head, n);
  if (std::memcmp(head, kHttp2Preface, n) == 0) {
    if (n < kHttp2PrefaceLen) return;  // could still be the preface: wait for more
    // h2c prior knowledge: the nghttp2 session plugs in here.
    log_info("http2_not_enabled", {{"client", client_ip_}});
    return close_now();
  }
  session_ = std::make_unique<Http1Session>(*this);
}

void Connection::on_read(bufferevent* bev, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (self->dead_ || self->closing_) return;
  evbuffer* input = bufferevent_get_input(bev);
  if (!self->session_) self->choose_protocol(input);
  if (self->session_ && !self->dead_) self->session_->on_data(input);
}

void Connection::on_write(bufferevent*, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (self->dead_) return;
  if (self->closing_) return self->close_now();
  if (self->session_) self->session_->on_output_drained();
}

void Connection::on_event(bufferevent*, short what, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->close_now();
}

void Connection::on_timer(int, short, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (self->dead_) return;
  if (self->session_) {
    self->session_->on_timeout();
  } else {
    self->close_now();
  }
}

}  // namespace genkit::http
