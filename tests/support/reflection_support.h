// Pieces of the dev-mode suites (reflection API and trace export, see
// docs/genkit-protocols.md §2, §3, §5): a throw-away project folder the
// server runs in, the runtime file it writes there, a dev-mode server
// started in one, runAction over the reflection port, and which TCP ports a
// server's processes listen on (from /proc).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json.h"
#include "tests/support/test_util.h"

namespace itest {

// A fresh folder under /tmp holding a package.json (so the Genkit CLI, and
// the server, take it for the project root); removed with all it holds.
class ProjectDir {
 public:
  ProjectDir();
  ~ProjectDir();
  ProjectDir(const ProjectDir&) = delete;
  ProjectDir& operator=(const ProjectDir&) = delete;

  const std::string& path() const { return path_; }
  std::string runtimes_dir() const { return path_ + "/.genkit/runtimes"; }
  bool has_genkit_dir() const;
  // The files in .genkit/runtimes (full paths; none when the folder is missing).
  std::vector<std::string> runtime_files() const;

 private:
  std::string path_;
};

struct RuntimeFile {
  std::string path;       // full path
  std::string file_name;  // <pid>-<port>-<epochMs>.json
  genkit::Json json;      // its content (null when not JSON)
  int port = 0;           // of reflectionServerUrl
};

// Waits until .genkit/runtimes holds exactly one file that parses as JSON,
// and returns it; nullopt (with *why) at the timeout.
std::optional<RuntimeFile> wait_runtime_file(const ProjectDir& dir, std::chrono::milliseconds timeout,
                                             std::string* why);
// Waits until .genkit/runtimes holds no file.
bool wait_no_runtime_file(const ProjectDir& dir, std::chrono::milliseconds timeout);

// A GENKIT_ENV=dev server whose working directory is its own project folder.
struct DevServer {
  std::unique_ptr<ProjectDir> dir = std::make_unique<ProjectDir>();
  std::unique_ptr<ServerProcess> server;
  RuntimeFile runtime;

  int rest_port() const { return server->port(); }
  int reflection_port() const { return runtime.port; }
};

// Starts one (GENKIT_ENV=dev plus `env`, `workers` workers, no gRPC) and
// waits for its runtime file; nullptr with *why on failure.
std::unique_ptr<DevServer> start_dev_server(const Env& env, std::string* why, int workers = 2);

// SIGTERM and the graceful exit every dev server owes (code 0), its streams
// closed, and no sanitizer finding (each a test failure).
void stop_dev_server(DevServer& dev);

// POST /api/runAction[?stream=true] with `body` on a new connection.
HttpResponse run_action(int port, const std::string& body, bool stream = false, const Headers& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// Reads the rest of a body whose head `c.read_head()` returned (any framing
// but SSE's blank lines); *ended: the body ended cleanly within `timeout`.
std::string read_rest_of_body(HttpClient& c, std::chrono::milliseconds timeout, bool* ended);

// True when a TCP connect to 127.0.0.1:`port` is refused.
bool connection_refused(int port);

// The TCP ports that processes of the process group `pgid` listen on.
std::set<int> listening_tcp_ports(pid_t pgid);

// 32 or 16 lower-case hex digits, as trace and span ids are.
bool is_hex_id(const std::string& s, size_t n);

}  // namespace itest
