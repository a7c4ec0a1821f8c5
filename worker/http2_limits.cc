#include "worker/http2_limits.h"

namespace genkit::http::h2 {

Verdict HeaderBlockGuard::begin_headers(std::size_t frame_len) {
  raw_ = frame_len;
  decoded_ = 0;
  continuations_ = 0;
  if (raw_ > kMaxHeaderBlockBytes) {
    why_ = "header block too large";
    return Verdict::kAbuse;
  }
  return Verdict::kOk;
}

Verdict HeaderBlockGuard::continuation(std::size_t frame_len) {
  raw_ += frame_len;
  if (++continuations_ > kMaxContinuations) {
    why_ = "too many CONTINUATION frames";
    return Verdict::kAbuse;
  }
  if (raw_ > kMaxHeaderBlockBytes) {
    why_ = "header block too large";
    return Verdict::kAbuse;
  }
  return Verdict::kOk;
}

Verdict HeaderBlockGuard::field(std::size_t name_len, std::size_t value_len) {
  decoded_ += name_len + value_len + 32;
  if (decoded_ > kMaxDecodedBlockBytes) {
    why_ = "decoded header list too large";
    return Verdict::kAbuse;
  }
  return Verdict::kOk;
}

bool ResetRateGuard::count(std::chrono::steady_clock::time_point now) {
  if (now - window_start_ >= kResetWindow) {
    window_start_ = now;
    in_window_ = 0;
  }
  return ++in_window_ <= kMaxResetsPerWindow;
}

}  // namespace genkit::http::h2
