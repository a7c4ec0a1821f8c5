// The client connections grpcd handed to grpc++, so a drain can tell when
// they are all gone. grpc++ owns and closes the descriptors; we keep each
// one's number and socket identity (device, inode) and count a connection
// as closed once its number no longer names that socket (closed, or reused
// for another one). Loop thread only.
#pragma once

#include <sys/types.h>

#include <vector>

namespace genkit::grpcd {

class ClientConnections {
 public:
  void remember(int fd);
  int open_count();  // forgets the closed ones

 private:
  struct Entry {
    int fd;
    dev_t dev;
    ino_t ino;
  };
  std::vector<Entry> entries_;
};

}  // namespace genkit::grpcd
