#include <gtest/gtest.h>

#include "grpcd/call_core.h"

namespace genkit::grpcd {
namespace {

TEST(PeerAddressTest, GrpcPeerStringsGiveTheAddress) {
  EXPECT_EQ(address_of_peer("ipv4:127.0.0.2:5555"), "127.0.0.2");
  EXPECT_EQ(address_of_peer("ipv6:[::1]:443"), "::1");
  EXPECT_EQ(address_of_peer("ipv6:[fe80::1%eth0]:443"), "fe80::1");
  EXPECT_EQ(address_of_peer("unix:/run/x.sock"), "");
  EXPECT_EQ(address_of_peer(""), "");
}

}  // namespace
}  // namespace genkit::grpcd
