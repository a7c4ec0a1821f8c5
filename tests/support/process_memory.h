// Memory of the server's processes as the kernel counts it (/proc/<pid>/status),
// for "memory stays flat" checks: resident now (VmRSS) and the peak so far (VmHWM).
#pragma once

#include <string>
#include <vector>

namespace itest {

// KiB; -1 when the process (or the field) is not there.
long resident_kib(int pid);
long peak_resident_kib(int pid);

// The sums over `pids` (a missing process counts 0).
long total_resident_kib(const std::vector<int>& pids);
long total_peak_resident_kib(const std::vector<int>& pids);

// ASAN_OPTIONS for a server whose memory a test measures: this process's,
// plus no quarantine (freed memory held back to catch a use after free would
// read as growth) and freed pages given back to the kernel at once. A build
// without ASan ignores it.
std::string asan_options_for_measuring();

}  // namespace itest
