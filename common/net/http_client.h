// Non-blocking outbound HTTP on the process's event loop. Plain http:// to
// an IP literal goes through a small HTTP/1.1 transport of our own (the hot
// path of a local model server); everything else through libcurl's multi
// interface driven by libevent (https with HTTP/2 where offered, host names,
// proxies). Connections are reused. Nothing blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/runtime/loop.h"
#include "common/status.h"

namespace genkit {

struct HttpFetch {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{120000};
  std::size_t max_response_bytes = 16 * 1024 * 1024;  // larger replies fail the call
  // libcurl's receive buffer (the plain transport shares one per loop).
  // Small by default: thousands of model calls wait at once and their
  // replies are small; bulk downloads ask for more.
  long receive_buffer = 1024;
  // Set: the body is handed over as it arrives (not accumulated); return
  // false to abort the transfer.
  std::function<bool(std::string_view data)> on_data;
};

struct HttpFetchResult {
  long status = 0;
  std::string content_type;
  std::string body;  // empty when on_data consumed it
};

using HttpFetchDone = std::function<void(Result<HttpFetchResult>)>;

class HttpClient {
 public:
  explicit HttpClient(Loop& loop);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a transfer. `done` runs once on the loop: with the response (any
  // HTTP status), or DEADLINE_EXCEEDED on timeout, UNAVAILABLE when the
  // connection failed, UPSTREAM for an oversized reply. After `cancel`
  // fires, `done` is not called and the transfer is torn down.
  void fetch(HttpFetch request, CancelToken cancel, HttpFetchDone done);

  std::size_t in_flight() const;
  // Whether `url` would take the plain HTTP/1.1 transport (not libcurl).
  bool takes_plain_path(std::string_view url) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace genkit
