#include "tests/support/proc_table.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

namespace itest {

namespace {

// nullopt when the process is gone.
std::optional<ProcInfo> proc_info(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  std::size_t paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  ProcInfo p;
  p.pid = pid;
  rest >> p.state >> p.ppid >> p.pgrp;
  return rest ? std::optional<ProcInfo>(p) : std::nullopt;
}

}  // namespace

std::vector<ProcInfo> all_processes() {
  std::vector<ProcInfo> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (std::optional<ProcInfo> p = proc_info(static_cast<int>(pid))) out.push_back(*p);
  }
  closedir(d);
  return out;
}

std::string exe_path(int pid) {
  char target[512];
  ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), target, sizeof target);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

std::set<std::string> socket_inodes(int pid) {
  std::set<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* entry = readdir(d)) {
    char target[128];
    ssize_t n = readlink((dir + "/" + entry->d_name).c_str(), target, sizeof target);
    std::string_view t(target, n > 0 ? static_cast<size_t>(n) : 0);
    if (t.starts_with("socket:[") && t.ends_with("]")) out.emplace(t.substr(8, t.size() - 9));
  }
  closedir(d);
  return out;
}

namespace {

int port_of(const std::string& address) {  // "0100007F:1F90" → 8080
  std::size_t colon = address.rfind(':');
  return colon == std::string::npos ? -1 : static_cast<int>(std::strtol(address.c_str() + colon + 1, nullptr, 16));
}

}  // namespace

std::vector<TcpSocket> tcp_sockets() {
  std::vector<TcpSocket> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // (header)
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (!fields) continue;
      out.push_back({state, port_of(local), port_of(remote), inode});
    }
  }
  return out;
}

}  // namespace itest
