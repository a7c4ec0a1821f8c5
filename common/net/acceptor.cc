#include "common/net/acceptor.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"

namespace genkit {

namespace {

constexpr int kAcceptsPerWake = 4;
constexpr int kMaxAcceptsAtStop = 4096;  // a full default backlog
constexpr timeval kPauseWhenOutOfDescriptors{0, 100000};

std::string peer_ip(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

}  // namespace

Acceptor::Acceptor(event_base* base, int listen_fd, OnConnection on_connection)
    : fd_(listen_fd), on_connection_(std::move(on_connection)) {
  // Another worker may take a connection first: accept must never block.
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  read_ev_ = event_new(base, fd_, EV_READ | EV_PERSIST, &Acceptor::on_readable, this);
  resume_ev_ = evtimer_new(base, &Acceptor::on_resume, this);
}

Acceptor::~Acceptor() {
  if (read_ev_) event_free(read_ev_);
  if (resume_ev_) event_free(resume_ev_);
  if (fd_ >= 0) close(fd_);
}

bool Acceptor::start() { return read_ev_ && resume_ev_ && event_add(read_ev_, nullptr) == 0; }

void Acceptor::stop() {
  if (stopped_) return;
  // Connections the kernel already completed are ours to serve: take them
  // (bounded) before closing, so a drain loses none.
  for (int i = 0; i < kMaxAcceptsAtStop; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int conn = accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) break;
    on_connection_(conn, peer_ip(ss));
  }
  stopped_ = true;
  event_del(read_ev_);
  event_del(resume_ev_);
  close(fd_);
  fd_ = -1;
}

void Acceptor::on_readable(int fd, short, void* arg) {
  auto* self = static_cast<Acceptor*>(arg);
  for (int i = 0; i < kAcceptsPerWake && !self->stopped_; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int conn = accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) {
      self->on_connection_(conn, peer_ip(ss));
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: keep serving what we have and try
    // again shortly (the socket stays readable, so waiting on it would spin).
    log_warning("accept_failed", {{"errno", errno}});
    event_del(self->read_ev_);
    evtimer_add(self->resume_ev_, &kPauseWhenOutOfDescriptors);
    return;
  }
}

void Acceptor::on_resume(int, short, void* arg) {
  auto* self = static_cast<Acceptor*>(arg);
  if (!self->stopped_) event_add(self->read_ev_, nullptr);
}

}  // namespace genkit
