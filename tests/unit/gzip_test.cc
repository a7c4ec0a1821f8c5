// GZip's pure parts: Accept-Encoding (q-values, *, x-gzip) and which content
// types are worth compressing (never an event stream).
#include "worker/middleware/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace genkit::http {
namespace {

bool accepts(const char* accept_encoding) {
  Request req;
  if (accept_encoding) req.headers.push_back({"accept-encoding", accept_encoding});
  return accepts_gzip(req);
}

TEST(AcceptsGzip, NamedOrStarWithPositiveQ) {
  EXPECT_TRUE(accepts("gzip"));
  EXPECT_TRUE(accepts("GZIP"));
  EXPECT_TRUE(accepts("gzip, deflate, br"));
  EXPECT_TRUE(accepts("br;q=1.0, gzip;q=0.5"));
  EXPECT_TRUE(accepts(" deflate ,  gzip ; q=0.001 "));
  EXPECT_TRUE(accepts("x-gzip"));
  EXPECT_TRUE(accepts("*"));
  EXPECT_TRUE(accepts("br, *;q=0.1"));
}

TEST(AcceptsGzip, AbsentRefusedOrOtherCodings) {
  EXPECT_FALSE(accepts(nullptr));
  EXPECT_FALSE(accepts(""));
  EXPECT_FALSE(accepts("identity"));
  EXPECT_FALSE(accepts("deflate, br"));
  EXPECT_FALSE(accepts("gzip;q=0"));
  EXPECT_FALSE(accepts("gzip;q=0.0"));
  EXPECT_FALSE(accepts("*;q=0"));
  EXPECT_FALSE(accepts("gzip;q=0, *")) << "an explicit gzip;q=0 beats *";
  EXPECT_FALSE(accepts("gzip;q=abc")) << "an unreadable q is 0";
  EXPECT_FALSE(accepts("gzipx, xgzip"));
}

TEST(Compressible, TextTypesButNotEventStreams) {
  for (const char* yes : {"application/json", "Application/JSON; charset=utf-8", "text/plain", "text/html; charset=utf-8",
                          "application/javascript", "image/svg+xml"}) {
    EXPECT_TRUE(compressible(yes)) << yes;
  }
  for (const char* no : {"text/event-stream", "Text/Event-Stream; charset=utf-8", "image/png", "application/octet-stream",
                         "application/grpc", ""}) {
    EXPECT_FALSE(compressible(no)) << no;
  }
}

TEST(GzipBody, RoundTripsThroughZlib) {
  std::string body(5000, 'a');
  for (std::size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('a' + i % 26);
  std::optional<std::string> z = gzip_body(body);
  ASSERT_TRUE(z);
  EXPECT_LT(z->size(), body.size());
  z_stream s{};
  ASSERT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  std::string out(body.size() + 16, '\0');
  s.next_in = reinterpret_cast<Bytef*>(z->data());
  s.avail_in = static_cast<uInt>(z->size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  EXPECT_EQ(out, body);
}

}  // namespace
}  // namespace genkit::http
