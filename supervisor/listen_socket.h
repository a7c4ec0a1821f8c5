// The listening socket, bound once by the supervisor and inherited by every
// worker: one accept queue, so a draining worker leaves nothing behind.
#pragma once

#include <string>

#include "common/status.h"

namespace genkit {

struct ListenSocket {
  int fd = -1;
  int port = 0;  // the bound port (resolved when 0 was asked for)
};

// The backlog is capped by net.core.somaxconn; a deep queue absorbs connection bursts.
Result<ListenSocket> bind_listen_socket(const std::string& host, int port, int backlog = 4096);

}  // namespace genkit
