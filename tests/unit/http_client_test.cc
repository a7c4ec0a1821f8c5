// HttpClient (libcurl multi on libevent) against an evhttp server on
// 127.0.0.1 that shares the client's event loop.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/http_client.h"

namespace genkit {
namespace {

using std::chrono::milliseconds;

struct Seen {
  std::string method, uri, content_type, x_test, body;
};

class TestServer {
 public:
  using Handler = std::function<void(evhttp_request*)>;

  explicit TestServer(event_base* base) : base_(base), http_(evhttp_new(base)) {
    evhttp_set_gencb(http_, &TestServer::on_request, this);
    // Our own listener: evhttp's default backlog (128) would drop SYNs of a 200-connection burst.
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(fd, 1024), 0);
    EXPECT_NE(evhttp_accept_socket_with_handle(http_, fd), nullptr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~TestServer() {
    for (event* w : watchers_) event_free(w);
    for (auto& l : later_) event_free(l->ev);
    evhttp_free(http_);  // also frees held requests and their connections
  }
  std::string url(std::string_view path) const { return "http://127.0.0.1:" + std::to_string(port_) + std::string(path); }
  void route(const std::string& path, Handler h) { routes_[path] = std::move(h); }

  static void reply(evhttp_request* req, int code, const char* type, std::string_view body) {
    evbuffer* out = evbuffer_new();
    evbuffer_add(out, body.data(), body.size());
    if (type) evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, "X", out);
    evbuffer_free(out);
  }
  // Answers from a timer after `delay`.
  void reply_later(evhttp_request* req, milliseconds delay, std::string body) { start_later(req, delay, {body}, false); }
  // Sends each piece as its own chunk, `gap` apart, then ends the reply.
  void stream(evhttp_request* req, milliseconds gap, std::vector<std::string> pieces) {
    evhttp_send_reply_start(req, 200, "OK");
    start_later(req, gap, std::move(pieces), true);
  }
  // Never answers; counts the connection as closed when the client drops it.
  void hold(evhttp_request* req) {
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)));
    event* w = event_new(base_, fd, EV_READ, &TestServer::on_readable, this);
    event_add(w, nullptr);
    watchers_.push_back(w);
    ++held;
  }

  std::vector<Seen> seen;
  int held = 0, closed = 0, answered_later = 0, streams_finished = 0;

 private:
  struct Later {
    TestServer* server;
    evhttp_request* req;
    event* ev = nullptr;
    std::vector<std::string> pieces;
    std::size_t next = 0;
    bool chunked = false;
    timeval gap{};
  };

  void start_later(evhttp_request* req, milliseconds delay, std::vector<std::string> pieces, bool chunked) {
    auto l = std::make_unique<Later>(Later{this, req, nullptr, std::move(pieces), 0, chunked, {}});
    l->gap = timeval{static_cast<time_t>(delay.count() / 1000), static_cast<suseconds_t>(delay.count() % 1000 * 1000)};
    l->ev = evtimer_new(base_, &TestServer::on_later, l.get());
    evtimer_add(l->ev, &l->gap);
    later_.push_back(std::move(l));
  }

  static void on_later(evutil_socket_t, short, void* arg) {
    auto* l = static_cast<Later*>(arg);
    if (!l->chunked) {
      reply(l->req, 200, "text/plain", l->pieces[0]);
      ++l->server->answered_later;
    } else if (l->next < l->pieces.size()) {
      evbuffer* b = evbuffer_new();
      evbuffer_add(b, l->pieces[l->next].data(), l->pieces[l->next].size());
      evhttp_send_reply_chunk(l->req, b);  // a no-op once the client has gone
      evbuffer_free(b);
      ++l->next;
      evtimer_add(l->ev, &l->gap);
    } else {
      evhttp_send_reply_end(l->req);  // frees the request if the client has gone
      ++l->server->streams_finished;
    }
  }

  static void on_readable(evutil_socket_t fd, short, void* arg) {
    char c;
    if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) ++static_cast<TestServer*>(arg)->closed;
  }

  static void on_request(evhttp_request* req, void* arg) {
    auto* self = static_cast<TestServer*>(arg);
    Seen s;
    evhttp_cmd_type cmd = evhttp_request_get_command(req);
    s.method = cmd == EVHTTP_REQ_GET ? "GET" : cmd == EVHTTP_REQ_POST ? "POST" : "OTHER";
    s.uri = evhttp_request_get_uri(req);
    for (auto [name, field] : {std::pair{"Content-Type", &s.content_type}, std::pair{"X-Test", &s.x_test}}) {
      const char* v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
      *field = v ? v : "";
    }
    evbuffer* in = evhttp_request_get_input_buffer(req);
    s.body.resize(evbuffer_get_length(in));
    evbuffer_copyout(in, s.body.data(), s.body.size());
    self->seen.push_back(s);
    auto it = self->routes_.find(s.uri.substr(0, s.uri.find('?')));
    if (it == self->routes_.end()) return reply(req, 404, "text/plain", "not found");
    it->second(req);
  }

  event_base* base_;
  evhttp* http_;
  int port_ = 0;
  std::map<std::string, Handler> routes_;
  std::vector<event*> watchers_;
  std::vector<std::unique_ptr<Later>> later_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    loop_ = std::make_unique<Loop>(base_);
    server_ = std::make_unique<TestServer>(base_);
    client_ = std::make_unique<HttpClient>(*loop_);
    TestServer* s = server_.get();
    s->route("/echo", [s](evhttp_request* req) {
      const Seen& r = s->seen.back();
      TestServer::reply(req, r.method == "POST" ? 201 : 200, "text/plain; charset=utf-8", r.method + ":" + r.body);
    });
    s->route("/chunked", [s](evhttp_request* req) { s->stream(req, milliseconds(30), {"alpha", "beta", "gamma", "delta"}); });
    s->route("/big", [](evhttp_request* req) { TestServer::reply(req, 200, "text/plain", std::string(100000, 'x')); });
    s->route("/hold", [s](evhttp_request* req) { s->hold(req); });
    s->route("/slow", [s](evhttp_request* req) { s->reply_later(req, milliseconds(200), "slow"); });
  }
  void TearDown() override {
    client_.reset();  // before the base its events live on
    server_.reset();
    event_base_free(base_);
  }

  bool run_until(const std::function<bool()>& pred, milliseconds limit = milliseconds(10000)) {
    event* tick = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
    timeval tv{0, 5000};
    event_add(tick, &tv);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) event_base_loop(base_, EVLOOP_ONCE);
    event_free(tick);
    return pred();
  }
  void run_for(milliseconds d) { run_until([] { return false; }, d); }

  Result<HttpFetchResult> fetch(HttpFetch f, CancelToken cancel = {}) {
    std::optional<Result<HttpFetchResult>> out;
    client_->fetch(std::move(f), cancel, [&](Result<HttpFetchResult> r) { out.emplace(std::move(r)); });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out ? std::move(*out) : Result<HttpFetchResult>(Status(Code::kInternal, "no reply in time"));
  }

  static HttpFetch get(std::string url) {
    HttpFetch f;
    f.method = "GET";
    f.url = std::move(url);
    f.timeout = milliseconds(5000);
    return f;
  }

  static std::string closed_port_url() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);  // nothing listens on it any more
    return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  }

  event_base* base_ = nullptr;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(HttpClientTest, GetRoundTrip) {
  HttpFetch f = get(server_->url("/echo?x=1"));
  f.headers = {{"X-Test", "abc"}};
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET:");
  EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");
  ASSERT_EQ(server_->seen.size(), 1u);
  EXPECT_EQ(server_->seen[0].method, "GET");
  EXPECT_EQ(server_->seen[0].uri, "/echo?x=1");
  EXPECT_EQ(server_->seen[0].x_test, "abc");
  EXPECT_EQ(client_->in_flight(), 0u);
}

