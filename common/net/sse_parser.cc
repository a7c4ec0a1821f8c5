#include "common/net/sse_parser.h"

namespace genkit {

std::vector<SseEvent> SseParser::feed(std::string_view bytes, bool* ok) {
  *ok = true;
  std::vector<SseEvent> out;
  buffer_.append(bytes);
  std::size_t start = 0;
  while (true) {
    std::size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos) break;
    std::size_t end = nl > start && buffer_[nl - 1] == '\r' ? nl - 1 : nl;
    line(std::string_view(buffer_).substr(start, end - start), &out);
    start = nl + 1;
  }
  buffer_.erase(0, start);
  if (overflow_ || buffer_.size() + pending_.data.size() > max_event_bytes_) *ok = false;
  return out;
}

void SseParser::line(std::string_view text, std::vector<SseEvent>* out) {
  if (text.empty()) {  // blank line: dispatch
    if (has_data_) out->push_back(std::move(pending_));
    pending_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // comment / keep-alive
  std::size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
    if (pending_.data.size() > max_event_bytes_) overflow_ = true;
  } else if (field == "event") {
    pending_.event = std::string(value);
  }
}

}  // namespace genkit
