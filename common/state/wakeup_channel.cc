#include "common/state/wakeup_channel.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/log.h"

namespace genkit {

namespace {

// "\0genkit-endpoints/<instance id>/<slot>": abstract, so nothing to unlink,
// and gone with the process that bound it.
socklen_t socket_name(uint64_t instance_id, int slot, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  int n = std::snprintf(addr->sun_path + 1, sizeof addr->sun_path - 1, "genkit-endpoints/%016llx/%d",
                        static_cast<unsigned long long>(instance_id), slot);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

}  // namespace

WakeupChannel::WakeupChannel(Loop& loop, uint64_t instance_id, int slot, OnKey on_key)
    : instance_id_(instance_id), on_key_(std::move(on_key)) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    log_warning("cache_wakeup_unavailable", {{"errno", errno}});
    return;
  }
  sockaddr_un addr;
  socklen_t len = socket_name(instance_id, slot, &addr);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    // Waiters still learn of results by polling.
    log_warning("cache_wakeup_unavailable", {{"errno", errno}, {"slot", slot}});
    close(fd_);
    fd_ = -1;
    return;
  }
  ev_ = event_new(loop.base(), fd_, EV_READ | EV_PERSIST, &WakeupChannel::on_readable, this);
  event_add(ev_, nullptr);
}

WakeupChannel::~WakeupChannel() {
  if (ev_) event_free(ev_);
  if (fd_ >= 0) close(fd_);
}

void WakeupChannel::wake(const shm::WaiterSet& processes, const shm::CacheKey& key) {
  int out = fd_ >= 0 ? fd_ : socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (out < 0) return;
  for (int word = 0; word < shm::kProcessWords; ++word) {
    for (uint64_t bits = processes[word]; bits; bits &= bits - 1) {
      int slot = word * 64 + __builtin_ctzll(bits);
      sockaddr_un addr;
      socklen_t len = socket_name(instance_id_, slot, &addr);
      // Non-blocking; a failure leaves that process to its poll.
      sendto(out, key.bytes, sizeof key.bytes, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
    }
  }
  if (out != fd_) close(out);
}

void WakeupChannel::on_readable(int fd, short, void* arg) {
  auto* self = static_cast<WakeupChannel*>(arg);
  // Bounded per wake-up so one busy channel cannot starve the loop.
  for (int i = 0; i < 256; ++i) {
    shm::CacheKey key;
    ssize_t n = recv(fd, key.bytes, sizeof key.bytes, MSG_DONTWAIT);
    if (n < 0) return;
    if (n == static_cast<ssize_t>(sizeof key.bytes)) self->on_key_(key);
  }
}

}  // namespace genkit