TEST_F(HttpClientTest, PostRoundTrip) {
  HttpFetch f;
  f.url = server_->url("/echo");
  f.headers = {{"Content-Type", "application/json"}, {"X-Test", "post"}};
  f.body = R"({"hello":"world"})";
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"(POST:{"hello":"world"})");
  ASSERT_EQ(server_->seen.size(), 1u);
  EXPECT_EQ(server_->seen[0].method, "POST");
  EXPECT_EQ(server_->seen[0].content_type, "application/json");
  EXPECT_EQ(server_->seen[0].x_test, "post");
  EXPECT_EQ(server_->seen[0].body, R"({"hello":"world"})");
}

TEST_F(HttpClientTest, ReusedHandlesCarryNothingFromTheirLastRequest) {
  // Finished handles are reused without curl_easy_reset: a GET after a POST
  // must not resend the body or the headers, a POST after a GET must post,
  // and a buffered reply must not follow a streamed one.
  HttpFetch post;
  post.url = server_->url("/echo");
  post.headers = {{"X-Test", "first"}};
  post.body = "payload";
  post.timeout = milliseconds(5000);
  std::string streamed;
  post.on_data = [&](std::string_view d) {
    streamed.append(d);
    return true;
  };
  ASSERT_TRUE(fetch(post).ok());
  EXPECT_EQ(streamed, "POST:payload");
  Result<HttpFetchResult> g = fetch(get(server_->url("/echo")));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->body, "GET:");
  post.on_data = nullptr;
  post.headers = {};
  post.body = "again";
  Result<HttpFetchResult> p2 = fetch(post);
  ASSERT_TRUE(p2.ok()) << p2.status().message();
  EXPECT_EQ(p2->body, "POST:again");
  ASSERT_EQ(server_->seen.size(), 3u);
  EXPECT_EQ(server_->seen[1].method, "GET");
  EXPECT_EQ(server_->seen[1].body, "");
  EXPECT_EQ(server_->seen[1].x_test, "") << "headers of the previous request leaked into the next";
  EXPECT_EQ(server_->seen[2].method, "POST");
  EXPECT_EQ(server_->seen[2].x_test, "");
}

