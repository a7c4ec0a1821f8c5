#include "common/shm/process_table.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include "common/shm/align.h"
#include "common/shm/counters.h"

namespace genkit::shm {

namespace {

constexpr std::size_t kSlotsOffset = align64(sizeof(ProcessTableHeader));

// A label table's entries are only ever appended; a dead writer can leave a
// half-written last name, which repair drops.
void repair_labels(void* zone) {
  auto* t = static_cast<LabelTable*>(zone);
  if (t->count > kMaxLabels) t->count = kMaxLabels;
  while (t->count > 0 && t->names[t->count - 1][0] == '\0') --t->count;
}

void repair_note(void* zone) {
  auto* n = static_cast<SharedNote*>(zone);
  if (n->length >= kSharedNoteBytes) n->length = 0;  // a writer died mid-copy: no text rather than a torn one
  std::atomic_ref<uint64_t>(n->version).fetch_add(1, std::memory_order_release);
}

std::atomic_ref<int32_t> pid_ref(ProcessSlot& s) { return std::atomic_ref<int32_t>(s.pid); }

uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace

bool process_alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

std::size_t ProcessTable::bytes() { return kSlotsOffset + sizeof(ProcessSlot) * kMaxProcesses; }

Status ProcessTable::init(void* at) {
  std::memset(at, 0, bytes());
  auto* h = new (at) ProcessTableHeader{};
  Status s = init_robust_mutex(&h->routes.mu);
  if (s.is_ok()) s = init_robust_mutex(&h->models.mu);
  if (s.is_ok()) s = init_robust_mutex(&h->grpc_methods.mu);
  if (s.is_ok()) s = init_robust_mutex(&h->telemetry_url.mu);
  return s;
}

ProcessTable::ProcessTable(void* at)
    : header_(static_cast<ProcessTableHeader*>(at)),
      slots_(reinterpret_cast<ProcessSlot*>(static_cast<char*>(at) + kSlotsOffset)) {}

int ProcessTable::claim(int32_t pid, ProcessKind kind) {
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < kMaxProcesses; ++i) {
      ProcessSlot& s = slots_[i];
      int32_t owner = pid_ref(s).load(std::memory_order_acquire);
      if (owner == pid) return i;
      // First pass: free slots only; second pass: slots of dead processes.
      if (owner != 0 && (pass == 0 || process_alive(owner))) continue;
      if (!pid_ref(s).compare_exchange_strong(owner, pid, std::memory_order_acq_rel)) continue;
      write_relaxed(s.kind, static_cast<int32_t>(kind));
      write_relaxed(s.heartbeat_ms, monotonic_ms());
      write_relaxed(s.counters.in_flight, int64_t{0});
      write_relaxed(s.counters.open_connections, int64_t{0});
      write_relaxed(s.counters.grpc_in_flight, int64_t{0});
      write_relaxed(s.counters.redis_connected, int64_t{0});  // (a killed owner's 1 would count this one as connected)
      bump_shared(s.claims);
      return i;
    }
  }
  return -1;
}

void ProcessTable::stamp_heartbeat(int slot) {
  if (slot >= 0 && slot < kMaxProcesses) write_relaxed(slots_[slot].heartbeat_ms, monotonic_ms());
}

int64_t ProcessTable::heartbeat_age_ms(int32_t pid) const {
  int slot = slot_of(pid);
  if (slot < 0) return -1;
  uint64_t last = read_relaxed(slots_[slot].heartbeat_ms);
  uint64_t now = monotonic_ms();
  return now > last ? static_cast<int64_t>(now - last) : 0;
}

void ProcessTable::release(int32_t pid) {
  if (pid <= 0) return;
  for (int i = 0; i < kMaxProcesses; ++i) {
    ProcessSlot& s = slots_[i];
    int32_t owner = pid;
    if (pid_ref(s).load(std::memory_order_relaxed) != pid) continue;
    write_relaxed(s.counters.in_flight, int64_t{0});
    write_relaxed(s.counters.open_connections, int64_t{0});
    write_relaxed(s.counters.grpc_in_flight, int64_t{0});
    write_relaxed(s.kind, static_cast<int32_t>(ProcessKind::kNone));
    pid_ref(s).compare_exchange_strong(owner, 0, std::memory_order_acq_rel);
  }
}

int ProcessTable::slot_of(int32_t pid) const {
  for (int i = 0; i < kMaxProcesses; ++i) {
    if (read_relaxed(slots_[i].pid) == pid) return i;
  }
  return -1;
}

int ProcessTable::count(ProcessKind kind) const {
  int n = 0;
  for (int i = 0; i < kMaxProcesses; ++i) {
    if (read_relaxed(slots_[i].pid) != 0 && read_relaxed(slots_[i].kind) == static_cast<int32_t>(kind)) ++n;
  }
  return n;
}

bool ProcessTable::publish_telemetry_url(std::string_view url) {
  SharedNote& n = header_->telemetry_url;
  if (url.size() >= kSharedNoteBytes) return false;
  ShmLock lock(&n.mu, &repair_note, &n);
  if (!lock.held()) return false;
  n.length = static_cast<uint32_t>(kSharedNoteBytes);  // (marks the copy under way for repair_note)
  std::memcpy(n.text, url.data(), url.size());
  n.length = static_cast<uint32_t>(url.size());
  std::atomic_ref<uint64_t>(n.version).fetch_add(1, std::memory_order_release);
  return true;
}

bool ProcessTable::read_telemetry_url(uint64_t* seen, std::string* url) {
  SharedNote& n = header_->telemetry_url;
  if (std::atomic_ref<uint64_t>(n.version).load(std::memory_order_acquire) == *seen) return false;
  ShmLock lock(&n.mu, &repair_note, &n);
  if (!lock.held()) return false;
  *seen = std::atomic_ref<uint64_t>(n.version).load(std::memory_order_relaxed);
  url->assign(n.text, std::min<std::size_t>(n.length, kSharedNoteBytes - 1));
  return true;
}

int ProcessTable::intern(LabelTable& table, std::string_view name, int capacity) {
  if (name.size() >= kLabelBytes) name = name.substr(0, kLabelBytes - 1);
  ShmLock lock(&table.mu, &repair_labels, &table);
  if (!lock.held()) return capacity - 1;
  for (uint32_t i = 0; i < table.count; ++i) {
    if (name == table.names[i]) return static_cast<int>(i);
  }
  if (table.count >= static_cast<uint32_t>(capacity) - 1) return capacity - 1;
  char* dst = table.names[table.count];
  std::memcpy(dst, name.data(), name.size());
  dst[name.size()] = '\0';
  fault_point("labels.append");
  return static_cast<int>(table.count++);
}

std::vector<std::string> ProcessTable::names(LabelTable& table) {
  char copy[kMaxLabels][kLabelBytes];
  uint32_t n = 0;
  {
    ShmLock lock(&table.mu, &repair_labels, &table);
    if (lock.held()) {
      n = std::min<uint32_t>(table.count, kMaxLabels);
      std::memcpy(copy, table.names, sizeof(copy[0]) * n);
    }
  }
  std::vector<std::string> out;
  out.reserve(n + 1);
  for (uint32_t i = 0; i < n; ++i) out.emplace_back(copy[i], strnlen(copy[i], kLabelBytes));
  return out;
}

}  // namespace genkit::shm
