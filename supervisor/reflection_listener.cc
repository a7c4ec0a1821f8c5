#include "supervisor/reflection_listener.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/json.h"
#include "common/log.h"
#include "common/runtime/loop.h"
#include "supervisor/listen_socket.h"

namespace genkit {

namespace {

std::string iso_timestamp(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace

std::string genkit_project_root(const std::string& dir) {
  static const char* const kMarkers[] = {"package.json",     "go.mod",         "pom.xml",          "build.gradle",
                                         "build.gradle.kts", "pyproject.toml", "requirements.txt", "pubspec.yaml"};
  std::error_code ec;
  for (std::filesystem::path p = std::filesystem::absolute(dir, ec);; p = p.parent_path()) {
    for (const char* marker : kMarkers) {
      if (std::filesystem::exists(p / marker, ec)) return p.string();
    }
    if (p == p.root_path() || p.empty()) break;
  }
  return dir;
}

Result<ReflectionListener> ReflectionListener::open(const Config& config) {
  ReflectionListener l;
  for (int port = kFirstPort; port <= kLastPort && l.fd_ < 0; ++port) {
    Result<ListenSocket> sock = bind_listen_socket("127.0.0.1", port, 128);
    if (!sock.ok()) continue;
    // (Worker 1 inherits it by fork; grpcd, exec'd, must not.)
    fcntl(sock->fd, F_SETFD, FD_CLOEXEC);
    l.fd_ = sock->fd;
    l.port_ = port;
  }
  if (l.fd_ < 0) {
    return Status(Code::kUnavailable, "GENKIT_ENV=dev: no free port for the reflection API on 127.0.0.1:" +
                                          std::to_string(kFirstPort) + "-" + std::to_string(kLastPort));
  }
  l.runtime_id_ = config.genkit_runtime_id.empty() ? std::to_string(getpid()) + "-" + std::to_string(l.port_)
                                                   : config.genkit_runtime_id;
  return l;
}

ReflectionListener::ReflectionListener(ReflectionListener&& other) noexcept { *this = std::move(other); }

ReflectionListener& ReflectionListener::operator=(ReflectionListener&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
    runtime_id_ = std::move(other.runtime_id_);
    file_ = std::exchange(other.file_, {});
  }
  return *this;
}

ReflectionListener::~ReflectionListener() { close(); }

void ReflectionListener::write_runtime_file() {
  if (fd_ < 0 || !file_.empty()) return;
  std::error_code ec;
  std::filesystem::path dir =
      std::filesystem::path(genkit_project_root(std::filesystem::current_path(ec).string())) / ".genkit" / "runtimes";
  int64_t now = now_unix_ms();
  std::filesystem::path file =
      dir / (std::to_string(getpid()) + "-" + std::to_string(port_) + "-" + std::to_string(now) + ".json");
  Json body = Json::object();
  body.set("id", Json::string(runtime_id_));
  body.set("pid", Json::number(getpid()));
  body.set("name", Json::string("genkit-endpoints"));
  body.set("reflectionServerUrl", Json::string("http://127.0.0.1:" + std::to_string(port_)));
  body.set("timestamp", Json::string(iso_timestamp(now)));
  body.set("genkitVersion", Json::string(std::string("genkit-endpoints/") + version_string()));
  body.set("reflectionApiSpecVersion", Json::number(1));
  std::filesystem::create_directories(dir, ec);
  std::ofstream out(file, std::ios::trunc);
  out << body.dump();
  out.close();
  if (ec || !out) {
    log_warning("runtime_file_failed", {{"path", file.string()}, {"reason", ec ? ec.message() : std::strerror(errno)}});
    return;
  }
  file_ = file.string();
  log_info(
      "reflection_api",
      {{"url", "http://127.0.0.1:" + std::to_string(port_)}, {"runtime_id", runtime_id_}, {"runtime_file", file_}});
}

void ReflectionListener::close() {
  if (!file_.empty()) {
    std::error_code ec;
    std::filesystem::remove(file_, ec);
    file_.clear();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace genkit
