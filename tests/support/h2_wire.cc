#include "tests/support/h2_wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace itest::h2 {

namespace {

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get32(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// HPACK integer with a 7-bit prefix (RFC 7541 §5.1), Huffman bit off.
void put_length(std::string& out, std::size_t n) {
  if (n < 127) {
    out.push_back(static_cast<char>(n));
    return;
  }
  out.push_back(static_cast<char>(127));
  n -= 127;
  while (n >= 128) {
    out.push_back(static_cast<char>((n % 128) + 128));
    n /= 128;
  }
  out.push_back(static_cast<char>(n));
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

uint32_t Frame::goaway_last_stream() const { return payload.size() >= 4 ? get32(payload) & 0x7fffffffu : 0; }
uint32_t Frame::goaway_error() const { return payload.size() >= 8 ? get32(std::string_view(payload).substr(4)) : 0; }
uint32_t Frame::rst_error() const { return payload.size() >= 4 ? get32(payload) : 0; }

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  out.reserve(9 + payload.size());
  std::size_t n = payload.size();
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  put32(out, stream & 0x7fffffffu);
  out.append(payload);
  return out;
}

std::string preface(const std::vector<std::pair<uint16_t, uint32_t>>& settings) {
  std::string payload;
  for (const auto& [id, value] : settings) {
    payload.push_back(static_cast<char>(id >> 8));
    payload.push_back(static_cast<char>(id));
    put32(payload, value);
  }
  return "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(kSettings, 0, 0, payload);
}

std::string rst_stream(uint32_t stream, uint32_t error_code) {
  std::string payload;
  put32(payload, error_code);
  return frame(kRstStream, 0, stream, payload);
}

std::string window_update(uint32_t stream, uint32_t increment) {
  std::string payload;
  put32(payload, increment);
  return frame(kWindowUpdate, 0, stream, payload);
}

std::string literal(std::string_view name, std::string_view value) {
  std::string out(1, '\0');
  put_length(out, name.size());
  out.append(name);
  put_length(out, value.size());
  out.append(value);
  return out;
}

std::string request_block(std::string_view method, std::string_view path,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string block = literal(":method", method) + literal(":scheme", "http") + literal(":path", path) +
                      literal(":authority", "127.0.0.1");
  for (const auto& [name, value] : extra) block += literal(name, value);
  return block;
}

Wire::~Wire() { close(); }

void Wire::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Wire::connect(int port, milliseconds timeout) {
  close();
  closed_ = false;
  buf_.clear();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(std::strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (receive_buffer_ > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_, sizeof receive_buffer_);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    return fail(std::string("connect: ") + std::strerror(errno));
  }
  pollfd p{fd_, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return fail("connect timed out");
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return fail(std::string("connect: ") + std::strerror(err));
  return true;
}

bool Wire::send(std::string_view bytes, milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::string("send: ") + std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, remaining_ms(deadline)) != 1) return fail("send timed out");
  }
  return true;
}

bool Wire::fill(Clock::time_point deadline) {
  for (;;) {
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      closed_ = true;
      error_ = n == 0 ? "closed by the server" : std::string("recv: ") + std::strerror(errno);
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) != 1) return fail("timed out waiting for a frame");
  }
}

std::optional<Frame> Wire::next(milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (buf_.size() >= 9) {
      std::size_t len = static_cast<std::size_t>(static_cast<unsigned char>(buf_[0])) << 16 |
                        static_cast<std::size_t>(static_cast<unsigned char>(buf_[1])) << 8 |
                        static_cast<unsigned char>(buf_[2]);
      if (buf_.size() >= 9 + len) {
        Frame f;
        f.type = static_cast<uint8_t>(buf_[3]);
        f.flags = static_cast<uint8_t>(buf_[4]);
        f.stream = get32(std::string_view(buf_).substr(5)) & 0x7fffffffu;
        f.payload = buf_.substr(9, len);
        buf_.erase(0, 9 + len);
        return f;
      }
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<Frame> Wire::until(uint8_t type, std::optional<uint32_t> stream, milliseconds timeout,
                                 std::vector<Frame>* seen) {
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    std::optional<Frame> f = next(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    if (!f) return std::nullopt;
    if (f->type == type && (!stream || f->stream == *stream)) return f;
    if (seen) seen->push_back(std::move(*f));
  }
}

bool Wire::wait_closed(milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (!closed_) {
    buf_.clear();  // (whatever still arrives is not looked at)
    if (!fill(deadline) && !closed_) return false;
  }
  return true;
}

std::optional<std::string> body_of_stream(Wire& w, uint32_t stream, milliseconds timeout) {
  std::string body;
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    std::optional<Frame> f = w.next(milliseconds(remaining_ms(deadline)));
    if (!f) return std::nullopt;
    if (f->stream != stream) continue;
    if (f->type == kRstStream) return std::nullopt;
    if (f->type == kData) body += f->payload;
    if ((f->type == kData || f->type == kHeaders) && (f->flags & kEndStream)) return body;
  }
}

}  // namespace itest::h2
