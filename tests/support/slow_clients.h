// Slowloris for the integration tests: many connections, each sent the same
// request a byte at a time, all from one thread (a poll loop), noting what
// came back and when the server closed each one.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/raw_connection.h"

namespace itest {

struct TrickleOptions {
  int connections = 20;
  std::size_t at_once = 0;  // the request's first bytes, sent in one go on connecting
  std::chrono::milliseconds interval{250};  // between one byte and the next
  std::chrono::milliseconds give_up{10000};  // stop trickling (and waiting) after this
};

struct Trickled {
  RawConnection connection;  // what it received; closed() / closed_at()
  std::size_t bytes_sent = 0;
  RawConnection::Clock::time_point opened{};
};

// Opens the connections and feeds each `request` one byte per interval
// until the server closes it or give_up passes. Connections that could not
// be opened are left out (the caller checks the count).
std::vector<Trickled> trickle(int port, std::string_view request, const TrickleOptions& options);

}  // namespace itest
