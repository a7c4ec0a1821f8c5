#include "grpcd/client_connections.h"

#include <sys/stat.h>

#include <algorithm>

namespace genkit::grpcd {

namespace {

bool same_socket(int fd, dev_t dev, ino_t ino) {
  struct stat st {};
  return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

void ClientConnections::remember(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return;
  // Pruned as they come, so a long-lived daemon keeps about one entry per
  // open connection.
  if (entries_.size() >= 64 && entries_.size() % 64 == 0) open_count();
  entries_.push_back({fd, st.st_dev, st.st_ino});
}

int ClientConnections::open_count() {
  std::erase_if(entries_, [](const Entry& e) { return !same_socket(e.fd, e.dev, e.ino); });
  return static_cast<int>(entries_.size());
}

}  // namespace genkit::grpcd
