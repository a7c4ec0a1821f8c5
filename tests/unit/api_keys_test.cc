// API_KEYS with Genkit's api_key semantics: the Authorization value verbatim;
// none → UNAUTHENTICATED, wrong → PERMISSION_DENIED; never echoed.
#include "common/api_keys.h"

#include <gtest/gtest.h>

#include "worker/middleware/api_key.h"

namespace genkit {
namespace {

Code check(const ApiKeys& keys, const std::string* presented) { return keys.check(presented).code(); }
Code check(const ApiKeys& keys, const std::string& presented) { return keys.check(&presented).code(); }

TEST(ApiKeys, OffWhenNoKeys) {
  ApiKeys off;
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(check(off, nullptr), Code::kOk);
  EXPECT_EQ(check(off, "anything"), Code::kOk);
  EXPECT_FALSE(ApiKeys(std::vector<std::string>{""}).enabled());
}

TEST(ApiKeys, AnyConfiguredKeyVerbatim) {
  ApiKeys keys({"k-one", "k-two"});
  EXPECT_TRUE(keys.enabled());
  EXPECT_EQ(check(keys, "k-one"), Code::kOk);
  EXPECT_EQ(check(keys, "k-two"), Code::kOk);
  EXPECT_EQ(check(keys, "Bearer k-one"), Code::kPermissionDenied) << "no Bearer stripping";
  EXPECT_EQ(check(keys, "K-ONE"), Code::kPermissionDenied);
  EXPECT_EQ(check(keys, "k-on"), Code::kPermissionDenied) << "a prefix";
  EXPECT_EQ(check(keys, "k-one "), Code::kPermissionDenied);
  EXPECT_EQ(check(keys, std::string("k-one\0x", 7)), Code::kPermissionDenied) << "bytes after a NUL count";
}

TEST(ApiKeys, NoneOrEmptyIsUnauthenticated) {
  ApiKeys keys({"k-one"});
  EXPECT_EQ(check(keys, nullptr), Code::kUnauthenticated);
  EXPECT_EQ(check(keys, ""), Code::kUnauthenticated);
}

TEST(ApiKeys, MessagesNeverContainAKey) {
  ApiKeys keys({"sekrit-key"});
  for (const std::string& sent : {std::string("sekrit-kez"), std::string("sekrit-key-longer"), std::string()}) {
    Status s = keys.check(&sent);
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.message().find("sekrit"), std::string::npos) << s.message();
  }
}

TEST(AuthorizationOf, RepeatedHeadersAreJoinedAsGenkitSeesThem) {
  http::Request req;
  EXPECT_FALSE(http::authorization_of(req));
  req.headers = {{"authorization", "k-one"}};
  EXPECT_EQ(http::authorization_of(req), "k-one");
  req.headers.push_back({"authorization", "k-two"});
  EXPECT_EQ(http::authorization_of(req), "k-one, k-two");
  EXPECT_EQ(check(ApiKeys({"k-one", "k-two"}), *http::authorization_of(req)), Code::kPermissionDenied);
}

}  // namespace
}  // namespace genkit
