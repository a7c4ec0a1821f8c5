// HttpClient against servers on 127.0.0.1 that share the client's event
// loop, through both of its transports: every test runs once with an IP
// literal URL (the plain HTTP/1.1 transport) and once with "localhost"
// (libcurl). An evhttp server answers the ordinary cases; a bare TCP server
// scripts the awkward ones (closing, interim replies, garbage).
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
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/net/http1_transport.h"
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
  int port() const { return port_; }
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

// A bare TCP server: reads each request whole, answers with what the
// script returns for it, and closes the connection after it when told to.
class RawServer {
 public:
  struct Answer {
    std::string bytes;
    bool close_after = false;
  };
  using Script = std::function<Answer(const std::string& request)>;

  RawServer(event_base* base, Script script) : base_(base), script_(std::move(script)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(listen_fd_, 64), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_ev_ = event_new(base, listen_fd_, EV_READ | EV_PERSIST, &RawServer::on_accept, this);
    event_add(accept_ev_, nullptr);
  }
  ~RawServer() {
    for (auto& p : peers_) drop(*p);
    event_free(accept_ev_);
    close(listen_fd_);
  }
  int port() const { return port_; }

  int connections = 0;
  std::vector<std::string> requests;

 private:
  struct Peer {
    RawServer* server;
    int fd;
    event* ev;
    std::string in;
  };

  static void on_accept(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<RawServer*>(arg);
    int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK);
    if (c < 0) return;
    ++self->connections;
    auto peer = std::make_unique<Peer>(Peer{self, c, nullptr, {}});
    peer->ev = event_new(self->base_, c, EV_READ | EV_PERSIST, &RawServer::on_read, peer.get());
    event_add(peer->ev, nullptr);
    self->peers_.push_back(std::move(peer));
  }

  static void on_read(evutil_socket_t fd, short, void* arg) {
    auto* p = static_cast<Peer*>(arg);
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return drop(*p);
    p->in.append(buf, static_cast<std::size_t>(n));
    for (;;) {
      std::size_t head_end = p->in.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      std::size_t body = 0, at = p->in.find("Content-Length: ");
      if (at != std::string::npos && at < head_end) body = std::stoul(p->in.substr(at + 16));
      if (p->in.size() < head_end + 4 + body) return;
      std::string request = p->in.substr(0, head_end + 4 + body);
      p->in.erase(0, request.size());
      p->server->requests.push_back(request);
      Answer a = p->server->script_(request);
      EXPECT_EQ(send(fd, a.bytes.data(), a.bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(a.bytes.size()));
      if (a.close_after) return drop(*p);
    }
  }

  static void drop(Peer& p) {
    if (p.fd < 0) return;
    event_free(p.ev);
    close(p.fd);
    p.fd = -1;
  }

  event_base* base_;
  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  event* accept_ev_ = nullptr;
  std::vector<std::unique_ptr<Peer>> peers_;
};

enum class Path { kPlain, kCurl };
void PrintTo(Path p, std::ostream* os) { *os << (p == Path::kPlain ? "plain HTTP/1.1" : "libcurl"); }

