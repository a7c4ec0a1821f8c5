// A small HTTP/1.1 client for plain-http upstreams addressed by IP literal
// (a model server on the same host or network, a sidecar, the test fakes).
// On that path libcurl's generality costs more than the proxying itself:
// two poll() calls and ~50 allocations per request, 11 KB per transfer.
// Here a reused connection costs one send() and one recv() per call, no
// epoll change, and under 1 KB while the call waits. Everything else
// (https, host names, proxies) goes to libcurl; HttpClient chooses.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "common/net/http_client.h"
#include "common/net/plain_http_target.h"

namespace genkit {

class Http1Transport {
 public:
  // A connection idle longer than `max_idle_age` is not used again: a NAT
  // or load balancer on the way may have forgotten it without a word
  // (libcurl's default is the same).
  explicit Http1Transport(Loop& loop, std::chrono::milliseconds max_idle_age = std::chrono::seconds(118));
  ~Http1Transport();
  Http1Transport(const Http1Transport&) = delete;
  Http1Transport& operator=(const Http1Transport&) = delete;

  // HttpClient::fetch's contract; request.url is ignored (target has it).
  void start(PlainHttpTarget target, HttpFetch request, CancelToken cancel, HttpFetchDone done);
  std::size_t in_flight() const;
  std::size_t idle_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace genkit
