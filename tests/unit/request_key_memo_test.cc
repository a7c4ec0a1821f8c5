// RequestKeyMemo: identical bodies find their key; the memo stays bounded.
#include <gtest/gtest.h>

#include <string>

#include "worker/request_key_memo.h"

namespace genkit::http {
namespace {

shm::CacheKey key_of(int n) {
  shm::CacheKey k{};
  k.bytes[0] = static_cast<uint8_t>(n);
  k.bytes[1] = static_cast<uint8_t>(n >> 8);
  return k;
}

TEST(RequestKeyMemo, IdenticalBytesFindTheirKey) {
  RequestKeyMemo memo;
  EXPECT_EQ(memo.find(R"({"text":"hi"})"), nullptr);
  memo.remember(R"({"text":"hi"})", key_of(7));
  const shm::CacheKey* k = memo.find(R"({"text":"hi"})");
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(*k == key_of(7));
  EXPECT_EQ(memo.find(R"({"text": "hi"})"), nullptr) << "only identical bytes";
}

TEST(RequestKeyMemo, LargeBodiesAreNotKept) {
  RequestKeyMemo memo;
  std::string big(RequestKeyMemo::kMaxBodyBytes + 1, 'x');
  memo.remember(big, key_of(1));
  EXPECT_EQ(memo.find(big), nullptr);
}

TEST(RequestKeyMemo, AFullMemoStartsOver) {
  RequestKeyMemo memo;
  for (std::size_t i = 0; i < RequestKeyMemo::kMaxEntries; ++i) memo.remember(std::to_string(i), key_of(int(i)));
  EXPECT_NE(memo.find("0"), nullptr);
  memo.remember("one more", key_of(9));
  EXPECT_EQ(memo.find("0"), nullptr) << "forgotten when full";
  EXPECT_NE(memo.find("one more"), nullptr);
}

}  // namespace
}  // namespace genkit::http
