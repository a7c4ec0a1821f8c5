// A plain TCP connection to 127.0.0.1 for clients that misbehave on purpose
// (integration/abusive_clients_test.cc): a reader that never reads, a writer
// that gives a byte at a time, one of a flood of idle sockets. Unlike
// HttpClient it parses nothing: it counts, keeps (the first 64 KiB) and
// times what arrives. Every wait is bounded.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace itest {

class RawConnection {
 public:
  using Clock = std::chrono::steady_clock;
  using milliseconds = std::chrono::milliseconds;

  RawConnection() = default;
  ~RawConnection() { close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  RawConnection(RawConnection&& other) noexcept { *this = std::move(other); }
  RawConnection& operator=(RawConnection&& other) noexcept;

  // `receive_buffer` > 0: that SO_RCVBUF, so the server meets a full socket sooner.
  bool connect(int port, milliseconds timeout = milliseconds(2000), int receive_buffer = 0);
  void close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends as much of `bytes` as the socket takes within `timeout` (stops at
  // an error, e.g. once the server has closed); returns how many went.
  std::size_t send_some(std::string_view bytes, milliseconds timeout);
  // Reads what has arrived, without waiting. False once the peer has closed
  // (end of stream or reset): closed() is then true.
  bool read_available();
  // Reads until the peer closes, at most `timeout`; true when it did.
  bool read_until_closed(milliseconds timeout);

  const std::string& received() const { return received_; }  // the first kKeptBytes read
  std::size_t received_bytes() const { return received_bytes_; }
  bool closed() const { return closed_; }
  Clock::time_point closed_at() const { return closed_at_; }

  static constexpr std::size_t kKeptBytes = 64 * 1024;

 private:
  int fd_ = -1;
  std::string received_;
  std::size_t received_bytes_ = 0;
  bool closed_ = false;
  Clock::time_point closed_at_{};
};

}  // namespace itest
