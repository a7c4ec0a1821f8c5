// The plain HTTP/1.1 upstream client's reply parser: the input is the
// upstream's whole reply (status line, headers, a body by length, chunks or
// close), read whole or handed over as it arrives (the first byte's low
// bit), within a reply size limit. The call ends, whatever the bytes.
#include <event2/event.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/net/http_client.h"
#include "tests/fuzz/support/canned_upstream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static event_base* base = event_base_new();
  static genkit::Loop loop(base);
  fuzz::CannedUpstream& upstream = fuzz::CannedUpstream::instance();
  genkit::HttpClient client(loop);
  if (!client.takes_plain_path(upstream.base_url())) abort();
  bool finished = false;
  std::size_t streamed = 0;
  genkit::HttpFetch fetch;
  fetch.url = upstream.base_url() + "/v1/chat/completions";
  fetch.body = "{}";
  fetch.headers = {{"Content-Type", "application/json"}};
  fetch.timeout = std::chrono::milliseconds(3000);
  fetch.max_response_bytes = 64 * 1024;
  if (data[0] & 1) {
    fetch.on_data = [&streamed](std::string_view bytes) {
      streamed += bytes.size();
      return true;
    };
  }
  upstream.call(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), loop,
      [&] {
        client.fetch(std::move(fetch), genkit::CancelToken(), [&](genkit::Result<genkit::HttpFetchResult> r) {
          finished = true;
          if (r.ok() && r->body.size() > 64 * 1024) abort();  // past the limit, yet delivered
        });
      },
      [&] { return finished; });
  return 0;
}
