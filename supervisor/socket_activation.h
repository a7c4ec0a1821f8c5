// Listening sockets handed over by systemd (socket activation, sd_listen_fds(3)):
// LISTEN_FDS/LISTEN_FDNAMES. A socket named "http" (FileDescriptorName= in
// genkit-endpoints.socket) serves REST, one named "grpc" serves grpcd; unnamed
// sockets are taken in order (http, then grpc). With the socket unit holding
// the sockets, a restart or an upgrade refuses no connection: they wait in
// the queue until the new supervisor's workers accept.
#pragma once

#include "common/status.h"

namespace genkit {

struct ActivatedSockets {
  bool activated = false;  // LISTEN_FDS was set for this process
  int http = -1;
  int grpc = -1;
};

// Reads (and unsets) LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID. A socket that is
// not a listening TCP socket, an unknown or repeated name, or no "http"
// socket among several is a clear error.
Result<ActivatedSockets> activated_sockets();

// The local port of a bound socket (0 if unknown).
int local_port(int fd);

}  // namespace genkit
