// What /proc says about processes and their TCP sockets, for tests that look
// at the server from outside: whose child a process is, whether it is
// stopped or a zombie, what it runs, which sockets it holds and what state
// the kernel has them in.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace itest {

struct ProcInfo {
  int pid = 0;
  char state = '?';  // R S D T t Z X ...
  int ppid = 0;
  int pgrp = 0;
};

// From /proc/<pid>/stat, of every process there now.
std::vector<ProcInfo> all_processes();

// The executable's path ("" when the process is gone).
std::string exe_path(int pid);

// The inodes of the sockets among the process's open files.
std::set<std::string> socket_inodes(int pid);

// One row of /proc/net/tcp or /proc/net/tcp6.
struct TcpSocket {
  std::string state;  // hex, as the kernel writes it: "01" established, "0A" listening
  int local_port = 0;
  int remote_port = 0;
  std::string inode;
};
constexpr const char* kTcpEstablished = "01";
constexpr const char* kTcpListening = "0A";

// Every IPv4 and IPv6 TCP socket of this network namespace.
std::vector<TcpSocket> tcp_sockets();

}  // namespace itest
