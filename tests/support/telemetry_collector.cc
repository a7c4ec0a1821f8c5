#include "tests/support/telemetry_collector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <strings.h>

namespace itest {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Reply {
  Clock::time_point due;
  std::string bytes;
};

struct Conn {
  int fd = -1;
  std::string in;
  std::deque<Reply> replies;  // answered in order
  bool closing = false;        // the client closed: answer nothing more
};

// Parses one complete request off the front of `buf`; false when incomplete.
// `bad` is set for a request this collector cannot frame.
bool take_request(std::string* buf, std::string* method, std::string* path, std::string* body, bool* bad) {
  size_t end = buf->find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = buf->substr(0, end);
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = request_line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    *bad = true;
    return false;
  }
  *method = request_line.substr(0, sp1);
  *path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t length = 0;
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t nl = head.find("\r\n", pos);
    std::string line = head.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? head.size() : nl + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (strcasecmp(name.c_str(), "Content-Length") == 0) length = std::stoul(value);
    if (strcasecmp(name.c_str(), "Transfer-Encoding") == 0) *bad = true;  // (our clients send lengths)
  }
  if (*bad) return false;
  if (buf->size() < end + 4 + length) return false;
  *body = buf->substr(end + 4, length);
  buf->erase(0, end + 4 + length);
  return true;
}

}  // namespace

bool TelemetryCollector::start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    error_ = std::string("collector socket: ") + std::strerror(errno);
    return false;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
  return true;
}

void TelemetryCollector::stop() {
  if (thread_.joinable()) {
    char c = 'x';
    (void)!write(wake_[1], &c, 1);
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void TelemetryCollector::serve() {
  std::vector<Conn> conns;
  while (true) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const Conn& c : conns) fds.push_back({c.fd, POLLIN, 0});
    int timeout_ms = 100;
    auto now = Clock::now();
    for (const Conn& c : conns) {
      if (c.replies.empty()) continue;
      auto left = std::chrono::duration_cast<milliseconds>(c.replies.front().due - now).count();
      timeout_ms = std::clamp(static_cast<int>(left) + 1, 0, timeout_ms);
    }
    poll(fds.data(), fds.size(), timeout_ms);
    if (fds[0].revents & POLLIN) break;
    if (fds[1].revents & POLLIN) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) conns.push_back(Conn{fd, {}, {}, false});
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Conn& c = conns[i - 2];
      char buf[65536];
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        c.closing = true;
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      std::string method, path, body;
      bool bad = false;
      while (take_request(&c.in, &method, &path, &body, &bad)) {
        if (method == "POST") {
          CollectedPost p;
          p.path = path;
          p.body = body;
          genkit::Result<genkit::Json> j = genkit::Json::parse(body);
          if (j.ok()) p.json = std::move(j).value();
          p.arrived = Clock::now();
          std::lock_guard lock(mu_);
          posts_.push_back(std::move(p));
        }
        int status = status_.load();
        std::string text = status == 200 ? "OK" : "Internal Server Error";
        std::string reply = "HTTP/1.1 " + std::to_string(status) + " " + text +
                            "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(text.size()) +
                            "\r\n\r\n" + text;
        c.replies.push_back(Reply{Clock::now() + milliseconds(delay_ms_.load()), std::move(reply)});
      }
      if (bad) c.closing = true;
    }
    now = Clock::now();
    for (Conn& c : conns) {
      while (!c.closing && !c.replies.empty() && c.replies.front().due <= now) {
        const std::string& bytes = c.replies.front().bytes;
        if (send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
          c.closing = true;
        }
        c.replies.pop_front();
      }
    }
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->closing) {
        close(it->fd);
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Conn& c : conns) close(c.fd);
}

std::vector<CollectedPost> TelemetryCollector::posts() const {
  std::lock_guard lock(mu_);
  return posts_;
}

void TelemetryCollector::clear() {
  std::lock_guard lock(mu_);
  posts_.clear();
}

bool TelemetryCollector::wait_for(const std::function<bool(const std::vector<CollectedPost>&)>& probe,
                                  milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (probe(posts())) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::vector<genkit::Json> TelemetryCollector::trace_posts(const std::string& trace_id) const {
  std::vector<genkit::Json> out;
  for (const CollectedPost& p : posts()) {
    if (p.path == "/api/traces" && p.json["traceId"].as_string() == trace_id) out.push_back(p.json);
  }
  return out;
}

std::map<std::string, genkit::Json> TelemetryCollector::spans_of(const std::string& trace_id) const {
  std::map<std::string, genkit::Json> spans;
  for (const genkit::Json& body : trace_posts(trace_id)) {
    body["spans"].for_each([&](std::string_view id, genkit::JsonView span) {
      spans[std::string(id)] = genkit::Json::copy_of(span);
    });
  }
  return spans;
}

std::vector<genkit::Json> spans_at_path(const std::map<std::string, genkit::Json>& spans, const std::string& path) {
  std::vector<genkit::Json> out;
  for (const auto& [id, span] : spans) {
    if (span["attributes"]["genkit:path"].as_string() == path) out.push_back(span);
  }
  return out;
}

}  // namespace itest
