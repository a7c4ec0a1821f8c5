// An HTTP worker process: one libevent loop accepting on the listening
// socket it inherited from the supervisor.
#pragma once

#include <string>

#include "common/config.h"
#include "common/flows/builtins.h"

namespace genkit {

struct WorkerSetup {
  const Config* config = nullptr;
  const PromptList* prompts = nullptr;
  int listen_fd = -1;
  int index = 1;        // 1-based, for logs
  int ready_fd = -1;    // one byte is written here once accepting; then closed
};

// Runs until drained (SIGTERM, or MAX_REQUESTS reached) or stopped (SIGQUIT).
// Returns the process exit code; kBootFailure tells the supervisor not to retry.
int run_worker(const WorkerSetup& setup);

constexpr int kWorkerBootFailure = 3;

}  // namespace genkit
