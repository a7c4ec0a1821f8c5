#include "common/shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <string>

#include "common/shm/align.h"

namespace genkit::shm {

namespace {

struct Layout {
  std::size_t processes, breaker, rate_limit, cache, total;
};

Layout layout_for(const SegmentSizes& s) {
  Layout l{};
  l.processes = align64(sizeof(SegmentHeader));
  l.breaker = l.processes + align64(ProcessTable::bytes());
  l.rate_limit = l.breaker + align64(BreakerZone::bytes());
  l.cache = l.rate_limit + align64(RateLimitZone::bytes(s.rate_limit_buckets));
  l.total = l.cache + align64(CacheZone::bytes(s.cache_entries, s.cache_entry_bytes));
  return l;
}

Status sys_error(const std::string& what, int err) {
  return internal_error("shared memory: " + what + ": " + std::strerror(err));
}

uint64_t random_u64() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = static_cast<uint64_t>(getpid()) * 0x9e3779b97f4a7c15ULL;
  return v;
}

char* at(void* base, std::size_t offset) { return static_cast<char*>(base) + offset; }

}  // namespace

std::size_t Segment::bytes_for(const SegmentSizes& sizes) { return layout_for(sizes).total; }

Segment::Segment(int fd, void* base, std::size_t size)
    : fd_(fd), base_(base), size_(size),
      processes_(at(base, header().processes_offset)),
      breaker_(at(base, header().breaker_offset)),
      rate_limits_(at(base, header().rate_limit_offset)),
      cache_(at(base, header().cache_offset)) {}

Segment::~Segment() {
  munmap(base_, size_);
  close(fd_);
}

Result<std::unique_ptr<Segment>> Segment::create(const SegmentSizes& sizes) {
  if (sizes.cache_entries == 0 || sizes.cache_entry_bytes == 0 || sizes.rate_limit_buckets == 0) {
    return invalid_argument("shared memory: every size must be at least 1");
  }
  Layout l = layout_for(sizes);
  int fd = memfd_create("genkit-endpoints-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sys_error("memfd_create", errno);
  if (ftruncate(fd, static_cast<off_t>(l.total)) != 0) {
    int err = errno;
    close(fd);
    return sys_error("ftruncate", err);
  }
  // Reserve every page now: on a full tmpfs, touching an unreserved page
  // later would kill the process with SIGBUS.
  int rc = posix_fallocate(fd, 0, static_cast<off_t>(l.total));
  if (rc != 0) {
    close(fd);
    return sys_error("posix_fallocate", rc);
  }
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  void* base = mmap(nullptr, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    close(fd);
    return sys_error("mmap", err);
  }
  auto* h = new (base) SegmentHeader{};
  h->layout_version = kLayoutVersion;
  h->header_bytes = sizeof(SegmentHeader);
  h->total_bytes = l.total;
  h->sizes = sizes;
  h->instance_id = random_u64();
  h->processes_offset = l.processes;
  h->breaker_offset = l.breaker;
  h->rate_limit_offset = l.rate_limit;
  h->cache_offset = l.cache;
  Status s = ProcessTable::init(at(base, l.processes));
  if (s.is_ok()) s = BreakerZone::init(at(base, l.breaker));
  if (s.is_ok()) s = RateLimitZone::init(at(base, l.rate_limit), sizes.rate_limit_buckets, random_u64());
  if (s.is_ok()) s = CacheZone::init(at(base, l.cache), sizes.cache_entries, sizes.cache_entry_bytes, random_u64());
  if (!s.is_ok()) {
    munmap(base, l.total);
    close(fd);
    return s;
  }
  // The magic last: a process that maps a half-built segment refuses it.
  std::memcpy(h->magic, kSegmentMagic, sizeof kSegmentMagic);
  return std::unique_ptr<Segment>(new Segment(fd, base, l.total));
}

Result<std::unique_ptr<Segment>> Segment::attach(int fd) {
  struct stat st{};
  if (fstat(fd, &st) != 0) return sys_error("fstat", errno);
  auto size = static_cast<std::size_t>(st.st_size);
  if (size < sizeof(SegmentHeader)) return invalid_argument("shared memory: the segment is too small to be ours");
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return sys_error("mmap", errno);
  const auto* h = static_cast<const SegmentHeader*>(base);
  std::string why;
  if (std::memcmp(h->magic, kSegmentMagic, sizeof kSegmentMagic) != 0) {
    why = "not a genkit-endpoints segment (bad magic)";
  } else if (h->layout_version != kLayoutVersion || h->header_bytes != sizeof(SegmentHeader)) {
    why = "layout version " + std::to_string(h->layout_version) + ", this binary reads " + std::to_string(kLayoutVersion);
  } else if (h->total_bytes != size || layout_for(h->sizes).total != size || h->cache_offset != layout_for(h->sizes).cache) {
    why = "its sizes do not match its length";
  }
  if (!why.empty()) {
    munmap(base, size);
    return invalid_argument("shared memory: " + why);
  }
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) {
    int err = errno;
    munmap(base, size);
    return sys_error("fcntl(F_DUPFD_CLOEXEC)", err);
  }
  return std::unique_ptr<Segment>(new Segment(own, base, size));
}

}  // namespace genkit::shm
