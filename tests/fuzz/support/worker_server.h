// One HTTP worker's whole surface in the fuzzing process: its routes, gates,
// shared state (a segment of its own), runtime and flows, on a libevent loop
// of its own, built once with the defaults (mock/echo). serve() hands the
// bytes to a new connection over a socketpair as a client would and turns
// the loop until the worker has answered and the connection is gone.
#pragma once

#include <string>
#include <string_view>

namespace fuzz {

class WorkerServer {
 public:
  static WorkerServer& instance();

  // Returns what the worker wrote back. Aborts (a finding) when the worker
  // keeps a connection whose client has gone.
  std::string serve(std::string_view bytes);

 private:
  WorkerServer();
  struct Parts;
  Parts* parts_;  // never freed: the process ends with it
};

}  // namespace fuzz
