// GZip of the seed's stack: a response body of at least GZIP_MIN_SIZE bytes
// of a compressible type is gzip-encoded when the client's Accept-Encoding
// allows it. Such a response says Vary: Accept-Encoding either way, so that
// caches keep both forms apart. Streams (SSE) are never compressed: each
// event must reach the client when it is written.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "worker/http_types.h"

namespace genkit::http {

// Accept-Encoding names gzip (or *) with a non-zero q-value.
bool accepts_gzip(const Request& request);
// Text types worth compressing (JSON, HTML, text/* except event streams).
bool compressible(std::string_view content_type);
// The gzip member of `body`, or nullopt if zlib failed.
std::optional<std::string> gzip_body(std::string_view body);

}  // namespace genkit::http
