#include "tests/fuzz/support/canned_upstream.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace fuzz {

namespace {

std::mutex g_reply_mutex;
std::string g_reply;

[[noreturn]] void die(const char* why) {
  std::fprintf(stderr, "canned_upstream: %s\n", why);
  std::abort();
}

// Bytes of the request still to come after `head` (its Content-Length).
std::size_t body_length(const std::string& head) {
  std::size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    if (strncasecmp(head.c_str() + at, "content-length:", 15) == 0) {
      return std::strtoul(head.c_str() + at + 15, nullptr, 10);
    }
  }
  return 0;
}

}  // namespace

CannedUpstream& CannedUpstream::instance() {
  static CannedUpstream* upstream = new CannedUpstream();
  return *upstream;
}

CannedUpstream::CannedUpstream() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    die("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  std::thread([this] { serve(); }).detach();
}

std::string CannedUpstream::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void CannedUpstream::serve() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    answer(fd);
    close(fd);
  }
}

void CannedUpstream::answer(int fd) {
  std::string request;
  char buf[16384];
  std::size_t head_end = std::string::npos;
  while (head_end == std::string::npos || request.size() < head_end + 4 + body_length(request.substr(0, head_end))) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    request.append(buf, static_cast<std::size_t>(n));
    if (head_end == std::string::npos) head_end = request.find("\r\n\r\n");
  }
  std::string reply;
  {
    std::lock_guard<std::mutex> lock(g_reply_mutex);
    reply = g_reply;
  }
  for (std::size_t sent = 0; sent < reply.size();) {
    ssize_t n = send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
}

void CannedUpstream::call(std::string_view reply, genkit::Loop& loop, const std::function<void()>& start,
                          const std::function<bool()>& done) {
  {
    std::lock_guard<std::mutex> lock(g_reply_mutex);
    g_reply.assign(reply);
  }
  start();
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    event_base_loop(loop.base(), EVLOOP_ONCE);
    if (std::chrono::steady_clock::now() > give_up) die("the client never finished its call");
  }
}

}  // namespace fuzz
