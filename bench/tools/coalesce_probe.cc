// coalesce_probe: N identical concurrent requests (HTTP/1.1 POST) on one
// epoll loop, for the cache's coalescing of identical misses. It opens the N
// connections first and lets the server accept them, then writes the N
// requests back to back, and records when each complete response arrived.
//
// Arrival is the kernel's receive timestamp of the segment that completed the
// response (SO_TIMESTAMPNS, moved onto CLOCK_MONOTONIC): when the server's
// reply reached this socket, whatever the probe was doing then. On two busy
// cores the probe often wakes once for a whole burst of replies, so the time
// epoll_wait returned would show the probe's own wake-up, not the server's
// spread; it is printed beside for comparison. C++ so that the probe's cost
// stays far below the millisecond the lag target is about.
//
//   coalesce_probe HOST PORT PATH BODY N
//   → one "lag_ms <kernel> <seen>" line per complete response (arrival − the
//     round's earliest arrival, by the kernel's stamp and by when epoll_wait
//     returned), then one line of key=value figures:
//     sent=N send_span_ms=… first_ms=… complete=… status_200=… other_status=… distinct_bodies=…
//     (first_ms: the earliest arrival after the first request was written)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {

double ms_of(const timespec& ts) { return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6; }

double clock_ms(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return ms_of(ts);
}

double now_ms() { return clock_ms(CLOCK_MONOTONIC); }

// CLOCK_REALTIME − CLOCK_MONOTONIC, to move the kernel's (realtime) receive
// stamps onto the monotonic clock; read between two monotonic reads.
double realtime_offset_ms() {
  double a = now_ms(), r = clock_ms(CLOCK_REALTIME), b = now_ms();
  return r - (a + b) / 2;
}

// recv() that also returns the kernel's receive timestamp (realtime ms, 0 if none).
ssize_t recv_stamped(int fd, char* buf, std::size_t len, double* stamp_ms) {
  iovec iov{buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got = recvmsg(fd, &msg, 0);
  *stamp_ms = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); got > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      *stamp_ms = ms_of(ts);
    }
  }
  return got;
}

struct Reply {
  int fd = -1;
  std::string bytes;
  std::size_t body_at = 0;  // 0 until the headers are complete
  long content_length = -1;  // -1: read until the server closes
  int status = 0;
  double arrived = 0;  // kernel receive stamp, monotonic ms
  double seen = 0;     // when epoll_wait returned with it
  bool complete = false;
};

// Parses the status line and Content-Length once the headers are in.
void parse_headers(Reply& r) {
  std::size_t end = r.bytes.find("\r\n\r\n");
  if (end == std::string::npos) return;
  r.body_at = end + 4;
  if (r.bytes.compare(0, 5, "HTTP/") == 0) {
    std::size_t sp = r.bytes.find(' ');
    if (sp != std::string::npos) r.status = std::atoi(r.bytes.c_str() + sp + 1);
  }
  std::string head = r.bytes.substr(0, end);
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
  std::size_t cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) r.content_length = std::strtol(head.c_str() + cl + 17, nullptr, 10);
}

bool body_complete(const Reply& r) {
  return r.body_at && r.content_length >= 0 &&
         r.bytes.size() - r.body_at >= static_cast<std::size_t>(r.content_length);
}

std::string body_of(const Reply& r) { return r.body_at ? r.bytes.substr(r.body_at) : std::string(); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: coalesce_probe HOST PORT PATH BODY N\n");
    return 2;
  }
  const std::string host = argv[1], path = argv[3], body = argv[4];
  const int port = std::atoi(argv[2]), n = std::atoi(argv[5]);
  if (port <= 0 || port > 65535 || n <= 0 || n > 10000) {
    std::fprintf(stderr, "coalesce_probe: bad PORT or N\n");
    return 2;
  }
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + argv[2] +
                              "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "coalesce_probe: HOST must be an IPv4 address\n");
    return 2;
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Reply> replies(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    Reply& r = replies[static_cast<std::size_t>(i)];
    r.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (r.fd < 0 || setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        setsockopt(r.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0 ||
        connect(r.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::fprintf(stderr, "coalesce_probe: connect: %s\n", std::strerror(errno));
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, r.fd, &ev);
  }
  // Let the workers accept every connection, so the requests land on sockets
  // the server already watches rather than on an accept queue.
  usleep(200000);

  const double realtime_offset = realtime_offset_ms();
  const double first_sent = now_ms();
  for (Reply& r : replies) {
    if (send(r.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      std::fprintf(stderr, "coalesce_probe: send: %s\n", std::strerror(errno));
      return 1;
    }
  }
  const double last_sent = now_ms();

  int open = n;
  const double deadline = now_ms() + 30000;
  std::vector<epoll_event> ready(static_cast<std::size_t>(n));
  char buf[65536];
  while (open > 0 && now_ms() < deadline) {
    int k = epoll_wait(ep, ready.data(), n, 1000);
    const double now = now_ms();
    for (int e = 0; e < k; ++e) {
      Reply& r = replies[ready[static_cast<std::size_t>(e)].data.u32];
      double stamp = 0;
      ssize_t got = recv_stamped(r.fd, buf, sizeof buf, &stamp);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got > 0) {
        r.bytes.append(buf, static_cast<std::size_t>(got));
        if (!r.body_at) parse_headers(r);
        if (!r.complete && body_complete(r)) {
          r.complete = true;
          r.seen = now;
          r.arrived = stamp > 0 ? stamp - realtime_offset : now;
        }
        continue;
      }
      // Closed (or failed): a reply without Content-Length ends here.
      if (!r.complete && r.body_at && r.content_length < 0) {
        r.complete = true;
        r.arrived = r.seen = now;
      }
      epoll_ctl(ep, EPOLL_CTL_DEL, r.fd, nullptr);
      close(r.fd);
      --open;
    }
  }

  double earliest = 0, earliest_seen = 0;
  for (const Reply& r : replies) {
    if (r.complete && (earliest == 0 || r.arrived < earliest)) earliest = r.arrived;
    if (r.complete && (earliest_seen == 0 || r.seen < earliest_seen)) earliest_seen = r.seen;
  }
  int complete = 0, ok = 0;
  std::set<std::string> bodies;
  for (const Reply& r : replies) {
    if (!r.complete) continue;
    ++complete;
    if (r.status == 200) ++ok;
    bodies.insert(body_of(r));
    std::printf("lag_ms %.3f %.3f\n", r.arrived - earliest, r.seen - earliest_seen);
  }
  std::printf("sent=%d send_span_ms=%.3f first_ms=%.3f complete=%d status_200=%d other_status=%d distinct_bodies=%zu\n",
              n, last_sent - first_sent, complete ? earliest - first_sent : 0.0, complete, ok, complete - ok,
              bodies.size());
  return complete == n ? 0 : 1;
}
