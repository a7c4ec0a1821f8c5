// resolve_media (common/models/upstream.h): data: URLs decoded in place,
// http URLs fetched with the HttpClient from an evhttp server on 127.0.0.1.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/models/upstream.h"
#include "common/net/http_client.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

using std::chrono::milliseconds;

// Serves fixed bodies by path: {content type, bytes}; anything else is a 404.
class MediaServer {
 public:
  explicit MediaServer(event_base* base) : http_(evhttp_new(base)) {
    evhttp_set_gencb(http_, &MediaServer::on_request, this);
    port_ = testing_json::bind_loopback(http_);
    files_["/png"] = {"image/png", std::string("\x89PNG\r\n\x1a\n\0\x01", 10)};
    files_["/html"] = {"text/html; charset=utf-8", "<p>hi</p>"};
    files_["/zip"] = {"application/zip", "PK\x03\x04"};
    files_["/octet"] = {"application/octet-stream", "RIFF"};
  }
  ~MediaServer() { evhttp_free(http_); }
  std::string url(std::string_view path) const { return "http://127.0.0.1:" + std::to_string(port_) + std::string(path); }

 private:
  static void on_request(evhttp_request* req, void* arg) {
    auto* self = static_cast<MediaServer*>(arg);
    auto it = self->files_.find(evhttp_request_get_uri(req));
    const std::pair<std::string, std::string> missing{"text/plain", "not found"};
    const auto& [type, bytes] = it == self->files_.end() ? missing : it->second;
    evbuffer* out = evbuffer_new();
    evbuffer_add(out, bytes.data(), bytes.size());
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type.c_str());
    evhttp_send_reply(req, it == self->files_.end() ? 404 : 200, "X", out);
    evbuffer_free(out);
  }

  evhttp* http_;
  int port_ = 0;
  std::map<std::string, std::pair<std::string, std::string>> files_;
};

class HttpClientMedia : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    loop_ = std::make_unique<Loop>(base_);
    server_ = std::make_unique<MediaServer>(base_);
    client_ = std::make_unique<HttpClient>(*loop_);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    event_base_free(base_);
  }

  bool run_until(const std::function<bool()>& pred) {
    event* tick = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
    timeval tv{0, 5000};
    event_add(tick, &tv);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred() && std::chrono::steady_clock::now() < deadline) event_base_loop(base_, EVLOOP_ONCE);
    event_free(tick);
    return pred();
  }

  Result<InlineMedia> resolve(const std::string& url, const std::string& declared = "") {
    std::optional<Result<InlineMedia>> out;
    resolve_media(*client_, url, declared, milliseconds(5000), CancelToken(),
                  [&](Result<InlineMedia> r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out ? std::move(*out) : Result<InlineMedia>(Status(Code::kInternal, "no result in time"));
  }

  event_base* base_ = nullptr;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<MediaServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(HttpClientMedia, DataUrlDecodes) {
  Result<InlineMedia> r = resolve("data:image/png;base64,iVBORw0KGgoAAQ==", "image/jpeg");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mime_type, "image/png") << "the type comes from the URL";
  EXPECT_EQ(r->base64, "iVBORw0KGgoAAQ==");
}

TEST_F(HttpClientMedia, BadDataUrlsAreInvalid) {
  for (const char* url : {"data:image/png,rawbytes", "data:application/zip;base64,UEsDBA==", "ftp://x/y.png"}) {
    Result<InlineMedia> r = resolve(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << url;
  }
}

TEST_F(HttpClientMedia, HttpImageIsFetchedAndEncoded) {
  Result<InlineMedia> r = resolve(server_->url("/png"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mime_type, "image/png");
  EXPECT_EQ(r->base64, "iVBORw0KGgoAAQ==");
}

TEST_F(HttpClientMedia, TextTypesAreAllowed) {
  Result<InlineMedia> r = resolve(server_->url("/html"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mime_type, "text/html");
  EXPECT_EQ(r->base64, "PHA+aGk8L3A+");
}

TEST_F(HttpClientMedia, OctetStreamFallsBackToTheDeclaredType) {
  Result<InlineMedia> r = resolve(server_->url("/octet"), "audio/wav");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mime_type, "audio/wav");
  EXPECT_EQ(r->base64, "UklGRg==");
}

TEST_F(HttpClientMedia, UnsupportedTypeOrHttpErrorIsInvalid) {
  for (const char* path : {"/zip", "/missing.png"}) {
    Result<InlineMedia> r = resolve(server_->url(path));
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << path;
  }
  EXPECT_NE(resolve(server_->url("/missing.png")).status().message().find("404"), std::string::npos);
}

}  // namespace
}  // namespace genkit
