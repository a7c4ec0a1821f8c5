#include "common/net/http_client.h"

#include <cstdlib>
#include <optional>

#include "common/net/curl_transport.h"
#include "common/net/http1_transport.h"

namespace genkit {

namespace {

// libcurl honours these for http:// URLs; the plain transport does not, so
// with any of them set every call goes through libcurl.
bool proxy_configured() {
  for (const char* name : {"http_proxy", "all_proxy", "ALL_PROXY"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return true;
  }
  return false;
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(Loop& loop) : plain(loop), curl(loop) {}
  Http1Transport plain;
  CurlTransport curl;
  bool plain_allowed = !proxy_configured();
};

HttpClient::HttpClient(Loop& loop) : impl_(std::make_unique<Impl>(loop)) {}
HttpClient::~HttpClient() = default;

void HttpClient::fetch(HttpFetch request, CancelToken cancel, HttpFetchDone done) {
  if (impl_->plain_allowed) {
    if (std::optional<PlainHttpTarget> target = plain_http_target(request.url)) {
      return impl_->plain.start(std::move(*target), std::move(request), std::move(cancel), std::move(done));
    }
  }
  impl_->curl.start(std::move(request), std::move(cancel), std::move(done));
}

bool HttpClient::takes_plain_path(std::string_view url) const {
  return impl_->plain_allowed && plain_http_target(url).has_value();
}

std::size_t HttpClient::in_flight() const { return impl_->plain.in_flight() + impl_->curl.in_flight(); }

}  // namespace genkit
