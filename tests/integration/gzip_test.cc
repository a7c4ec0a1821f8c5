// GZip through the real binary: a JSON body of at least GZIP_MIN_SIZE bytes
// is gzip-encoded when Accept-Encoding allows it (and then decompresses to
// the JSON), says Vary: Accept-Encoding either way; smaller bodies and SSE
// streams are never encoded.
#include <gtest/gtest.h>
#include <zlib.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

class GzipTest : public SharedServerTest<GzipTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"GZIP_MIN_SIZE", "500"}};
    return o;
  }
};

// The gzip member's content, or nullopt when it is not valid gzip.
std::optional<std::string> gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

bool has_vary(const HttpResponse& r, const std::string& field) {
  return (", " + r.header("vary").value_or("") + ",").find(" " + field + ",") != std::string::npos;
}

// /chat echoes the question: a 2000-character one makes a body well over 500 bytes.
const std::string kLongQuestion = [] {
  std::string q;
  while (q.size() < 2000) q += "How do pirates count their gold? ";
  return q;
}();

HttpResponse big_chat(int port, const Headers& headers) {
  return http_post(port, "/chat", json_with("question", kLongQuestion), headers);
}

TEST_F(GzipTest, LargeJsonIsGzippedWhenAccepted) {
  for (const char* accept : {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"}) {
    HttpResponse r = big_chat(port(), {{"Accept-Encoding", accept}});
    ASSERT_EQ(r.status, 200) << accept << ": " << r.reason;
    EXPECT_EQ(r.header("content-encoding").value_or("<none>"), "gzip") << accept;
    EXPECT_TRUE(has_vary(r, "Accept-Encoding")) << accept;
    EXPECT_EQ(r.header("content-length").value_or(""), std::to_string(r.body.size())) << "the compressed length";
    std::optional<std::string> plain = gunzip(r.body);
    ASSERT_TRUE(plain) << accept << ": not gzip";
    EXPECT_LT(r.body.size(), plain->size());
    genkit::Result<genkit::Json> j = genkit::Json::parse(*plain);
    ASSERT_TRUE(j.ok()) << *plain;
    EXPECT_NE(str(j->view()["answer"]).find(kLongQuestion), std::string::npos) << *plain;
    EXPECT_EQ(str(j->view()["persona"]), "pirate captain");
  }
}

TEST_F(GzipTest, NotEncodedUnlessAcceptedButStillVaries) {
  for (const Headers& h : {Headers{}, Headers{{"Accept-Encoding", "gzip;q=0"}}, Headers{{"Accept-Encoding", "br"}},
                           Headers{{"Accept-Encoding", "identity"}}, Headers{{"Accept-Encoding", "gzip;q=0, *"}}}) {
    std::string what = h.empty() ? "no Accept-Encoding" : h[0].second;
    HttpResponse r = big_chat(port(), h);
    ASSERT_EQ(r.status, 200) << what << ": " << r.reason;
    EXPECT_FALSE(r.has_header("content-encoding")) << what;
    EXPECT_TRUE(has_vary(r, "Accept-Encoding")) << what << ": caches must keep the forms apart";
    EXPECT_NE(str(json_of(r)["answer"]).find(kLongQuestion), std::string::npos) << what;
  }
}

TEST_F(GzipTest, SmallBodiesAreNeitherEncodedNorVaried) {
  for (const char* path : {"/health", "/no-such-route"}) {
    HttpResponse r = http_get(port(), path, {{"Accept-Encoding", "gzip"}});
    EXPECT_FALSE(r.has_header("content-encoding")) << path;
    EXPECT_FALSE(has_vary(r, "Accept-Encoding")) << path;
    EXPECT_TRUE(json_of(r).view().is_object()) << path << ": " << r.body;
  }
  HttpResponse joke = http_post(port(), "/tell-joke", "{}", {{"Accept-Encoding", "gzip"}});
  ASSERT_LT(joke.body.size(), 500u);
  EXPECT_FALSE(joke.has_header("content-encoding"));
}

TEST_F(GzipTest, StreamsAreNeverEncoded) {
  // A long topic: the story's events add up to far more than GZIP_MIN_SIZE.
  std::string topic(900, 't');
  SseResult sse = post_sse(port(), "/tell-story/stream", json_with("topic", topic), {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->status, 200);
  EXPECT_EQ(sse.head->header("content-type").value_or(""), "text/event-stream");
  EXPECT_FALSE(sse.head->has_header("content-encoding"));
  EXPECT_FALSE(has_vary(*sse.head, "Accept-Encoding"));
  EXPECT_TRUE(sse.ended);
  EXPECT_GT(sse.raw_body.size(), 500u);
  ASSERT_FALSE(sse.events.empty());
  EXPECT_EQ(sse.events.front().data.rfind("{\"chunk\"", 0), 0u) << "plain text events: " << sse.events.front().data;
}

}  // namespace
}  // namespace itest
