// stream_probe: opens N concurrent SSE streams (HTTP/1.1 POST) on one epoll
// loop and prints, per stream, when each event arrived (ms after its request
// was sent) and, for events whose text carries fake_llm's "[sent <µs>us]"
// stamp (--stamp-chunks), how long the event took from the fake's write to
// here (ms; CLOCK_MONOTONIC on both sides). C++ rather than Python so the
// probe's own wake-up cost stays far below the millisecond it measures.
//
//   stream_probe HOST PORT PATH BODY N [HEADER...]   → {"streams":[{"arrivals":[…],"transit":[…]},…]}
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Stream {
  int fd = -1;
  double sent_at = 0;
  std::string buffered;
  std::vector<double> arrivals, transit;
  bool done = false;
};

// Consumes complete "data:" lines from s.buffered.
void take_events(Stream& s, double now) {
  for (;;) {
    std::size_t i = s.buffered.find("data:");
    if (i == std::string::npos) return;
    std::size_t j = s.buffered.find('\n', i);
    if (j == std::string::npos) return;
    s.arrivals.push_back(now - s.sent_at);
    std::size_t m = s.buffered.find("[sent ", i);
    if (m != std::string::npos && m < j) {
      double sent_us = std::strtod(s.buffered.c_str() + m + 6, nullptr);
      s.transit.push_back(now - sent_us / 1e3);
    }
    s.buffered.erase(0, j + 1);
  }
}

void print_list(const std::vector<double>& v) {
  std::printf("[");
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.3f", i ? "," : "", v[i]);
  std::printf("]");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: stream_probe HOST PORT PATH BODY N [HEADER...]\n");
    return 2;
  }
  const std::string host = argv[1], path = argv[3], body = argv[4];
  const int port = std::atoi(argv[2]), n = std::atoi(argv[5]);
  if (port <= 0 || port > 65535 || n <= 0 || n > 10000) {
    std::fprintf(stderr, "stream_probe: bad PORT or N\n");
    return 2;
  }
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + argv[2] +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n";
  for (int i = 6; i < argc; ++i) request += std::string(argv[i]) + "\r\n";
  request += "\r\n" + body;

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "stream_probe: HOST must be an IPv4 address\n");
    return 2;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Stream> streams(static_cast<std::size_t>(n));
  // Connect all first (blocking, loopback: immediate), then send every request.
  for (int i = 0; i < n; ++i) {
    Stream& s = streams[static_cast<std::size_t>(i)];
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s.fd < 0 || connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::fprintf(stderr, "stream_probe: connect: %s\n", std::strerror(errno));
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  }
  for (Stream& s : streams) {
    s.sent_at = now_ms();
    if (send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      std::fprintf(stderr, "stream_probe: send: %s\n", std::strerror(errno));
      return 1;
    }
  }
  int open = n;
  const double deadline = now_ms() + 60000;
  std::vector<epoll_event> ready(static_cast<std::size_t>(n));
  char buf[65536];
  while (open > 0 && now_ms() < deadline) {
    int k = epoll_wait(ep, ready.data(), n, 1000);
    double now = now_ms();
    for (int r = 0; r < k; ++r) {
      Stream& s = streams[ready[static_cast<std::size_t>(r)].data.u32];
      ssize_t got = recv(s.fd, buf, sizeof buf, 0);
      if (got > 0) {
        s.buffered.append(buf, static_cast<std::size_t>(got));
        take_events(s, now);
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
      close(s.fd);
      s.done = true;
      --open;
    }
  }
  std::printf("{\"streams\":[");
  for (std::size_t i = 0; i < streams.size(); ++i) {
    std::printf("%s{\"arrivals\":", i ? "," : "");
    print_list(streams[i].arrivals);
    std::printf(",\"transit\":");
    print_list(streams[i].transit);
    std::printf("}");
  }
  std::printf("]}\n");
  return open == 0 ? 0 : 1;
}
