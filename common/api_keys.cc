#include "common/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace genkit {

namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

ApiKeys::ApiKeys(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    if (!k.empty()) digests_.push_back(sha256(k));
  }
}

Status ApiKeys::check(const std::string* presented) const {
  if (!enabled()) return Status::ok();
  if (!presented || presented->empty()) {
    return Status(Code::kUnauthenticated, "an API key is required: send it as the Authorization header");
  }
  // Digests have one length whatever was sent; CRYPTO_memcmp takes the same
  // time whatever the bytes, and every key is compared.
  std::array<unsigned char, 32> digest = sha256(*presented);
  int matched = 0;
  for (const auto& key : digests_) matched |= CRYPTO_memcmp(key.data(), digest.data(), digest.size()) == 0;
  if (!matched) return Status(Code::kPermissionDenied, "the API key is not valid");
  return Status::ok();
}

}  // namespace genkit
