#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace itest {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<int64_t>(0, left));
}

bool has_header(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return lower(h.first) == name; });
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [k, v] : headers) {
    if (k == want) return v;
  }
  return std::nullopt;
}

std::string build_request(std::string_view method, std::string_view path, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string r;
  r.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  if (!has_header(headers, "host")) r += "Host: 127.0.0.1\r\n";
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  bool framed = has_header(headers, "content-length") || has_header(headers, "transfer-encoding");
  if (!framed && (!body.empty() || method == "POST")) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r.append(body);
  return r;
}

HttpClient& HttpClient::operator=(HttpClient&& other) noexcept {
  if (this == &other) return *this;
  close();
  fd_ = std::exchange(other.fd_, -1);
  receive_buffer_ = other.receive_buffer_;
  source_address_ = std::move(other.source_address_);
  eof_ = other.eof_;
  buf_ = std::move(other.buf_);
  error_ = std::move(other.error_);
  body_mode_ = other.body_mode_;
  remaining_ = other.remaining_;
  in_chunk_ = other.in_chunk_;
  sse_buf_ = std::move(other.sse_buf_);
  body_so_far_ = std::move(other.body_so_far_);
  return *this;
}

bool HttpClient::fail(std::string why) {
  error_ = std::move(why);
  return false;
}

bool HttpClient::connect(int port, milliseconds timeout) {
  close();
  // CLOEXEC: a server spawned later by the same test must not inherit (and so
  // keep open) this client's connection.
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return fail(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (receive_buffer_ > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_, sizeof receive_buffer_);
  if (!source_address_.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;  // port 0: any free one
    if (inet_pton(AF_INET, source_address_.c_str(), &local.sin_addr) != 1) {
      close();
      return fail("bind: not an IPv4 address: " + source_address_);
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      std::string why = "bind " + source_address_ + ": " + std::strerror(errno);
      close();
      return fail(why);
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    std::string why = std::string("connect: ") + std::strerror(errno);
    close();
    return fail(why);
  }
  pollfd p{fd_, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    close();
    return fail("connect: timed out");
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    close();
    return fail(std::string("connect: ") + std::strerror(err));
  }
  return true;
}

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  eof_ = false;
  buf_.clear();
  body_mode_ = BodyMode::kNone;
  sse_buf_.clear();
  body_so_far_.clear();
}

bool HttpClient::send_raw(std::string_view bytes, milliseconds timeout) {
  if (fd_ < 0) return fail("send: not connected");
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a server that already closed must fail the test, not kill it with SIGPIPE.
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::string("send: ") + std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, ms_left(deadline)) <= 0) return fail("send: timed out");
  }
  return true;
}

bool HttpClient::fill(Clock::time_point deadline) {
  if (fd_ < 0) return fail("read: not connected");
  if (eof_) return fail("read: connection closed by the server");
  while (true) {
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return fail("read: connection closed by the server");
    }
    if (errno == ECONNRESET) {
      eof_ = true;
      return fail("read: connection reset by the server");
    }
    if (errno != EAGAIN && errno != EINTR) return fail(std::string("read: ") + std::strerror(errno));
    pollfd p{fd_, POLLIN, 0};
    int left = ms_left(deadline);
    if (left == 0 || poll(&p, 1, left) == 0) return fail("read: timed out");
  }
}

bool HttpClient::read_line(std::string* line, Clock::time_point deadline) {
  size_t end;
  while ((end = buf_.find("\r\n")) == std::string::npos) {
    if (!fill(deadline)) return false;
  }
  *line = buf_.substr(0, end);
  buf_.erase(0, end + 2);
  return true;
}

std::optional<HttpResponse> HttpClient::read_head_until(Clock::time_point deadline) {
  while (true) {
    HttpResponse r;
    std::string line;
    if (!read_line(&line, deadline)) return std::nullopt;
    // "HTTP/1.1 200 OK"
    size_t sp1 = line.find(' ');
    if (line.rfind("HTTP/", 0) != 0 || sp1 == std::string::npos) {
      fail("bad status line: " + line);
      return std::nullopt;
    }
    r.version = line.substr(0, sp1);
    size_t sp2 = line.find(' ', sp1 + 1);
    r.status = std::atoi(line.substr(sp1 + 1, sp2 - sp1 - 1).c_str());
    r.reason = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
    while (true) {
      if (!read_line(&line, deadline)) return std::nullopt;
      if (line.empty()) break;
      size_t colon = line.find(':');
      if (colon == std::string::npos) {
        fail("bad header line: " + line);
        return std::nullopt;
      }
      r.headers.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
    }
    if (r.status >= 100 && r.status < 200) continue;  // interim (100 Continue): the real one follows
    std::optional<std::string> te = r.header("transfer-encoding");
    std::optional<std::string> cl = r.header("content-length");
    in_chunk_ = false;
    sse_buf_.clear();
    body_so_far_.clear();
    if (r.status == 204 || r.status == 304) {
      body_mode_ = BodyMode::kDone;
    } else if (te && lower(*te).find("chunked") != std::string::npos) {
      r.chunked = true;
      body_mode_ = BodyMode::kChunked;
    } else if (cl) {
      remaining_ = std::strtoull(cl->c_str(), nullptr, 10);
      body_mode_ = remaining_ == 0 ? BodyMode::kDone : BodyMode::kLength;
    } else {
      body_mode_ = BodyMode::kUntilClose;
    }
    return r;
  }
}

