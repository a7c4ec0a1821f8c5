// Bytes from an HTTP/1.1 client, through the worker's parser, its limits
// and middleware, to the routes and the flows (pipelined requests, chunked
// bodies, h2c upgrades). Whatever arrives, the worker answers with HTTP or
// closes; it never crashes, hangs or answers 500.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/fuzz/support/worker_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string answer = fuzz::WorkerServer::instance().serve(bytes);
  // (HTTP/2's preface makes it fuzz_http2's input; an h2c upgrade's frames
  // follow its 101, itself HTTP/1.1.)
  bool http2 = bytes.rfind("PRI * HTTP/2.0", 0) == 0;
  if (!http2 && !answer.empty() && answer.rfind("HTTP/1.", 0) != 0) abort();
  // (Only the first answer's status is read: a body may echo anything.)
  if (answer.rfind("HTTP/1.1 500 ", 0) == 0) abort();
  return 0;
}
