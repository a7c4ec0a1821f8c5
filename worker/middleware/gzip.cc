#include "worker/middleware/gzip.h"
#include "common/text.h"

#include <zlib.h>

#include <cctype>
#include <cstdlib>

namespace genkit::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// q-value of one Accept-Encoding element ("gzip;q=0.5"); 1 when absent.
double q_value(std::string_view params) {
  while (!params.empty()) {
    std::size_t semi = params.find(';');
    std::string_view p = trim_blanks(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string v(p.substr(2));
      char* end = nullptr;
      double q = std::strtod(v.c_str(), &end);
      return end && *end == '\0' ? q : 0;
    }
  }
  return 1;
}

// One deflate state per process, reset per body: zlib's 256 KiB of window
// and hash tables are allocated once, not per response.
struct Deflater {
  z_stream z{};
  bool ok = false;
  Deflater() { ok = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~Deflater() {
    if (ok) deflateEnd(&z);
  }
};

}  // namespace

bool accepts_gzip(const Request& request) {
  const std::string* header = request.header("accept-encoding");
  if (!header) return false;
  std::string_view rest = *header;
  double gzip_q = -1, star_q = -1;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    std::size_t semi = element.find(';');
    std::string_view coding = trim_blanks(element.substr(0, semi));
    double q = semi == std::string_view::npos ? 1 : q_value(element.substr(semi + 1));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip_q = q;
    } else if (coding == "*") {
      star_q = q;
    }
  }
  return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;  // an explicit gzip;q=0 beats *
}

bool compressible(std::string_view content_type) {
  std::string_view type = trim_blanks(content_type.substr(0, content_type.find(';')));
  if (iequals(type, "text/event-stream")) return false;
  if (type.size() >= 5 && iequals(type.substr(0, 5), "text/")) return true;
  return iequals(type, "application/json") || iequals(type, "application/javascript") ||
         iequals(type, "application/xml") || iequals(type, "image/svg+xml");
}

std::optional<std::string> gzip_body(std::string_view body) {
  static Deflater deflater;
  if (!deflater.ok || deflateReset(&deflater.z) != Z_OK) return std::nullopt;
  z_stream& z = deflater.z;
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(body.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) return std::nullopt;
  out.resize(z.total_out);
  return out;
}

}  // namespace genkit::http
