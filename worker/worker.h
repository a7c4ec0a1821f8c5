// An HTTP worker process: one libevent loop accepting on the listening
// socket it inherited from the supervisor.
#pragma once

#include <string>

#include "common/config.h"
#include "common/exit_codes.h"
#include "common/flows/builtins.h"

namespace genkit {

namespace shm {
class Segment;
}
namespace http {
class TlsContext;
}

struct WorkerSetup {
  const Config* config = nullptr;
  shm::Segment* segment = nullptr;  // the supervisor's shared state (null: nothing shared)
  const PromptList* prompts = nullptr;
  const http::TlsContext* tls = nullptr;  // null: plain HTTP
  int listen_fd = -1;
  int index = 1;        // 1-based, for logs
  int control_fd = -1;  // to the supervisor: 'r' once accepting, 'm' when MAX_REQUESTS is reached,
                        // 'q' when the tools have stopped the reflection API (/api/__quitquitquit)
  int reflection_fd = -1;  // dev mode, worker 1 only: the reflection API's socket
  std::string runtime_id;  // dev mode: the id in the runtime file
};

// Runs until drained (SIGTERM) or stopped (SIGQUIT). On reaching MAX_REQUESTS
// it asks the supervisor for a replacement and keeps serving until that one
// is ready and SIGTERM arrives, so recycling never dips capacity.
// Returns the process exit code; kBootFailureExit (common/exit_codes.h) tells
// the supervisor not to retry.
int run_worker(const WorkerSetup& setup);

}  // namespace genkit
