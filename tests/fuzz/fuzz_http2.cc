// HTTP/2 frames from a client (prior knowledge: the preface comes first,
// the input is every byte after it) through nghttp2, the worker's flood
// guards and limits, to the routes and the flows. The worker answers in
// frames or closes; it never crashes or hangs.
#include <cstdint>
#include <string>

#include "tests/fuzz/support/worker_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes.append(reinterpret_cast<const char*>(data), size);
  (void)fuzz::WorkerServer::instance().serve(bytes);
  return 0;
}
