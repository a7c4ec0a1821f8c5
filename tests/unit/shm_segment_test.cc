// The shared-memory segment: created once, attached by fd (grpcd), and
// refused with a clear message when the fd is not a segment of this layout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/shm/segment.h"
#include "shm_test_support.h"

namespace genkit::shm {
namespace {

using shm_testing::make_segment;

// A memfd of `bytes` bytes holding a copy of `src`'s first `copy` bytes.
int memfd_with(const void* src, std::size_t copy, std::size_t bytes) {
  int fd = memfd_create("not-ours", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  if (copy) {
    EXPECT_EQ(pwrite(fd, src, copy, 0), static_cast<ssize_t>(copy));
  }
  return fd;
}

// A copy of `seg` (header and all) in a fresh memfd whose header we may edit.
int copy_of(Segment& seg) {
  void* base = mmap(nullptr, seg.size(), PROT_READ, MAP_SHARED, seg.fd(), 0);
  EXPECT_NE(base, MAP_FAILED);
  int fd = memfd_with(base, seg.size(), seg.size());
  munmap(base, seg.size());
  return fd;
}

template <typename Edit>
void edit_header(int fd, Edit edit) {
  SegmentHeader h{};
  ASSERT_EQ(pread(fd, &h, sizeof h, 0), static_cast<ssize_t>(sizeof h));
  edit(h);
  ASSERT_EQ(pwrite(fd, &h, sizeof h, 0), static_cast<ssize_t>(sizeof h));
}

std::string attach_error(int fd) {
  Result<std::unique_ptr<Segment>> r = Segment::attach(fd);
  close(fd);
  return r.ok() ? std::string("(attached)") : r.status().message();
}

TEST(ShmSegment, CreateThenAttachSharesTheSameBytes) {
  auto seg = make_segment(16, 128, 64);
  ASSERT_TRUE(seg);
  EXPECT_EQ(seg->size(), Segment::bytes_for(seg->sizes()));
  EXPECT_EQ(std::memcmp(seg->header().magic, kSegmentMagic, sizeof kSegmentMagic), 0);
  EXPECT_EQ(seg->header().layout_version, kLayoutVersion);

  Result<std::unique_ptr<Segment>> other = Segment::attach(seg->fd());
  ASSERT_TRUE(other.ok()) << other.status().message();
  Segment& b = **other;
  EXPECT_NE(b.fd(), seg->fd());  // its own descriptor
  EXPECT_EQ(b.size(), seg->size());
  EXPECT_EQ(b.instance_id(), seg->instance_id());
  EXPECT_EQ(b.sizes(), seg->sizes());
  EXPECT_EQ(b.cache().capacity(), 16u);
  EXPECT_EQ(b.cache().max_value_bytes(), 128u);

  // What one mapping writes, the other reads.
  int slot = seg->processes().claim(4242, ProcessKind::kWorker);
  ASSERT_GE(slot, 0);
  EXPECT_EQ(b.processes().slot_of(4242), slot);
  CacheKey key{};
  key.bytes[0] = 7;
  seg->cache().store(key, "{\"v\":1}", 0, 1'000'000'000);
  char out[128];
  CacheZone::Lookup l = b.cache().lookup(key, 0, {1, 0}, 10, out);
  ASSERT_EQ(l.kind, CacheZone::Lookup::kHit);
  EXPECT_EQ(std::string(out, l.value_len), "{\"v\":1}");
  EXPECT_EQ(b.processes().intern_route("/chat"), seg->processes().intern_route("/chat"));
}

// Dev mode: the telemetry URL one process publishes, every mapping reads
// once per change.
TEST(ShmSegment, TelemetryUrlPublishedOnceReadByEveryMapping) {
  auto seg = make_segment(16, 128, 64);
  ASSERT_TRUE(seg);
  Result<std::unique_ptr<Segment>> other = Segment::attach(seg->fd());
  ASSERT_TRUE(other.ok()) << other.status().message();
  uint64_t seen = 0;
  std::string url;
  EXPECT_FALSE((*other)->processes().read_telemetry_url(&seen, &url));  // nothing published yet
  ASSERT_TRUE(seg->processes().publish_telemetry_url("http://127.0.0.1:4033"));
  ASSERT_TRUE((*other)->processes().read_telemetry_url(&seen, &url));
  EXPECT_EQ(url, "http://127.0.0.1:4033");
  EXPECT_FALSE((*other)->processes().read_telemetry_url(&seen, &url));  // no change since
  ASSERT_TRUE(seg->processes().publish_telemetry_url("http://127.0.0.1:4034"));
  ASSERT_TRUE((*other)->processes().read_telemetry_url(&seen, &url));
  EXPECT_EQ(url, "http://127.0.0.1:4034");
  EXPECT_FALSE(seg->processes().publish_telemetry_url(std::string(kSharedNoteBytes, 'x')));  // too long: refused
  EXPECT_FALSE((*other)->processes().read_telemetry_url(&seen, &url));
}

TEST(ShmSegment, IsSealedAgainstResizing) {
  auto seg = make_segment();
  ASSERT_TRUE(seg);
  EXPECT_NE(ftruncate(seg->fd(), static_cast<off_t>(seg->size() * 2)), 0);
  EXPECT_NE(ftruncate(seg->fd(), 64), 0);
  EXPECT_EQ(fcntl(seg->fd(), F_GET_SEALS) & (F_SEAL_GROW | F_SEAL_SHRINK), F_SEAL_GROW | F_SEAL_SHRINK);
}

TEST(ShmSegment, CreateRefusesZeroSizes) {
  SegmentSizes s;
  s.cache_entries = 0;
  Result<std::unique_ptr<Segment>> r = Segment::create(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least 1"), std::string::npos) << r.status().message();
}

TEST(ShmSegment, AttachRefusesAForeignMemfd) {
  std::string garbage(4096, 'x');
  std::string why = attach_error(memfd_with(garbage.data(), garbage.size(), 1 << 20));
  EXPECT_NE(why.find("not a genkit-endpoints segment (bad magic)"), std::string::npos) << why;
}

TEST(ShmSegment, AttachRefusesAFileTooSmallForAHeader) {
  std::string why = attach_error(memfd_with(nullptr, 0, 16));
  EXPECT_NE(why.find("too small"), std::string::npos) << why;
}

TEST(ShmSegment, AttachRefusesAnotherLayoutVersion) {
  auto seg = make_segment();
  ASSERT_TRUE(seg);
  int fd = copy_of(*seg);
  edit_header(fd, [](SegmentHeader& h) { h.layout_version = kLayoutVersion + 1; });
  std::string why = attach_error(fd);
  EXPECT_NE(why.find("layout version " + std::to_string(kLayoutVersion + 1) + ", this binary reads " +
                     std::to_string(kLayoutVersion)),
            std::string::npos)
      << why;
}

TEST(ShmSegment, AttachRefusesSizesThatDoNotMatchItsLength) {
  auto seg = make_segment();
  ASSERT_TRUE(seg);
  // The header claims more cache entries than the file holds.
  int fd = copy_of(*seg);
  edit_header(fd, [](SegmentHeader& h) { h.sizes.cache_entries *= 4; });
  std::string why = attach_error(fd);
  EXPECT_NE(why.find("sizes do not match its length"), std::string::npos) << why;

  // A whole header over a file of another length.
  void* base = mmap(nullptr, seg->size(), PROT_READ, MAP_SHARED, seg->fd(), 0);
  ASSERT_NE(base, MAP_FAILED);
  why = attach_error(memfd_with(base, sizeof(SegmentHeader), seg->size() + 4096));
  munmap(base, seg->size());
  EXPECT_NE(why.find("sizes do not match its length"), std::string::npos) << why;
}

TEST(ShmSegment, AttachReportsABadDescriptor) {
  Result<std::unique_ptr<Segment>> r = Segment::attach(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("fstat"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace genkit::shm
