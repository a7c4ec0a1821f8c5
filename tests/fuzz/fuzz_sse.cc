// The upstream's text/event-stream parser, fed the same bytes whole and in
// pieces: the events must not depend on where reads end. (Pieces may meet
// the size limit sooner, in the middle of an event, never later.)
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/net/sse_parser.h"

namespace {

struct Parsed {
  std::vector<genkit::SseEvent> events;
  bool ok = true;
};

Parsed parse_in_pieces(std::string_view bytes, std::size_t piece) {
  genkit::SseParser parser(4096);  // small: the size limit is reached too
  Parsed out;
  for (std::size_t at = 0; at < bytes.size() && out.ok; at += piece) {
    for (genkit::SseEvent& ev : parser.feed(bytes.substr(at, piece), &out.ok)) out.events.push_back(std::move(ev));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::size_t piece = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  Parsed whole = parse_in_pieces(bytes, bytes.size() + 1);
  Parsed split = parse_in_pieces(bytes, piece);
  if (split.ok && !whole.ok) abort();
  if (!whole.ok || !split.ok) return 0;
  if (whole.events.size() != split.events.size()) abort();
  for (std::size_t i = 0; i < whole.events.size(); ++i) {
    if (whole.events[i].event != split.events[i].event || whole.events[i].data != split.events[i].data) abort();
  }
  return 0;
}
