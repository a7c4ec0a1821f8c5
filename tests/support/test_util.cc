#include "tests/support/test_util.h"

#include <zlib.h>

#include <regex>

namespace itest {

std::string gzip_of(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // (+16: gzip framing)
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

genkit::Json json_of(const HttpResponse& r) {
  genkit::Result<genkit::Json> j = r.json();
  if (!j.ok()) {
    ADD_FAILURE() << "response body is not JSON (" << j.status().message() << "): " << r.body;
    return genkit::Json::null();
  }
  return std::move(j).value();
}

std::string json_with(const std::string& key, const std::string& value) {
  genkit::Json o = genkit::Json::object();
  o.set(key, genkit::Json::string(value));
  return o.dump();
}

SseResult read_sse(HttpClient& c, milliseconds timeout) {
  SseResult out;
  auto deadline = Clock::now() + timeout;
  out.head = c.read_head(timeout);
  if (!out.head) {
    out.error = c.error();
    return out;
  }
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    std::optional<SseEvent> ev = c.next_event(std::max(left, milliseconds(1)));
    if (!ev) break;
    out.events.push_back(std::move(*ev));
  }
  out.ended = c.ended() && c.error().empty();
  out.error = c.error();
  out.raw_body = c.body_so_far();
  return out;
}

SseResult post_sse(int port, const std::string& path, const std::string& body, const Headers& headers) {
  HttpClient c(port);
  if (!c.send_raw(build_request("POST", path, body, headers))) {
    SseResult failed;
    failed.error = c.error();
    return failed;
  }
  return read_sse(c);
}

bool is_uuid4(const std::string& s) {
  static const std::regex kUuid4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s, kUuid4);
}

void stop_and_check_sanitizers(ServerProcess* server) {
  if (!server) return;
  server->stop();
  server->wait_streams_closed(std::chrono::milliseconds(5000));
  for (const std::string& f : server->sanitizer_findings()) ADD_FAILURE() << "sanitizer: " << f;
}

}  // namespace itest
