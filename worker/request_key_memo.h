// Remembers the cache key of a route's recent request bodies. A client that
// repeats its request — what most cache hits are — then skips parsing,
// validating and hashing the same bytes again: identical bytes make the
// identical validated input, hence the same key. Only for routes whose flow
// input is the body alone. Bounded: small bodies only, forgotten all at once
// when full.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/shm/cache_zone.h"

namespace genkit::http {

class RequestKeyMemo {
 public:
  static constexpr std::size_t kMaxBodyBytes = 4096;
  static constexpr std::size_t kMaxEntries = 1024;

  const shm::CacheKey* find(std::string_view body) const;
  void remember(std::string_view body, const shm::CacheKey& key);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, shm::CacheKey, Hash, std::equal_to<>> keys_;
};

}  // namespace genkit::http