bool HttpClient::read_body_piece(std::string* out, Clock::time_point deadline) {
  switch (body_mode_) {
    case BodyMode::kNone: return fail("no response head was read");
    case BodyMode::kDone: return true;
    case BodyMode::kLength: {
      if (buf_.empty() && !fill(deadline)) return false;
      size_t n = std::min(remaining_, buf_.size());
      out->append(buf_, 0, n);
      buf_.erase(0, n);
      remaining_ -= n;
      if (remaining_ == 0) body_mode_ = BodyMode::kDone;
      return true;
    }
    case BodyMode::kUntilClose: {
      if (buf_.empty() && !fill(deadline)) {
        if (!eof_) return false;
        body_mode_ = BodyMode::kDone;  // the close ends the body
        return true;
      }
      out->append(buf_);
      buf_.clear();
      return true;
    }
    case BodyMode::kChunked: break;
  }
  if (!in_chunk_) {
    std::string size_line;
    if (!read_line(&size_line, deadline)) return false;
    size_t size = std::strtoull(size_line.c_str(), nullptr, 16);
    if (size_line.empty() || !std::isxdigit(static_cast<unsigned char>(size_line[0]))) {
      return fail("bad chunk size line: " + size_line);
    }
    if (size == 0) {
      std::string trailer;
      do {
        if (!read_line(&trailer, deadline)) return false;
      } while (!trailer.empty());
      body_mode_ = BodyMode::kDone;
      return true;
    }
    remaining_ = size;
    in_chunk_ = true;
  }
  if (buf_.empty() && !fill(deadline)) return false;
  size_t n = std::min(remaining_, buf_.size());
  out->append(buf_, 0, n);
  buf_.erase(0, n);
  remaining_ -= n;
  if (remaining_ == 0) {
    while (buf_.size() < 2) {
      if (!fill(deadline)) return false;
    }
    if (buf_.compare(0, 2, "\r\n") != 0) return fail("chunk data not followed by CRLF");
    buf_.erase(0, 2);
    in_chunk_ = false;
  }
  return true;
}

std::optional<HttpResponse> HttpClient::read_head(milliseconds timeout) {
  return read_head_until(Clock::now() + timeout);
}

std::optional<HttpResponse> HttpClient::read_response(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::optional<HttpResponse> r = read_head_until(deadline);
  if (!r) return std::nullopt;
  while (body_mode_ != BodyMode::kDone) {
    if (!read_body_piece(&r->body, deadline)) return std::nullopt;
  }
  return r;
}

std::optional<HttpResponse> HttpClient::request(std::string_view method, std::string_view path,
                                                std::string_view body,
                                                const std::vector<std::pair<std::string, std::string>>& headers,
                                                milliseconds timeout) {
  if (!send_raw(build_request(method, path, body, headers), timeout)) return std::nullopt;
  return read_response(timeout);
}

std::optional<SseEvent> HttpClient::next_event(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  error_.clear();
  while (true) {
    size_t end = sse_buf_.find("\n\n");
    if (end != std::string::npos) {
      SseEvent ev;
      ev.raw = sse_buf_.substr(0, end + 2);
      ev.arrived = Clock::now();
      sse_buf_.erase(0, end + 2);
      size_t pos = 0;
      std::string block = ev.raw.substr(0, end);
      bool first = true;
      while (pos <= block.size()) {
        size_t nl = block.find('\n', pos);
        std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("data:", 0) == 0) {
          std::string value = line.substr(5);
          if (!value.empty() && value[0] == ' ') value.erase(0, 1);
          if (!first) ev.data += "\n";
          ev.data += value;
          first = false;
        }
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      return ev;
    }
    if (body_mode_ == BodyMode::kDone) {
      if (!sse_buf_.empty()) fail("stream ended inside an event: " + sse_buf_);
      return std::nullopt;
    }
    std::string piece;
    if (!read_body_piece(&piece, deadline)) return std::nullopt;
    sse_buf_ += piece;
    body_so_far_ += piece;
  }
}

bool HttpClient::wait_closed(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!eof_) {
    buf_.clear();
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

namespace {

HttpResponse one_shot(int port, std::string_view method, std::string_view path, std::string_view body,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view source_address) {
  HttpClient c;
  c.set_source_address(std::string(source_address));
  std::optional<HttpResponse> r;
  if (c.connect(port)) r = c.request(method, path, body, headers);
  if (r) return *r;
  HttpResponse failed;
  failed.reason = std::string(method) + " " + std::string(path) + ": " + c.error();
  return failed;
}

}  // namespace

HttpResponse http_get(int port, std::string_view path,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view source_address) {
  return one_shot(port, "GET", path, {}, headers, source_address);
}

HttpResponse http_post(int port, std::string_view path, std::string_view body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       std::string_view source_address) {
  return one_shot(port, "POST", path, body, headers, source_address);
}

}  // namespace itest
