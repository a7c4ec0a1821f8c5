#include "tests/support/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace itest {

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this == &other) return *this;
  close();
  fd_ = other.fd_;
  other.fd_ = -1;
  received_ = std::move(other.received_);
  received_bytes_ = other.received_bytes_;
  closed_ = other.closed_;
  closed_at_ = other.closed_at_;
  return *this;
}

bool RawConnection::connect(int port, milliseconds timeout, int receive_buffer) {
  close();
  closed_ = false;
  received_.clear();
  received_bytes_ = 0;
  // CLOEXEC: a server started later by the same test must not keep it open.
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return false;
  if (receive_buffer > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    close();
    return false;
  }
  pollfd p{fd_, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1 || getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
      err != 0) {
    close();
    return false;
  }
  return true;
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::size_t RawConnection::send_some(std::string_view bytes, milliseconds timeout) {
  std::size_t sent = 0;
  Clock::time_point deadline = Clock::now() + timeout;
  while (fd_ >= 0 && sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd_, POLLOUT, 0};
    poll(&p, 1, static_cast<int>(std::min<long>(left, 50)));
  }
  return sent;
}

bool RawConnection::read_available() {
  if (fd_ < 0 || closed_) return false;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      std::size_t keep = std::min(static_cast<std::size_t>(n), kKeptBytes - std::min(kKeptBytes, received_.size()));
      received_.append(buf, keep);
      received_bytes_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    closed_ = true;  // end of stream, or a reset
    closed_at_ = Clock::now();
    return false;
  }
}

bool RawConnection::read_until_closed(milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (read_available()) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(std::min<long>(left, 100)));
  }
  return closed_;
}

}  // namespace itest
