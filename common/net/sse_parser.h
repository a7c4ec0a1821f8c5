// Incremental parser for a text/event-stream body (the upstream side of a
// streamed model reply): bytes in, complete events out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace genkit {

struct SseEvent {
  std::string event;  // "event:" field ("" → "message")
  std::string data;   // "data:" lines joined by "\n"
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 4 * 1024 * 1024) : max_event_bytes_(max_event_bytes) {}

  // Appends bytes; returns the events they completed. False in `*ok` when an
  // event grew past the limit (the stream should be abandoned).
  std::vector<SseEvent> feed(std::string_view bytes, bool* ok);

 private:
  void line(std::string_view text, std::vector<SseEvent>* out);

  std::size_t max_event_bytes_;
  std::string buffer_;
  SseEvent pending_;
  bool has_data_ = false;
  bool overflow_ = false;  // sticky: the stream is to be abandoned
};

}  // namespace genkit
