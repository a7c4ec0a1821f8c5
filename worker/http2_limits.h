// What one HTTP/2 connection may cost us, and the guards that end a
// connection whose client goes past it. Our own counters, not only
// nghttp2's (Debian's 1.52 has backported limits, but their thresholds and
// GOAWAY codes are not ours, and they log nothing): a rapid-reset client
// (CVE-2023-44487) or a CONTINUATION / HPACK flood (CVE-2024-27316 style)
// gets GOAWAY(ENHANCE_YOUR_CALM) and one warning line, after bounded work.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace genkit::http::h2 {

// Advertised in SETTINGS.
constexpr uint32_t kMaxConcurrentStreams = 100;
constexpr uint32_t kMaxHeaderListSize = 64 * 1024;      // name + value + 32 per field (RFC 9113 §6.5.2)
constexpr uint32_t kInitialWindowSize = 256 * 1024;     // per stream: a 1 MiB body in 4 round trips
constexpr int32_t kConnectionWindowSize = 1024 * 1024;  // all of a connection's uploads together

// A request whose header list is over kMaxHeaderListSize is answered 431
// (its fields are no longer stored, but HPACK has to go on decoding the
// block to stay in sync). A block well past it is no mistake: the connection ends.
constexpr std::size_t kMaxHeaderBlockBytes = 2 * kMaxHeaderListSize;  // HPACK input of one block
constexpr std::size_t kMaxDecodedBlockBytes = 2 * kMaxHeaderListSize; // what it decodes to (indexed fields amplify)
constexpr int kMaxContinuations = 32;  // 64 KiB needs 4 frames of the default 16 KiB size

// Streams the client resets (RST_STREAM) or makes us reset (invalid frames,
// refused streams) within one window.
constexpr int kMaxResetsPerWindow = 200;
constexpr std::chrono::milliseconds kResetWindow{1000};

// Response bytes a stream may hold while its reader is behind (flow control
// or a slow socket), and all streams of a connection together. The first
// write into an empty stream buffer is always taken: a unary body is one write.
constexpr std::size_t kMaxStreamOutput = 1024 * 1024;
// nghttp2 frames are pulled into the connection's output only below this.
constexpr std::size_t kOutputHighWater = 64 * 1024;

enum class Verdict { kOk, kAbuse };

// The header block being received (HEADERS + CONTINUATION...). One at a
// time per connection: nothing may come between a block's frames.
class HeaderBlockGuard {
 public:
  Verdict begin_headers(std::size_t frame_len);
  Verdict continuation(std::size_t frame_len);
  // One decoded field (the stream's own tally decides on 431).
  Verdict field(std::size_t name_len, std::size_t value_len);
  const char* why() const { return why_; }  // after kAbuse

 private:
  std::size_t raw_ = 0;
  std::size_t decoded_ = 0;
  int continuations_ = 0;
  const char* why_ = "";
};

// Resets within a fixed window.
class ResetRateGuard {
 public:
  // Counts one; false once more than kMaxResetsPerWindow fell in the window.
  bool count(std::chrono::steady_clock::time_point now);

 private:
  std::chrono::steady_clock::time_point window_start_{};
  int in_window_ = 0;
};

}  // namespace genkit::http::h2
