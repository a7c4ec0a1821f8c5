// Runs the real genkit-endpoints binary for a test: spawn with a clean
// environment, collect its stdout/stderr lines, wait for the JSON log events
// that say it is serving, signal it, and reap it. The destructor always
// SIGKILLs the whole process group (supervisor + workers) and reaps, so a
// failing test can never leave a server behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"

namespace itest {

using Env = std::map<std::string, std::string>;

// The environment every test server starts from: nothing inherited except
// PATH and the sanitizer options, loopback only, JSON logs.
Env base_env();

struct ServerOptions {
  std::vector<std::string> args = {"--port", "0", "--workers", "2", "--no-grpc"};
  Env env;  // applied over base_env(); an empty value is passed as empty
  // Runs the binary through this command (it gets the binary and args as
  // "$0" "$@"), e.g. a shell that sets LISTEN_PID=$$ for socket activation.
  std::vector<std::string> launcher;
  std::chrono::milliseconds ready_timeout{15000};
  // The server binary; empty: GENKIT_BINARY (genkit-endpoints). E.g.
  // GENKIT_EXTRA_FLOW_BINARY, the same server with one more flow file.
  std::string binary;
  // The server's working directory (the caller's, kept afterwards); empty:
  // a fresh empty one of its own, removed with it.
  std::string cwd;
};

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Spawns the binary with argv = [launcher..., binary, args...] and exactly
  // `env`; `binary` empty: GENKIT_BINARY.
  bool spawn(const std::vector<std::string>& args, const Env& env, const std::vector<std::string>& launcher = {},
             const std::string& binary = "");
  // Waits for the "ready" event and reads the port from "listening".
  bool wait_ready(std::chrono::milliseconds timeout);

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& error() const { return error_; }  // why spawn/wait_ready failed
  // The server's working directory (empty, private to it; .env files go here).
  const std::string& workdir() const { return workdir_; }
  // Before spawn: run in `dir` (which the caller owns) instead of a fresh one.
  void set_cwd(std::string dir) { cwd_ = std::move(dir); }

  bool signal(int sig) const;
  // Exit code, 128+signal if killed by a signal, nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool exited() const { return exited_; }
  // SIGTERM, then wait_exit; what a suite's TearDown uses so the server's
  // graceful path (and the sanitizers' exit-time reports) run every time.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

  // Snapshots of the lines read so far.
  std::vector<std::string> stdout_lines() const;
  std::vector<std::string> stderr_lines() const;
  std::string stdout_text() const;
  std::string stderr_text() const;
  // Parsed stdout JSON lines whose "event" is `event` (non-JSON lines skipped).
  std::vector<genkit::Json> events(const std::string& event) const;
  // Waits until an `event` line satisfying `match` appears (match may be null).
  std::optional<genkit::Json> wait_event(const std::string& event, std::chrono::milliseconds timeout,
                                         const std::function<bool(genkit::JsonView)>& match = nullptr);
  // Waits until `count` lines of `event` have been logged in total.
  bool wait_event_count(const std::string& event, size_t count, std::chrono::milliseconds timeout);

  // stderr lines reporting ASan/UBSan/LSan findings.
  std::vector<std::string> sanitizer_findings() const;
  // True once every holder of the output pipes (supervisor and workers) is gone.
  bool wait_streams_closed(std::chrono::milliseconds timeout);

 private:
  void read_loop(int out_fd, int err_fd);
  void kill_and_reap();

  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string error_;
  std::string workdir_;
  std::string cwd_;  // set_cwd(): workdir_ is the caller's, not removed

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> out_lines_;
  std::vector<std::string> err_lines_;
  bool streams_closed_ = false;
  bool stop_reader_ = false;
  std::thread reader_;
};

// Spawns with base_env() + opts.env and waits for ready. On failure returns
// nullptr and sets *why (including the server's stderr).
std::unique_ptr<ServerProcess> start_server(const ServerOptions& opts, std::string* why);

// Runs the binary to completion (for --help, --version, bad configurations).
struct RunResult {
  std::optional<int> exit_code;  // nullopt: it did not exit in time (then it was killed)
  std::string out;
  std::string err;
  std::vector<std::string> sanitizer_findings;
};
RunResult run_to_exit(const std::vector<std::string>& args, const Env& env_over_base,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

}  // namespace itest
