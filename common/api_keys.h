// API_KEYS, with the semantics of Genkit's api_key context provider, for
// every transport (the HTTP workers' gate and grpcd's calls): the key is the
// Authorization value verbatim (no "Bearer " stripping); none (or empty) →
// kUnauthenticated, any other value than a configured key →
// kPermissionDenied. Only SHA-256 digests of the keys are kept, and a
// presented key is compared with every one of them without an early exit,
// so the response time says nothing about a key's length, its first
// differing byte or which key matched. Messages never contain a key.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace genkit {

class ApiKeys {
 public:
  ApiKeys() = default;  // no keys: auth is off
  explicit ApiKeys(const std::vector<std::string>& keys);

  bool enabled() const { return !digests_.empty(); }
  // `presented`: the Authorization value, or nullptr when none was sent.
  // OK when auth is off.
  Status check(const std::string* presented) const;

 private:
  std::vector<std::array<unsigned char, 32>> digests_;
};

}  // namespace genkit
