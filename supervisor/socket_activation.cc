#include "supervisor/socket_activation.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace genkit {

namespace {

bool is_tcp_listener(int fd) {
  return sd_is_socket_inet(fd, AF_INET, SOCK_STREAM, 1, 0) > 0 || sd_is_socket_inet(fd, AF_INET6, SOCK_STREAM, 1, 0) > 0;
}

}  // namespace

int local_port(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return 0;
  if (bound.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  if (bound.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return 0;
}

Result<ActivatedSockets> activated_sockets() {
  ActivatedSockets out;
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) return Status(Code::kInvalidArgument, "LISTEN_FDS: cannot read the sockets systemd passed");
  if (n == 0) return out;
  out.activated = true;
  Status status = Status::ok();
  int unnamed = 0;
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    std::string name = names && names[i] ? names[i] : "";
    if (status.is_ok() && !is_tcp_listener(fd)) {
      status = Status(Code::kInvalidArgument, "LISTEN_FDS: socket " + std::to_string(fd) + " (\"" + name +
                                                  "\") is not a listening TCP socket");
    }
    int* slot = nullptr;
    if (name == "http") {
      slot = &out.http;
    } else if (name == "grpc") {
      slot = &out.grpc;
    } else if (name.empty() || name == "unknown" || name == "stored") {  // systemd's names for unnamed sockets
      slot = unnamed++ == 0 ? &out.http : &out.grpc;
    } else if (status.is_ok()) {
      status = Status(Code::kInvalidArgument,
                      "LISTEN_FDNAMES: unknown socket name \"" + name + "\" (expected \"http\" or \"grpc\")");
    }
    if (slot && *slot >= 0 && status.is_ok()) {
      status = Status(Code::kInvalidArgument, "LISTEN_FDNAMES: two sockets for \"" + name + "\" (or too many unnamed ones)");
    }
    if (slot && *slot < 0) {
      *slot = fd;
    } else {
      close(fd);
    }
    if (names) free(names[i]);
  }
  free(names);
  if (status.is_ok() && out.http < 0) {
    status = Status(Code::kInvalidArgument, "LISTEN_FDNAMES: no socket named \"http\" among the " + std::to_string(n) +
                                                " systemd passed");
  }
  if (!status.is_ok()) return status;
  return out;
}

}  // namespace genkit
