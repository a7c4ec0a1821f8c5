#include "tests/support/process_memory.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace itest {

namespace {

// A "Name:   1234 kB" line of /proc/<pid>/status.
long status_kib(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

long total(const std::vector<int>& pids, const std::string& field) {
  long sum = 0;
  for (int pid : pids) {
    long kib = status_kib(pid, field);
    if (kib > 0) sum += kib;
  }
  return sum;
}

}  // namespace

long resident_kib(int pid) { return status_kib(pid, "VmRSS"); }
long peak_resident_kib(int pid) { return status_kib(pid, "VmHWM"); }
long total_resident_kib(const std::vector<int>& pids) { return total(pids, "VmRSS"); }
long total_peak_resident_kib(const std::vector<int>& pids) { return total(pids, "VmHWM"); }

std::string asan_options_for_measuring() {
  const char* own = std::getenv("ASAN_OPTIONS");
  std::string options = own && *own ? std::string(own) + ":" : std::string();
  return options + "quarantine_size_mb=0:thread_local_quarantine_size_kb=0:allocator_release_to_os_interval_ms=0";
}

}  // namespace itest
