// grpcd: the gRPC daemon (SPEC.md §5). One libevent loop runs the flows, the
// model clients and the shared state exactly as an HTTP worker's does;
// grpc++'s server (callback API: no thread per call) runs beside it on its
// own threads and hands each call to the loop (loop_inbox.h). Connections
// are accepted by the loop on the listening socket the supervisor bound and
// passed to grpc++ as they come (its external-connection acceptor), so the
// port outlives any one daemon: a replacement takes over the same queue.
#pragma once

#include "common/config.h"
#include "common/exit_codes.h"
#include "common/flows/builtins.h"

namespace genkit {

namespace shm {
class Segment;
}

struct GrpcdSetup {
  const Config* config = nullptr;
  const PromptList* prompts = nullptr;
  shm::Segment* segment = nullptr;  // the server's shared state (null: nothing shared)
  int listen_fd = -1;               // the gRPC port, bound by the supervisor
  int control_fd = -1;              // to the supervisor: 'r' once serving (-1: none)
};

// Serves until SIGTERM (drain: health NOT_SERVING, no new connections or
// calls, in-flight calls and streams finish within the grace period) or
// SIGQUIT (stop now). Returns the exit code; kBootFailureExit when it cannot
// start.
int run_grpcd(const GrpcdSetup& setup);

}  // namespace genkit
