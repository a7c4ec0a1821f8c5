#include "supervisor/grpcd_launcher.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/config.h"
#include "common/exit_codes.h"
#include "common/log.h"

extern char** environ;

namespace genkit {

namespace {

constexpr const char* kGrpcdName = "genkit-endpoints-grpcd";

bool inherit(int fd) { return fd < 0 || fcntl(fd, F_SETFD, 0) == 0; }

}  // namespace

Result<std::string> find_grpcd_binary() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return Status(Code::kFailedPrecondition, "cannot locate the running binary: " + std::string(strerror(errno)));
  std::string dir(self, static_cast<std::size_t>(n));
  dir = dir.substr(0, dir.rfind('/') + 1);
  std::string path = dir + kGrpcdName;
  if (access(path.c_str(), X_OK) != 0) {
    return Status(Code::kFailedPrecondition,
                  path + " is missing or not executable: it serves gRPC (install it, or pass --no-grpc)");
  }
  return path;
}

void exec_grpcd(const GrpcdExec& spec) {
  if (!inherit(spec.listen_fd) || !inherit(spec.segment_fd) || !inherit(spec.control_fd)) {
    log_error("grpcd_exec_failed", {{"reason", "fcntl"}, {"errno", errno}});
    _exit(kBootFailureExit);
  }
  // The supervisor blocks the signals it reads through signalfd; a new
  // program would inherit that mask and never see SIGTERM.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // The environment as the supervisor got it, with every setting it resolved
  // (flags, .env files) spelled out: grpcd reads no .env of its own.
  std::map<std::string, std::string> env = environment_map(environ);
  if (spec.settings) {
    for (const auto& [name, value] : *spec.settings) env[name] = value;
  }
  std::vector<std::string> env_text;
  for (const auto& [name, value] : env) env_text.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::vector<std::string> args = {spec.binary, "--listen-fd", std::to_string(spec.listen_fd), "--control-fd",
                                   std::to_string(spec.control_fd)};
  if (spec.segment_fd >= 0) {
    args.push_back("--shm-fd");
    args.push_back(std::to_string(spec.segment_fd));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execve(spec.binary.c_str(), argv.data(), envp.data());
  log_error("grpcd_exec_failed", {{"binary", spec.binary}, {"errno", errno}, {"reason", strerror(errno)}});
  std::fflush(nullptr);
  _exit(kBootFailureExit);
}

}  // namespace genkit
