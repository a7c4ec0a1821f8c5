#include "worker/connection.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/shm/metrics.h"
#include "worker/http1_session.h"
#include "worker/http2_session.h"
#include "worker/tls_context.h"

namespace genkit::http {

namespace {
constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t kHttp2PrefaceLen = sizeof(kHttp2Preface) - 1;

// While a response is pending, a pipelining client can buffer at most this
// much before we stop reading its socket.
constexpr std::size_t kMaxBufferedInput = 256 * 1024;

// A worker is one thread: every connection reads through this buffer, and
// only bytes a session leaves unconsumed are copied into the connection.
char g_read_buffer[16 * 1024];

bool transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

void Connection::accept(ServerContext& ctx, int fd, const std::string& client_ip) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  if (ctx.tls) {
    ssl = ctx.tls->new_session(fd);
    if (!ssl) {
      log_error("tls_session_failed", {{"client", client_ip}});
      close(fd);
      return;
    }
  }
  new Connection(ctx, fd, ssl, client_ip);  // owns itself; freed in on_destroy()
}

Connection::Connection(ServerContext& ctx, int fd, SSL* ssl, std::string client_ip)
    : ctx_(ctx), fd_(fd), ssl_(ssl), client_ip_(std::move(client_ip)) {
  ++ctx_.open_connections;
  if (ctx_.metrics) ctx_.metrics->connections_changed(1);
  ctx_.connections.insert(this);
  event_assign(&read_ev_, ctx.base, fd, EV_READ | EV_PERSIST, &Connection::on_readable, this);
  event_assign(&write_ev_, ctx.base, fd, EV_WRITE | EV_PERSIST, &Connection::on_writable, this);
  evtimer_assign(&timer_, ctx.base, &Connection::on_timer, this);
  set_reading(true);
  arm_timer(ctx_.limits.read_timeout_s);
}

Connection::~Connection() {
  event_del(&read_ev_);
  event_del(&write_ev_);
  event_del(&timer_);
  session_.reset();
  retired_.reset();
  if (ssl_) {
    if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);  // close_notify, best effort (non-blocking)
    SSL_free(ssl_);
    ERR_clear_error();
  }
  close(fd_);
  --ctx_.open_connections;
  if (ctx_.metrics) ctx_.metrics->connections_changed(-1);
  ctx_.connections.erase(this);
  if (ctx_.on_connection_closed) ctx_.on_connection_closed();
}

void Connection::set_reading(bool on) {
  if (on == reading_) return;
  reading_ = on;
  if (on) {
    event_add(&read_ev_, nullptr);
    // TLS may hold decrypted bytes the socket will never signal again.
    if (ssl_ && SSL_pending(ssl_) > 0) event_active(&read_ev_, EV_READ, 0);
  } else {
    event_del(&read_ev_);
  }
}

ssize_t Connection::receive(char* buf, std::size_t cap) {
  if (!ssl_) return recv(fd_, buf, cap, MSG_DONTWAIT);
  int n = SSL_read(ssl_, buf, static_cast<int>(cap));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:  // handshake bytes wait for room in the socket
      read_wants_write_ = true;
      event_add(&write_ev_, nullptr);
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default: {
      unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) {
        // Plain HTTP on the TLS port: say so, as nginx does, rather than reset.
        static const std::string kPlainHttp = [] {
          std::string body = R"({"error":"Bad Request","detail":"this port speaks TLS: use https:// URLs"})";
          return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        }();
        (void)!send(fd_, kPlainHttp.data(), kPlainHttp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      if (e != 0 && !SSL_is_init_finished(ssl_)) {
        const char* reason = ERR_reason_error_string(e);
        log_info("tls_handshake_failed", {{"client", client_ip_}, {"reason", reason ? reason : "unknown"}});
      }
      ERR_clear_error();
      errno = ECONNRESET;
      return -1;
    }
  }
}

ssize_t Connection::send_some(const char* data, std::size_t len) {
  if (!ssl_) return send(fd_, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  int n = SSL_write(ssl_, data, static_cast<int>(len > (1u << 30) ? (1u << 30) : len));
  if (n > 0) return n;
  int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
    errno = EAGAIN;
    return -1;
  }
  ERR_clear_error();
  errno = EPIPE;
  return -1;
}

void Connection::write(const void* data, std::size_t len) {
  if (dead_ || len == 0) return;
  // Nothing queued: try the socket first. A small response then costs one
  // send(2) and no write-event registration.
  if (pending_output() == 0) {
    ssize_t n = send_some(static_cast<const char*>(data), len);
    if (n < 0) {
      if (!transient(errno)) return close_now();
      n = 0;
    }
    if (static_cast<std::size_t>(n) == len) return;
    data = static_cast<const char*>(data) + n;
    len -= static_cast<std::size_t>(n);
  }
  out_.append(static_cast<const char*>(data), len);
  if (pending_output() > ctx_.limits.max_output_buffer) {
    log_warning("slow_client_dropped", {{"client", client_ip_}, {"buffered", pending_output()}});
    return close_now();
  }
  if (!writing_) {
    writing_ = true;
    event_add(&write_ev_, nullptr);
  }
}

