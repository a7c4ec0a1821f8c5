// The client address behind trusted proxies: the right-most X-Forwarded-For
// entry that is not itself a trusted proxy (gunicorn/uvicorn's reading); and
// X-Forwarded-Proto: https believed from a trusted proxy only.
#include "worker/middleware/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace genkit::http {
namespace {

IpAllowList trusted(const std::vector<std::string>& items) {
  Result<IpAllowList> r = IpAllowList::parse(items);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : IpAllowList();
}

Request from(const std::string& peer, const std::vector<std::string>& xff) {
  Request req;
  req.client_ip = peer;
  req.headers.push_back({"content-type", "application/json"});
  for (const std::string& v : xff) req.headers.push_back({"x-forwarded-for", v});
  return req;
}

const IpAllowList kProxies = trusted({"127.0.0.1", "10.0.0.0/8"});

TEST(ForwardedClientIp, ATrustedProxyNamesTheClient) {
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"203.0.113.5"}), kProxies), "203.0.113.5");
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {" [2001:db8::5]:443 "}), kProxies), "2001:db8::5");
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"::ffff:203.0.113.5"}), kProxies), "203.0.113.5");
}

TEST(ForwardedClientIp, TheRightMostEntryNoTrustedProxyVouchesFor) {
  // The left entries are whatever the client sent: only the right-most
  // untrusted one was written by a proxy we trust.
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"198.51.100.1, 203.0.113.5"}), kProxies), "203.0.113.5");
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"198.51.100.1, 203.0.113.5, 10.0.0.2, 10.9.9.9"}), kProxies),
            "203.0.113.5");
}

TEST(ForwardedClientIp, RepeatedHeadersAreOneList) {
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"198.51.100.1", "203.0.113.5, 10.0.0.2"}), kProxies),
            "203.0.113.5");
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"198.51.100.1", "10.0.0.2"}), kProxies), "198.51.100.1");
}

TEST(ForwardedClientIp, AllEntriesTrustedGivesTheLeftMost) {
  EXPECT_EQ(forwarded_client_ip(from("10.0.0.1", {"10.0.0.3, 10.0.0.2"}), kProxies), "10.0.0.3");
}

TEST(ForwardedClientIp, AnUntrustedPeersHeaderIsIgnored) {
  EXPECT_EQ(forwarded_client_ip(from("198.51.100.9", {"203.0.113.5"}), kProxies), "198.51.100.9");
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"203.0.113.5"}), trusted({"10.0.0.0/8"})), "127.0.0.1");
}

TEST(ForwardedClientIp, NoHeaderGivesThePeer) {
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {}), kProxies), "127.0.0.1");
}

TEST(ForwardedClientIp, AGarbageEntryEndsTheChainAtTheLastTrustedHop) {
  // Nothing left of the garbage can be believed.
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"198.51.100.1, garbage"}), kProxies), "127.0.0.1");
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"198.51.100.1, unknown, 10.0.0.2"}), kProxies), "10.0.0.2");
  // Garbage left of the client is never read.
  EXPECT_EQ(forwarded_client_ip(from("127.0.0.1", {"garbage, 203.0.113.5"}), kProxies), "203.0.113.5");
}

TEST(ForwardedClientIp, StarTrustsEveryHop) {
  EXPECT_EQ(forwarded_client_ip(from("198.51.100.9", {"203.0.113.5, 192.0.2.7"}), trusted({"*"})), "203.0.113.5");
}

Request with_proto(const std::string& peer, const std::vector<std::string>& protos) {
  Request req = from(peer, {});
  for (const std::string& p : protos) req.headers.push_back({"x-forwarded-proto", p});
  return req;
}

TEST(ForwardedHttps, ATrustedProxySayingHttpsMarksTheRequestSecure) {
  EXPECT_TRUE(forwarded_https(with_proto("127.0.0.1", {"https"}), kProxies));
  EXPECT_TRUE(forwarded_https(with_proto("10.1.2.3", {" HTTPS "}), kProxies));
  EXPECT_TRUE(forwarded_https(with_proto("::ffff:10.1.2.3", {"https"}), kProxies));
}

TEST(ForwardedHttps, AnythingElseDoesNot) {
  EXPECT_FALSE(forwarded_https(with_proto("198.51.100.9", {"https"}), kProxies)) << "untrusted peer";
  EXPECT_FALSE(forwarded_https(with_proto("127.0.0.1", {"http"}), kProxies));
  EXPECT_FALSE(forwarded_https(with_proto("127.0.0.1", {"https, http"}), kProxies)) << "not one scheme";
  EXPECT_FALSE(forwarded_https(with_proto("127.0.0.1", {"httpsx"}), kProxies));
  EXPECT_FALSE(forwarded_https(with_proto("127.0.0.1", {}), kProxies)) << "no header";
  EXPECT_FALSE(forwarded_https(with_proto("127.0.0.1", {"https"}), IpAllowList())) << "no trusted proxies";
}

}  // namespace
}  // namespace genkit::http
