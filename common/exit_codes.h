// Exit codes the supervisor reads from its children (workers, grpcd).
#pragma once

namespace genkit {

// The process could not start and will not on a retry (a bad prompt, a port
// grpc cannot serve): the supervisor stops instead of respawning in a loop.
constexpr int kBootFailureExit = 3;

}  // namespace genkit