void Connection::flush() {
  while (pending_output() > 0) {
    ssize_t n = send_some(out_.data() + out_sent_, pending_output());
    if (n < 0) {
      if (transient(errno)) return;
      return close_now();
    }
    out_sent_ += static_cast<std::size_t>(n);
  }
  std::string().swap(out_);  // a long stream's buffer is not kept while it waits
  out_sent_ = 0;
  writing_ = false;
  if (!read_wants_write_) event_del(&write_ev_);
  if (closing_) return close_now();
  if (session_) session_->on_output_drained();
}

void Connection::arm_timer(int seconds) {
  timeval tv{seconds, 0};
  evtimer_add(&timer_, &tv);
}

void Connection::disarm_timer() { evtimer_del(&timer_); }

void Connection::close_after_write() {
  closing_ = true;
  set_reading(false);
  if (pending_output() == 0) close_now();
}

void Connection::close_now() {
  if (dead_) return;
  dead_ = true;
  if (session_) session_->on_close();
  set_reading(false);
  event_del(&write_ev_);
  evtimer_del(&timer_);
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
  if (dead_ || closing_ || !session_ || in_.empty()) return;
  feed_buffered();
}

void Connection::choose_protocol() {
  std::size_t n = in_.size() < kHttp2PrefaceLen ? in_.size() : kHttp2PrefaceLen;
  if (std::memcmp(in_.data(), kHttp2Preface, n) == 0) {
    if (n < kHttp2PrefaceLen) return;  // could still be the preface: wait for more
    // HTTP/2: h2c with prior knowledge, or h2 chosen by ALPN. The preface
    // stays in the input: nghttp2 checks it.
    auto h2 = std::make_unique<Http2Session>(*this);
    Http2Session* s = h2.get();
    session_ = std::move(h2);
    return s->start();
  }
  session_ = std::make_unique<Http1Session>(*this);
}

void Connection::switch_session(std::unique_ptr<Session> next) {
  retired_ = std::move(session_);
  session_ = std::move(next);
}

// Offers input to the session; when the session hands the connection to
// another protocol midway, the rest goes to the new one.
std::size_t Connection::offer(std::string_view data) {
  std::size_t used = 0;
  for (;;) {
    Session* s = session_.get();
    used += s->on_data(data.substr(used));
    if (dead_ || closing_ || session_.get() == s || used == data.size()) return used;
  }
}

// Offers the buffered input to the session and keeps what it leaves.
void Connection::feed_buffered() {
  if (!session_) choose_protocol();
  if (!session_ || dead_) return;
  std::size_t used = offer(in_);
  if (dead_ || closing_) return;
  if (used == in_.size()) {
    std::string().swap(in_);  // nothing kept while the request is processed
  } else {
    in_.erase(0, used);
  }
  set_reading(in_.size() < kMaxBufferedInput);
}

void Connection::deliver(std::string_view data) {
  if (session_ && in_.empty()) {
    // The usual case: the session parses straight from the read buffer.
    std::size_t used = offer(data);
    if (dead_ || closing_ || used == data.size()) return;
    in_.assign(data.substr(used));
    set_reading(in_.size() < kMaxBufferedInput);
    return;
  }
  in_.append(data);
  feed_buffered();
}

void Connection::on_readable(int, short, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  // TLS: one record may decrypt to more than the buffer holds, and what is
  // left inside OpenSSL raises no socket event. Bounded, so that one busy
  // connection cannot starve the others.
  for (int round = 0; round < 8; ++round) {
    if (self->dead_ || self->closing_ || !self->reading_) return;
    ssize_t n = self->receive(g_read_buffer, sizeof g_read_buffer);
    if (n > 0) {
      self->deliver(std::string_view(g_read_buffer, static_cast<std::size_t>(n)));
      if (!self->ssl_ || SSL_pending(self->ssl_) == 0) return;
      continue;
    }
    if (n < 0 && transient(errno)) return;
    return self->close_now();  // end of stream, or a reset
  }
  if (!self->dead_ && self->reading_) event_active(&self->read_ev_, EV_READ, 0);
}

void Connection::on_writable(int, short, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (self->dead_) return;
  if (self->read_wants_write_) {
    self->read_wants_write_ = false;
    if (!self->writing_) event_del(&self->write_ev_);
    on_readable(-1, EV_READ, self);
    if (self->dead_) return;
  }
  if (self->writing_) self->flush();
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
