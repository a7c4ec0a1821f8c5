// Dev mode (GENKIT_ENV=dev): the reflection API's socket and the runtime
// file the Genkit CLI discovers it by (docs in
// ../shared/docs/genkit-protocols.md §2-3). The supervisor binds
// 127.0.0.1:3100, or the next free port up to 3200, before it forks and hands
// the socket to worker 1 only: the reflection API is served by exactly one
// process, so that /api/cancelAction reaches the run it names (the telemetry
// URL /api/notify announces there is shared with every process through the
// segment: common/shm/process_table.h).
// The supervisor writes <project root>/.genkit/runtimes/<id>-<epochMs>.json
// once it is ready and removes it when it stops (SIGTERM, SIGINT, SIGQUIT)
// or when the tools send /api/__quitquitquit.
#pragma once

#include <string>

#include "common/config.h"
#include "common/status.h"

namespace genkit {

class ReflectionListener {
 public:
  static constexpr int kFirstPort = 3100;
  static constexpr int kLastPort = 3200;

  // Binds the first free port of the range; UNAVAILABLE when none is.
  static Result<ReflectionListener> open(const Config& config);

  ReflectionListener() = default;
  ReflectionListener(ReflectionListener&& other) noexcept;
  ReflectionListener& operator=(ReflectionListener&& other) noexcept;
  ~ReflectionListener();

  int fd() const { return fd_; }
  int port() const { return port_; }
  const std::string& runtime_id() const { return runtime_id_; }

  // Writes the runtime file (a failure is logged: the server still runs).
  void write_runtime_file();
  // Removes the runtime file and closes the socket (idempotent).
  void close();

 private:
  int fd_ = -1;
  int port_ = 0;
  std::string runtime_id_;
  std::string file_;  // the runtime file written, "" before
};

// The folder the Genkit CLI takes for the project root when run from `dir`:
// the nearest ancestor holding package.json, go.mod, pyproject.toml,
// requirements.txt, pom.xml, build.gradle(.kts) or pubspec.yaml, else `dir`.
std::string genkit_project_root(const std::string& dir);

}  // namespace genkit
