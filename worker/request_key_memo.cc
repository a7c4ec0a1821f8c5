#include "worker/request_key_memo.h"

namespace genkit::http {

const shm::CacheKey* RequestKeyMemo::find(std::string_view body) const {
  auto it = keys_.find(body);
  return it == keys_.end() ? nullptr : &it->second;
}

void RequestKeyMemo::remember(std::string_view body, const shm::CacheKey& key) {
  if (body.size() > kMaxBodyBytes) return;
  if (keys_.size() >= kMaxEntries) keys_.clear();
  keys_.insert_or_assign(std::string(body), key);
}

}  // namespace genkit::http
