// Runs an outside tool (curl, nghttp, h2load, openssl) for a test: argv as
// given (looked up on PATH), stdin from `input`, stdout and stderr
// captured, killed when `timeout` passes. Tests use the real clients users
// have, so that what they check is what a user would see.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace itest {

struct CommandResult {
  std::optional<int> exit_code;  // nullopt: killed at the timeout (or not started)
  std::string out;
  std::string err;
};

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& input = {});

}  // namespace itest