TEST_F(HttpClientTest, ErrorStatusIsAResultNotAFailure) {
  Result<HttpFetchResult> r = fetch(get(server_->url("/nowhere")));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "not found");
}

TEST_F(HttpClientTest, OnDataReceivesTheBodyInPieces) {
  HttpFetch f = get(server_->url("/chunked"));
  std::vector<std::string> pieces;
  f.on_data = [&](std::string_view d) {
    pieces.emplace_back(d);
    return true;
  };
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty()) << "on_data consumes the body";
  EXPECT_GE(pieces.size(), 2u);
  std::string all;
  for (const std::string& p : pieces) all += p;
  EXPECT_EQ(all, "alphabetagammadelta");
}

TEST_F(HttpClientTest, OnDataReturningFalseAbortsWithUpstream) {
  HttpFetch f = get(server_->url("/chunked"));
  int calls = 0;
  f.on_data = [&](std::string_view) { return ++calls < 1; };
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(run_until([&] { return server_->streams_finished == 1; }));
}

TEST_F(HttpClientTest, OversizedReplyIsUpstream) {
  HttpFetch f = get(server_->url("/big"));
  f.max_response_bytes = 1000;
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  HttpFetch fits = get(server_->url("/big"));
  fits.max_response_bytes = 100000;
  Result<HttpFetchResult> ok = fetch(std::move(fits));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->body.size(), 100000u);
}

TEST_F(HttpClientTest, SilentServerTimesOut) {
  HttpFetch f = get(server_->url("/hold"));
  f.timeout = milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  Result<HttpFetchResult> r = fetch(std::move(f));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().message();
  EXPECT_GE(elapsed, milliseconds(150));
  EXPECT_LT(elapsed, milliseconds(3000));
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  Result<HttpFetchResult> r = fetch(get(closed_port_url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
}

TEST_F(HttpClientTest, CancelBeforeCompletion) {
  CancelToken cancel;
  bool done_called = false;
  client_->fetch(get(server_->url("/hold")), cancel, [&](Result<HttpFetchResult>) { done_called = true; });
  ASSERT_TRUE(run_until([&] { return server_->held == 1; }));
  EXPECT_EQ(client_->in_flight(), 1u);
  cancel.cancel();
  EXPECT_TRUE(run_until([&] { return server_->closed == 1; }, milliseconds(3000))) << "the server saw no close";
  run_for(milliseconds(100));
  EXPECT_FALSE(done_called);
  EXPECT_EQ(client_->in_flight(), 0u);
  cancel.cancel();  // a second cancel is harmless
  run_for(milliseconds(20));
  EXPECT_FALSE(done_called);
}

TEST_F(HttpClientTest, CancelAfterCompletionIsHarmless) {
  CancelToken cancel;
  ASSERT_TRUE(fetch(get(server_->url("/echo")), cancel).ok());
  cancel.cancel();
  run_for(milliseconds(20));
  EXPECT_EQ(client_->in_flight(), 0u);
}

// Disabled: crashes today (heap-use-after-free in the on_cancel callback,
// which captures the destroyed Impl). A token may outlive the client.
TEST_F(HttpClientTest, CancelAfterTheClientIsDestroyed) {
  CancelToken cancel;
  client_->fetch(get(server_->url("/hold")), cancel, [](Result<HttpFetchResult>) {});
  ASSERT_TRUE(run_until([&] { return server_->held == 1; }));
  client_.reset();
  cancel.cancel();  // must be a no-op
  run_for(milliseconds(20));
}

TEST_F(HttpClientTest, ManyConcurrentSlowRequestsDoNotBlockTheLoop) {
  constexpr int kRequests = 200;
  int completed = 0, ok = 0, ticks = 0;
  event* ticker = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* arg) { ++*static_cast<int*>(arg); },
                            &ticks);
  timeval tv{0, 10000};
  event_add(ticker, &tv);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequests; ++i) {
    client_->fetch(get(server_->url("/slow?i=" + std::to_string(i))), CancelToken(), [&](Result<HttpFetchResult> r) {
      ++completed;
      if (r.ok() && r->status == 200 && r->body == "slow") ++ok;
    });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000)) << "fetch() must not block";
  bool all = run_until([&] { return completed == kRequests; }, milliseconds(20000));
  auto elapsed = std::chrono::steady_clock::now() - start;
  event_free(ticker);
  ASSERT_TRUE(all) << completed << " of " << kRequests << " completed";
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(server_->answered_later, kRequests);
  EXPECT_LT(elapsed, milliseconds(5000));
  EXPECT_GE(ticks, 10) << "the loop kept ticking while the requests were pending";
}

}  // namespace
}  // namespace genkit
