// Starting grpcd: the supervisor forks and execs the separate
// genkit-endpoints-grpcd binary (it never runs gRPC itself: grpc++ is not
// fork-safe). The child gets the supervisor's resolved settings in its
// environment and three inherited descriptors: the gRPC listening socket,
// the shared-state segment and its pipe back to the supervisor.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace genkit {

// genkit-endpoints-grpcd next to the running supervisor binary.
Result<std::string> find_grpcd_binary();

struct GrpcdExec {
  std::string binary;
  int listen_fd = -1;
  int segment_fd = -1;  // -1: no shared state
  int control_fd = -1;
  const std::map<std::string, std::string>* settings = nullptr;  // LoadedConfig::settings
};

// In the forked child: execs grpcd; on failure logs and _exits (never returns).
[[noreturn]] void exec_grpcd(const GrpcdExec& spec);

}  // namespace genkit
