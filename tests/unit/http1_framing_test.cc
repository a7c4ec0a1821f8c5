// Which request heads have one plain reading of their framing
// (worker/http1_framing.h, RFC 9112 §3.2 and §6).
#include "worker/http1_framing.h"

#include <gtest/gtest.h>

namespace genkit::http {
namespace {

Request with(std::vector<Header> headers) {
  Request r;
  r.headers = std::move(headers);
  return r;
}

TEST(Http1Framing, OnePlainReadingPasses) {
  EXPECT_FALSE(framing_refusal(with({{"host", "a"}}), 1, 1));
  EXPECT_FALSE(framing_refusal(with({{"host", "a"}, {"transfer-encoding", "Chunked "}}), 1, 1));
  EXPECT_FALSE(framing_refusal(with({{"host", "a"}, {"content-length", "2"}}), 1, 1));
  EXPECT_FALSE(framing_refusal(with({}), 1, 0)) << "HTTP/1.0 needs no Host";
}

TEST(Http1Framing, EverythingElseIsRefused) {
  struct Case { std::vector<Header> headers; int minor; int status; };
  const std::vector<Case> cases = {
      {{{"host", "a"}, {"transfer-encoding", "chunked"}, {"content-length", "2"}}, 1, 400},
      {{{"host", "a"}, {"transfer-encoding", "chunked"}}, 0, 400},
      {{{"host", "a"}, {"transfer-encoding", "chunked, gzip"}}, 1, 400},
      {{{"host", "a"}, {"transfer-encoding", "xchunked"}}, 1, 400},
      {{{"host", "a"}, {"transfer-encoding", ""}}, 1, 400},
      {{{"host", "a"}, {"transfer-encoding", "chunked"}, {"transfer-encoding", "chunked"}}, 1, 400},
      {{{"host", "a"}, {"transfer-encoding", "gzip, chunked"}}, 1, 501},
      {{{"host", "a"}, {"transfer-encoding", "gzip"}, {"transfer-encoding", "chunked"}}, 1, 501},
      {{}, 1, 400},
      {{{"host", "a"}, {"host", "b"}}, 1, 400},
  };
  for (const Case& c : cases) {
    std::optional<Refusal> r = framing_refusal(with(c.headers), 1, c.minor);
    ASSERT_TRUE(r) << c.headers.size() << " fields, HTTP/1." << c.minor;
    EXPECT_EQ(r->status, c.status) << r->detail;
    EXPECT_FALSE(r->detail.empty());
  }
}

}  // namespace
}  // namespace genkit::http
