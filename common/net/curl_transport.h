// libcurl's multi interface driven by the process's libevent loop
// (socket-action API): https, HTTP/2, host names, proxies — every URL the
// plain HTTP/1.1 transport does not take. Used through HttpClient.
#pragma once

#include <cstddef>
#include <memory>

#include "common/net/http_client.h"

namespace genkit {

class CurlTransport {
 public:
  explicit CurlTransport(Loop& loop);
  ~CurlTransport();
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  void start(HttpFetch request, CancelToken cancel, HttpFetchDone done);
  std::size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace genkit