class HttpClientTest : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    // libcurl would honour these; the test means to choose the path itself.
    for (const char* name : {"http_proxy", "all_proxy", "ALL_PROXY"}) unsetenv(name);
    base_ = event_base_new();
    loop_ = std::make_unique<Loop>(base_);
    server_ = std::make_unique<TestServer>(base_);
    client_ = std::make_unique<HttpClient>(*loop_);
    ASSERT_EQ(client_->takes_plain_path(url("/")), GetParam() == Path::kPlain);
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

  // The plain transport takes IP literals; libcurl takes host names.
  std::string origin(int port) const {
    return std::string(GetParam() == Path::kPlain ? "http://127.0.0.1:" : "http://localhost:") + std::to_string(port);
  }
  std::string url(std::string_view path) const { return origin(server_->port()) + std::string(path); }

  std::string closed_port_url() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);  // nothing listens on it any more
    return origin(ntohs(addr.sin_port)) + "/";
  }

  event_base* base_ = nullptr;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(HttpClientTest, GetRoundTrip) {
  HttpFetch f = get(url("/echo?x=1"));
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

TEST_P(HttpClientTest, PostRoundTrip) {
  HttpFetch f;
  f.url = url("/echo");
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

TEST_P(HttpClientTest, ReusedHandlesCarryNothingFromTheirLastRequest) {
  // Finished handles are reused without curl_easy_reset: a GET after a POST
  // must not resend the body or the headers, a POST after a GET must post,
  // and a buffered reply must not follow a streamed one.
  HttpFetch post;
  post.url = url("/echo");
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
  Result<HttpFetchResult> g = fetch(get(url("/echo")));
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

TEST_P(HttpClientTest, ErrorStatusIsAResultNotAFailure) {
  Result<HttpFetchResult> r = fetch(get(url("/nowhere")));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "not found");
}

TEST_P(HttpClientTest, OnDataReceivesTheBodyInPieces) {
  HttpFetch f = get(url("/chunked"));
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

TEST_P(HttpClientTest, OnDataReturningFalseAbortsWithUpstream) {
  HttpFetch f = get(url("/chunked"));
  int calls = 0;
  f.on_data = [&](std::string_view) { return ++calls < 1; };
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(run_until([&] { return server_->streams_finished == 1; }));
}

TEST_P(HttpClientTest, OversizedReplyIsUpstream) {
  HttpFetch f = get(url("/big"));
  f.max_response_bytes = 1000;
  Result<HttpFetchResult> r = fetch(std::move(f));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  HttpFetch fits = get(url("/big"));
  fits.max_response_bytes = 100000;
  Result<HttpFetchResult> ok = fetch(std::move(fits));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->body.size(), 100000u);
}

TEST_P(HttpClientTest, SilentServerTimesOut) {
  HttpFetch f = get(url("/hold"));
  f.timeout = milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  Result<HttpFetchResult> r = fetch(std::move(f));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().message();
  EXPECT_GE(elapsed, milliseconds(150));
  EXPECT_LT(elapsed, milliseconds(3000));
}

TEST_P(HttpClientTest, ConnectionRefusedIsUnavailable) {
  Result<HttpFetchResult> r = fetch(get(closed_port_url()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
}

TEST_P(HttpClientTest, CancelBeforeCompletion) {
  CancelToken cancel;
  bool done_called = false;
  client_->fetch(get(url("/hold")), cancel, [&](Result<HttpFetchResult>) { done_called = true; });
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

TEST_P(HttpClientTest, CancelAfterCompletionIsHarmless) {
  CancelToken cancel;
  ASSERT_TRUE(fetch(get(url("/echo")), cancel).ok());
  cancel.cancel();
  run_for(milliseconds(20));
  EXPECT_EQ(client_->in_flight(), 0u);
}

// A token may outlive the client: cancelling then must touch nothing.
TEST_P(HttpClientTest, CancelAfterTheClientIsDestroyed) {
  CancelToken cancel;
  client_->fetch(get(url("/hold")), cancel, [](Result<HttpFetchResult>) {});
  ASSERT_TRUE(run_until([&] { return server_->held == 1; }));
  client_.reset();
  cancel.cancel();  // must be a no-op
  run_for(milliseconds(20));
}

TEST_P(HttpClientTest, ManyConcurrentSlowRequestsDoNotBlockTheLoop) {
  constexpr int kRequests = 200;
  int completed = 0, ok = 0, ticks = 0;
  event* ticker = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* arg) { ++*static_cast<int*>(arg); },
                            &ticks);
  timeval tv{0, 10000};
  event_add(ticker, &tv);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequests; ++i) {
    client_->fetch(get(url("/slow?i=" + std::to_string(i))), CancelToken(), [&](Result<HttpFetchResult> r) {
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


// ---- connection handling, scripted by a bare server

RawServer::Answer ok_reply(std::string_view body, bool close_after = false) {
  return {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
              std::string(body),
          close_after};
}

TEST_P(HttpClientTest, ConnectionsAreReusedAcrossCalls) {
  RawServer raw(base_, [](const std::string&) { return ok_reply("hi"); });
  for (int i = 0; i < 3; ++i) {
    Result<HttpFetchResult> r = fetch(get(origin(raw.port()) + "/"));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->body, "hi");
  }
  EXPECT_EQ(raw.connections, 1);
  EXPECT_EQ(raw.requests.size(), 3u);
}

TEST_P(HttpClientTest, AConnectionTheServerClosedWhileIdleIsNotUsedAgain) {
  RawServer raw(base_, [](const std::string&) { return ok_reply("hi", /*close_after=*/true); });
  ASSERT_TRUE(fetch(get(origin(raw.port()) + "/")).ok());
  run_for(milliseconds(50));  // the close reaches the idle connection
  Result<HttpFetchResult> r = fetch(get(origin(raw.port()) + "/"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(raw.connections, 2);
}

TEST_P(HttpClientTest, ACallOnAConnectionClosedUnderItIsRetriedOnce) {
  // The second call starts in the first one's callback, before the loop has
  // seen the server's close: it is sent on the dead connection, finds it
  // closed with no reply, and goes again on a fresh one.
  RawServer raw(base_, [](const std::string&) { return ok_reply("hi", /*close_after=*/true); });
  std::optional<Result<HttpFetchResult>> second;
  client_->fetch(get(origin(raw.port()) + "/1"), CancelToken(), [&](Result<HttpFetchResult> first) {
    EXPECT_TRUE(first.ok()) << first.status().message();
    client_->fetch(get(origin(raw.port()) + "/2"), CancelToken(),
                   [&](Result<HttpFetchResult> r) { second.emplace(std::move(r)); });
  });
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  ASSERT_TRUE(second->ok()) << second->status().message();
  EXPECT_EQ((*second)->body, "hi");
  EXPECT_EQ(raw.connections, 2);
}

TEST_P(HttpClientTest, AReplyWithoutALengthEndsWithTheConnection) {
  RawServer raw(base_, [](const std::string&) {
    return RawServer::Answer{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nto the end", true};
  });
  Result<HttpFetchResult> r = fetch(get(origin(raw.port()) + "/"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "to the end");
  EXPECT_TRUE(fetch(get(origin(raw.port()) + "/")).ok()) << "a closed connection is not reused";
  EXPECT_EQ(raw.connections, 2);
}

TEST_P(HttpClientTest, InterimRepliesAreSkipped) {
  RawServer raw(base_, [](const std::string&) {
    return RawServer::Answer{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\n\r\n{}"};
  });
  Result<HttpFetchResult> r = fetch(get(origin(raw.port()) + "/"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->body, "{}");
}

TEST_P(HttpClientTest, AReplyThatIsNotHttpIsUnavailable) {
  RawServer raw(base_, [](const std::string&) { return RawServer::Answer{"SSH-2.0-OpenSSH\r\n\r\n", true}; });
  Result<HttpFetchResult> r = fetch(get(origin(raw.port()) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
}

TEST_P(HttpClientTest, AConnectionClosedMidReplyIsUnavailable) {
  RawServer raw(base_, [](const std::string&) {
    return RawServer::Answer{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", true};
  });
  Result<HttpFetchResult> r = fetch(get(origin(raw.port()) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
}

TEST_P(HttpClientTest, TheRequestCarriesHostLengthAndTheCallersHeaders) {
  RawServer raw(base_, [](const std::string&) { return ok_reply("ok"); });
  HttpFetch f;
  f.url = origin(raw.port()) + "/v1/x?y=1";
  f.headers = {{"Content-Type", "application/json"}, {"x-goog-api-key", "k"}};
  f.body = "{\"a\":1}";
  f.timeout = milliseconds(5000);
  ASSERT_TRUE(fetch(std::move(f)).ok());
  ASSERT_EQ(raw.requests.size(), 1u);
  const std::string& req = raw.requests[0];
  EXPECT_EQ(req.rfind("POST /v1/x?y=1 HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("\r\nHost: "), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nContent-Length: 7\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nx-goog-api-key: k\r\n"), std::string::npos) << req;
  EXPECT_EQ(req.substr(req.size() - 7), "{\"a\":1}");
}

INSTANTIATE_TEST_SUITE_P(BothPaths, HttpClientTest, ::testing::Values(Path::kPlain, Path::kCurl),
                         [](const ::testing::TestParamInfo<Path>& p) {
                           return p.param == Path::kPlain ? "PlainHttp1" : "Curl";
                         });

// The plain transport on its own, for what HttpClient does not show: its pool.
class Http1TransportTest : public ::testing::Test {
 protected:
  ~Http1TransportTest() override {
    transport_.reset();
    raw_.reset();
    event_base_free(base_);
  }
  void serve(RawServer::Script script, milliseconds max_idle_age = std::chrono::seconds(118)) {
    raw_ = std::make_unique<RawServer>(base_, std::move(script));
    transport_ = std::make_unique<Http1Transport>(loop_, max_idle_age);
  }
  bool run_until(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred() && std::chrono::steady_clock::now() < deadline) event_base_loop(base_, EVLOOP_ONCE);
    return pred();
  }
  void call() {
    std::optional<PlainHttpTarget> target = plain_http_target("http://127.0.0.1:" + std::to_string(raw_->port()) + "/");
    ASSERT_TRUE(target.has_value());
    bool done = false;
    HttpFetch f;
    f.method = "GET";
    transport_->start(*target, f, CancelToken(), [&](Result<HttpFetchResult> r) {
      EXPECT_TRUE(r.ok()) << r.status().message();
      done = true;
    });
    EXPECT_TRUE(run_until([&] { return done; }));
  }

  event_base* base_ = event_base_new();
  Loop loop_{base_};
  std::unique_ptr<RawServer> raw_;
  std::unique_ptr<Http1Transport> transport_;
};

TEST_F(Http1TransportTest, DropsAnIdleConnectionAsSoonAsTheServerClosesIt) {
  serve([](const std::string&) { return ok_reply("hi", /*close_after=*/true); });
  call();
  EXPECT_TRUE(run_until([&] { return transport_->idle_connections() == 0; }))
      << "the closed connection stayed in the pool";
  EXPECT_EQ(transport_->in_flight(), 0u);
}

TEST_F(Http1TransportTest, AConnectionIdleTooLongIsNotUsedAgain) {
  serve([](const std::string&) { return ok_reply("hi"); }, milliseconds(100));  // the server keeps connections
  call();
  call();
  EXPECT_EQ(raw_->connections, 1) << "a fresh idle connection is reused";
  std::this_thread::sleep_for(milliseconds(200));
  call();
  EXPECT_EQ(raw_->connections, 2) << "the connection idle past its age was used again";
  EXPECT_EQ(transport_->idle_connections(), 1u);
}

// ---- which URLs the plain transport takes

TEST(PlainHttpTarget, TakesHttpToAnIpLiteral) {
  std::optional<PlainHttpTarget> t = plain_http_target("http://127.0.0.1:8080/v1beta/models/x:generateContent?alt=sse");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->authority, "127.0.0.1:8080");
  EXPECT_EQ(t->path, "/v1beta/models/x:generateContent?alt=sse");
  EXPECT_EQ(t->address.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&t->address)->sin_port), 8080);

  std::optional<PlainHttpTarget> v6 = plain_http_target("HTTP://[::1]");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->authority, "[::1]");
  EXPECT_EQ(v6->path, "/");
  EXPECT_EQ(v6->address.ss_family, AF_INET6);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in6*>(&v6->address)->sin6_port), 80);

  std::optional<PlainHttpTarget> query = plain_http_target("http://10.0.0.2:11434?x=1");
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->path, "/?x=1");
}

TEST(PlainHttpTarget, LeavesEverythingElseToLibcurl) {
  for (const char* url : {"https://127.0.0.1/", "http://localhost:8080/", "http://api.example/v1",
                          "http://user:pw@127.0.0.1/", "http://127.0.0.1/a#frag", "http://127.0.0.1:0/",
                          "http://127.0.0.1:65536/", "http://127.0.0.1:/", "http://127.1/", "http://[::1/",
                          "http://[fe80::1%25eth0]/", "http://127.0.0.1/a b", "http://", "ftp://127.0.0.1/"}) {
    EXPECT_FALSE(plain_http_target(url).has_value()) << url;
  }
}

TEST(PlainHttpTarget, AConfiguredProxySendsEveryCallThroughLibcurl) {
  event_base* base = event_base_new();
  Loop loop(base);
  setenv("http_proxy", "http://127.0.0.1:9", 1);
  {
    HttpClient proxied(loop);
    EXPECT_FALSE(proxied.takes_plain_path("http://127.0.0.1:8080/"));
  }
  unsetenv("http_proxy");
  {
    HttpClient direct(loop);
    EXPECT_TRUE(direct.takes_plain_path("http://127.0.0.1:8080/"));
  }
  event_base_free(base);
}

}  // namespace
}  // namespace genkit
