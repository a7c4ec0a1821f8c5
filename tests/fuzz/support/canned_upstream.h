// An upstream on loopback that answers every connection with the same
// canned bytes: it reads the request (headers and Content-Length body),
// writes the reply, closes its side and waits for the client to leave. It
// runs on a thread of its own with blocking sockets, so the fuzzed client
// on the main thread's loop meets a real peer over real TCP.
//
// call() runs one exchange: it sets the reply, starts `start` (which makes
// the request on `loop`) and turns the loop until `done` says the client
// finished; a client that never finishes is a finding (abort).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/runtime/loop.h"

namespace fuzz {

class CannedUpstream {
 public:
  static CannedUpstream& instance();
  std::string base_url() const;  // http://127.0.0.1:<port>
  void call(std::string_view reply, genkit::Loop& loop, const std::function<void()>& start,
            const std::function<bool()>& done);

 private:
  CannedUpstream();
  void serve();
  void answer(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
};

}  // namespace fuzz
