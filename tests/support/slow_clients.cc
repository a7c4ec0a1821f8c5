#include "tests/support/slow_clients.h"

#include <poll.h>

#include <algorithm>

namespace itest {

namespace {

using Clock = RawConnection::Clock;
using std::chrono::milliseconds;

// Waits until any open connection has input (or `until`), and reads it.
void read_what_arrives(std::vector<Trickled>& all, Clock::time_point until) {
  std::vector<pollfd> fds;
  std::vector<Trickled*> owners;
  for (Trickled& t : all) {
    if (t.connection.closed()) continue;
    fds.push_back(pollfd{t.connection.fd(), POLLIN, 0});
    owners.push_back(&t);
  }
  auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
  if (fds.empty() || left <= 0) return;
  if (poll(fds.data(), fds.size(), static_cast<int>(left)) <= 0) return;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0) owners[i]->connection.read_available();
  }
}

bool all_closed(const std::vector<Trickled>& all) {
  return std::all_of(all.begin(), all.end(), [](const Trickled& t) { return t.connection.closed(); });
}

}  // namespace

std::vector<Trickled> trickle(int port, std::string_view request, const TrickleOptions& options) {
  std::vector<Trickled> all;
  for (int i = 0; i < options.connections; ++i) {
    Trickled t;
    if (!t.connection.connect(port)) continue;
    t.opened = Clock::now();
    t.bytes_sent = t.connection.send_some(request.substr(0, options.at_once), milliseconds(1000));
    all.push_back(std::move(t));
  }
  const Clock::time_point give_up = Clock::now() + options.give_up;
  Clock::time_point next_byte = Clock::now();
  while (Clock::now() < give_up && !all_closed(all)) {
    if (Clock::now() >= next_byte) {
      for (Trickled& t : all) {
        if (t.connection.closed() || t.bytes_sent >= request.size()) continue;
        t.bytes_sent += t.connection.send_some(request.substr(t.bytes_sent, 1), milliseconds(0));
      }
      next_byte += options.interval;
    }
    read_what_arrives(all, std::min(next_byte, give_up));
  }
  return all;
}

}  // namespace itest
