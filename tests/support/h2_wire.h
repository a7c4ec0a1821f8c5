// A raw HTTP/2 client for the tests that no well-behaved client can play:
// floods (rapid reset, CONTINUATION, oversized header blocks), a request
// that never ends, a zero flow-control window, a reset in the middle of an
// SSE stream. Frames are built by hand (9-byte header + payload) and header
// blocks are HPACK literals without indexing, so what goes on the wire is
// exactly what the test says. Responses are not HPACK-decoded: tests look at
// frame types, flags, stream ids and DATA payloads. Every read is bounded
// by a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace itest::h2 {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
enum Flag : uint8_t { kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4 };
enum ErrorCode : uint32_t { kNoError = 0, kProtocolError = 1, kCancel = 8, kEnhanceYourCalm = 11 };

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;

  // GOAWAY: last stream id and error code.
  uint32_t goaway_last_stream() const;
  uint32_t goaway_error() const;
  // RST_STREAM: its error code.
  uint32_t rst_error() const;
};

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload = {});
// The client preface and a SETTINGS frame with `settings` (id, value).
std::string preface(const std::vector<std::pair<uint16_t, uint32_t>>& settings = {});
std::string rst_stream(uint32_t stream, uint32_t error_code);
std::string window_update(uint32_t stream, uint32_t increment);
// One HPACK "literal header field without indexing — new name".
std::string literal(std::string_view name, std::string_view value);
// :method, :scheme http, :path, :authority, then `extra` (lower-case names).
std::string request_block(std::string_view method, std::string_view path,
                          const std::vector<std::pair<std::string, std::string>>& extra = {});

class Wire {
 public:
  Wire() = default;
  ~Wire();
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  // A small SO_RCVBUF for the next connect(): the server meets a full socket sooner.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }
  bool connect(int port, milliseconds timeout = milliseconds(5000));
  bool send(std::string_view bytes, milliseconds timeout = milliseconds(5000));
  // The next frame; nullopt on EOF (closed() is then true), error or timeout.
  std::optional<Frame> next(milliseconds timeout = milliseconds(5000));
  // Reads frames until one of `type` (on `stream`, if given) arrives; the
  // frames read on the way are appended to *seen (may be null).
  std::optional<Frame> until(uint8_t type, std::optional<uint32_t> stream, milliseconds timeout,
                             std::vector<Frame>* seen = nullptr);
  // True once the server has closed the connection (EOF or reset) within the timeout.
  bool wait_closed(milliseconds timeout);
  bool closed() const { return closed_; }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }  // (for a second thread that only writes)
  void close();

 private:
  bool fill(Clock::time_point deadline);
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  int fd_ = -1;
  int receive_buffer_ = 0;
  bool closed_ = false;
  std::string buf_;
  std::string error_;
};

// The DATA of `stream` up to its END_STREAM, frames of other streams
// skipped; nullopt if the stream is reset, the connection ends or time runs out.
std::optional<std::string> body_of_stream(Wire& w, uint32_t stream, milliseconds timeout = milliseconds(5000));

}  // namespace itest::h2
