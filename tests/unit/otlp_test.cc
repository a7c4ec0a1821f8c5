// OTLP/HTTP JSON export: the request body shape, W3C traceparent parsing,
// and the exporter end to end against a collector on 127.0.0.1.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net/http_client.h"
#include "common/telemetry/otlp_exporter.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

constexpr char kTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kRootId[] = "00f067aa0ba902b7";
constexpr char kChildId[] = "b7ad6b7169203331";

Span make_span(std::string name, std::string span_id = kRootId, std::string parent = "") {
  Span s;
  s.trace_id = kTrace;
  s.span_id = std::move(span_id);
  s.parent_span_id = std::move(parent);
  s.name = std::move(name);
  s.type = "action";
  s.subtype = "flow";
  s.path = "/{" + s.name + ",t:flow}";
  s.start_ms = 1700000000000.0;
  s.end_ms = 1700000000256.0;  // exact in double nanos
  return s;
}

bool is_lower_hex(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

JsonView attr(JsonView span, std::string_view key) {
  JsonView found;
  span["attributes"].for_each([&](std::string_view, JsonView a) {
    if (a["key"].as_string() == key) found = a["value"];
  });
  return found;
}

TEST(OtlpBody, ResourceAndScope) {
  std::deque<Span> spans = {make_span("flow")};
  Json body = otlp_request_body(spans, 1, "my-service");
  ASSERT_EQ(body["resourceSpans"].size(), 1u);
  JsonView rs = body["resourceSpans"].at(0);
  JsonView res_attrs = rs["resource"]["attributes"];
  ASSERT_EQ(res_attrs.size(), 1u);
  EXPECT_EQ(res_attrs.at(0)["key"].as_string(), "service.name");
  EXPECT_EQ(res_attrs.at(0)["value"]["stringValue"].as_string(), "my-service");
  ASSERT_EQ(rs["scopeSpans"].size(), 1u);
  EXPECT_EQ(rs["scopeSpans"].at(0)["scope"]["name"].as_string(), "genkit-tracer");
  EXPECT_EQ(rs["scopeSpans"].at(0)["spans"].size(), 1u);
}

TEST(OtlpBody, RootAndChildSpans) {
  Span root = make_span("tell_joke");
  root.input = R"({"subject":"cats"})";
  root.output = R"("a joke")";
  Span child = make_span("mock/echo", kChildId, kRootId);
  child.type = "action";
  child.subtype = "model";
  child.path = "/{tell_joke,t:flow}/{mock/echo,t:action,s:model}";
  child.ok = false;
  child.error = "the model failed";
  child.start_ms = 1000.5;
  child.end_ms = 2000.25;
  std::deque<Span> spans = {root, child};
  Json body = otlp_request_body(spans, 2, "svc");
  JsonView list = body["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"];
  ASSERT_EQ(list.size(), 2u);

  JsonView r = list.at(0);
  EXPECT_TRUE(is_lower_hex(r["traceId"].as_string(), 32));
  EXPECT_EQ(r["traceId"].as_string(), kTrace);
  EXPECT_TRUE(is_lower_hex(r["spanId"].as_string(), 16));
  EXPECT_TRUE(!r["parentSpanId"].present() || r["parentSpanId"].as_string().empty());
  EXPECT_EQ(r["name"].as_string(), "tell_joke");
  EXPECT_EQ(r["kind"].as_number(), 1);
  ASSERT_TRUE(r["startTimeUnixNano"].is_string());
  EXPECT_EQ(r["startTimeUnixNano"].as_string(), "1700000000000000000");
  EXPECT_EQ(r["endTimeUnixNano"].as_string(), "1700000000256000000");
  EXPECT_EQ(attr(r, "genkit:type")["stringValue"].as_string(), "action");
  EXPECT_EQ(attr(r, "genkit:metadata:subtype")["stringValue"].as_string(), "flow");
  EXPECT_EQ(attr(r, "genkit:name")["stringValue"].as_string(), "tell_joke");
  EXPECT_EQ(attr(r, "genkit:path")["stringValue"].as_string(), "/{tell_joke,t:flow}");
  EXPECT_EQ(attr(r, "genkit:input")["stringValue"].as_string(), R"({"subject":"cats"})");
  EXPECT_EQ(attr(r, "genkit:output")["stringValue"].as_string(), R"("a joke")");
  EXPECT_EQ(attr(r, "genkit:state")["stringValue"].as_string(), "success");
  EXPECT_TRUE(attr(r, "genkit:isRoot")["boolValue"].as_bool());
  EXPECT_EQ(r["status"]["code"].as_number(), 1);
  EXPECT_FALSE(r["status"]["message"].present());

  JsonView c = list.at(1);
  EXPECT_EQ(c["spanId"].as_string(), kChildId);
  EXPECT_EQ(c["parentSpanId"].as_string(), kRootId);
  EXPECT_TRUE(is_lower_hex(c["parentSpanId"].as_string(), 16));
  EXPECT_EQ(c["kind"].as_number(), 1);
  EXPECT_EQ(c["startTimeUnixNano"].as_string(), "1000500000");
  EXPECT_EQ(c["endTimeUnixNano"].as_string(), "2000250000");
  EXPECT_EQ(attr(c, "genkit:metadata:subtype")["stringValue"].as_string(), "model");
  EXPECT_EQ(attr(c, "genkit:state")["stringValue"].as_string(), "error");
  EXPECT_FALSE(attr(c, "genkit:isRoot").present());
  EXPECT_FALSE(attr(c, "genkit:input").present());
  EXPECT_EQ(c["status"]["code"].as_number(), 2);
  EXPECT_EQ(c["status"]["message"].as_string(), "the model failed");
}

TEST(OtlpBody, CountLimitsTheSpans) {
  std::deque<Span> spans = {make_span("a"), make_span("b"), make_span("c")};
  JsonView list;
  Json one = otlp_request_body(spans, 1, "svc");
  list = one["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list.at(0)["name"].as_string(), "a");
  Json all = otlp_request_body(spans, 10, "svc");
  EXPECT_EQ(all["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"].size(), 3u);
}

TEST(OtlpTraceparent, Valid) {
  std::string trace, parent;
  EXPECT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &trace, &parent));
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parent, "00f067aa0ba902b7");
  EXPECT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &trace, &parent));
}

TEST(OtlpTraceparent, WrongLengths) {
  std::string t, p;
  EXPECT_FALSE(parse_traceparent("", &t, &p));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", &t, &p));    // trace 31
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", &t, &p));  // trace 33
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", &t, &p));    // span 15
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", &t, &p));    // flags 1
  EXPECT_FALSE(parse_traceparent("0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &t, &p));
}

TEST(OtlpTraceparent, Version00MustBeExactly55Chars) {
  std::string t, p;
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010", &t, &p));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", &t, &p));
}

TEST(OtlpTraceparent, FlagsMustBeHex) {
  std::string t, p;
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz", &t, &p));
}

TEST(OtlpTraceparent, UppercaseHexRejected) {
  std::string t, p;
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", &t, &p));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", &t, &p));
  EXPECT_FALSE(parse_traceparent("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &t, &p));
}

TEST(OtlpTraceparent, AllZeroIdsAndVersionFfRejected) {
  std::string t, p;
  EXPECT_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01", &t, &p));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", &t, &p));
  EXPECT_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &t, &p));
  EXPECT_FALSE(parse_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", &t, &p));
}

// ---- the exporter against an in-test collector ----

struct Collected {
  std::string method, uri, content_type;
  Json body;
};

// A libevent evhttp server on 127.0.0.1 (ephemeral port), sharing the loop.
class Collector {
 public:
  explicit Collector(event_base* base) : base_(base), http_(evhttp_new(base)) {
    evhttp_set_gencb(http_, &Collector::on_request, this);
    port_ = testing_json::bind_loopback(http_);
  }
  ~Collector() {
    for (auto& d : delayed_) event_free(d->ev);
    evhttp_free(http_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  int status = 200;
  int failures_first = 0;  // answer the first N requests with 500
  std::chrono::milliseconds delay{0};
  std::vector<Collected> requests;

 private:
  struct Delayed {
    Collector* self;
    evhttp_request* req;
    int code;
    event* ev = nullptr;
  };
  static void reply(evhttp_request* req, int code) {
    evbuffer* out = evbuffer_new();
    evbuffer_add(out, "{}", 2);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, "X", out);
    evbuffer_free(out);
  }
  static void on_delayed(evutil_socket_t, short, void* arg) {
    auto* d = static_cast<Delayed*>(arg);
    reply(d->req, d->code);
  }
  static void on_request(evhttp_request* req, void* arg) {
    auto* self = static_cast<Collector*>(arg);
    Collected c;
    c.method = evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "OTHER";
    c.uri = evhttp_request_get_uri(req);
    const char* ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    c.content_type = ct ? ct : "";
    evbuffer* in = evhttp_request_get_input_buffer(req);
    std::string text(evbuffer_get_length(in), '\0');
    evbuffer_copyout(in, text.data(), text.size());
    Result<Json> parsed = Json::parse(text);
    if (parsed.ok()) c.body = std::move(parsed).value();
    self->requests.push_back(std::move(c));
    int code = static_cast<int>(self->requests.size()) <= self->failures_first ? 500 : self->status;
    if (self->delay.count() == 0) return reply(req, code);
    auto d = std::make_unique<Delayed>(Delayed{self, req, code});
    d->ev = evtimer_new(self->base_, &Collector::on_delayed, d.get());
    timeval tv{0, static_cast<suseconds_t>(self->delay.count() * 1000)};
    evtimer_add(d->ev, &tv);
    self->delayed_.push_back(std::move(d));
  }
  event_base* base_;
  evhttp* http_;
  std::vector<std::unique_ptr<Delayed>> delayed_;
  int port_ = 0;
};

struct Env {
  event_base* base = event_base_new();
  Loop loop{base};
  std::unique_ptr<Collector> collector = std::make_unique<Collector>(base);
  std::unique_ptr<HttpClient> client = std::make_unique<HttpClient>(loop);
  ~Env() {
    client.reset();
    collector.reset();
    event_base_free(base);
  }

  // Runs the loop until `pred` holds or `limit` passes.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    event* tick = event_new(base, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
    timeval tv{0, 5000};
    event_add(tick, &tv);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    return pred();
  }

  std::vector<std::string> exported_names() const {
    std::vector<std::string> names;
    for (const Collected& c : collector->requests) {
      c.body["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"].for_each(
          [&](std::string_view, JsonView s) { names.emplace_back(s["name"].as_string()); });
    }
    return names;
  }
};

OtlpOptions options(const Env& env, std::size_t batch, std::size_t max_queue = 4096) {
  OtlpOptions o;
  o.endpoint = env.collector->endpoint();
  o.service_name = "otlp-test";
  o.batch_size = batch;
  o.max_queue = max_queue;
  o.flush_interval = std::chrono::seconds(30);
  o.timeout = std::chrono::seconds(5);
  return o;
}

TEST(OtlpExport, FlushSendsEverythingInBatches) {
  Env env;
  OtlpExporter ex(env.loop, *env.client, options(env, 2));
  for (int i = 0; i < 5; ++i) ex.enqueue(make_span("s" + std::to_string(i)));
  bool done = false;
  ex.flush([&] { done = true; });
  ASSERT_TRUE(env.run_until([&] { return done; }));
  EXPECT_EQ(ex.exported(), 5u);
  EXPECT_EQ(ex.dropped(), 0u);
  EXPECT_EQ(ex.queued(), 0u);
  ASSERT_EQ(env.collector->requests.size(), 3u);
  for (const Collected& c : env.collector->requests) {
    EXPECT_EQ(c.method, "POST");
    EXPECT_EQ(c.uri, "/v1/traces");
    EXPECT_EQ(c.content_type, "application/json");
    JsonView res = c.body["resourceSpans"].at(0)["resource"]["attributes"].at(0);
    EXPECT_EQ(res["value"]["stringValue"].as_string(), "otlp-test");
  }
  EXPECT_EQ(env.exported_names(), (std::vector<std::string>{"s0", "s1", "s2", "s3", "s4"}));
}

TEST(OtlpExport, FlushWithNothingQueuedCompletesAtOnce) {
  Env env;
  OtlpExporter ex(env.loop, *env.client, options(env, 10));
  bool done = false;
  ex.flush([&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_TRUE(env.collector->requests.empty());
}

TEST(OtlpExport, FlushIntervalSendsWithoutAFlush) {
  Env env;
  OtlpOptions o = options(env, 100);
  o.flush_interval = std::chrono::milliseconds(20);
  OtlpExporter ex(env.loop, *env.client, o);
  ex.enqueue(make_span("a"));
  ex.enqueue(make_span("b"));
  ASSERT_TRUE(env.run_until([&] { return ex.exported() == 2; }));
  EXPECT_EQ(env.exported_names(), (std::vector<std::string>{"a", "b"}));
}

TEST(OtlpExport, ServerErrorCountsSpansAsDropped) {
  Env env;
  env.collector->status = 500;
  OtlpExporter ex(env.loop, *env.client, options(env, 10));
  for (int i = 0; i < 3; ++i) ex.enqueue(make_span("s" + std::to_string(i)));
  bool done = false;
  ex.flush([&] { done = true; });
  ASSERT_TRUE(env.run_until([&] { return done; }));
  EXPECT_EQ(env.collector->requests.size(), 1u);
  EXPECT_EQ(ex.dropped(), 3u);
  EXPECT_EQ(ex.exported(), 0u);
}

TEST(OtlpExport, UnreachableCollectorCountsSpansAsDropped) {
  Env env;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);  // nothing listens there now
  OtlpOptions o = options(env, 10);
  o.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  OtlpExporter ex(env.loop, *env.client, o);
  ex.enqueue(make_span("a"));
  ex.enqueue(make_span("b"));
  bool done = false;
  ex.flush([&] { done = true; });
  ASSERT_TRUE(env.run_until([&] { return done; }));
  EXPECT_EQ(ex.dropped(), 2u);
  EXPECT_EQ(ex.exported(), 0u);
}

TEST(OtlpExport, SpansLeftAfterAFailedSendAreExportedLater) {
  // The first send fails slowly (after the flush timer has already fired
  // while it was in flight); the spans queued behind it must still leave on
  // a later tick without another enqueue or flush.
  Env env;
  env.collector->failures_first = 1;
  env.collector->delay = std::chrono::milliseconds(100);
  OtlpOptions o = options(env, 2);
  o.flush_interval = std::chrono::milliseconds(20);
  OtlpExporter ex(env.loop, *env.client, o);
  for (int i = 0; i < 4; ++i) ex.enqueue(make_span("s" + std::to_string(i)));
  EXPECT_TRUE(env.run_until([&] { return ex.exported() == 2; }, std::chrono::milliseconds(1500)))
      << "exported " << ex.exported() << ", dropped " << ex.dropped() << ", still queued " << ex.queued();
  EXPECT_EQ(ex.dropped(), 2u);
  EXPECT_EQ(ex.queued(), 0u);
}

TEST(OtlpExport, QueueOverflowDropsTheOldest) {
  Env env;
  OtlpExporter ex(env.loop, *env.client, options(env, 100, 3));
  for (int i = 0; i < 5; ++i) ex.enqueue(make_span("s" + std::to_string(i)));
  EXPECT_EQ(ex.queued(), 3u);
  EXPECT_EQ(ex.dropped(), 2u);
  bool done = false;
  ex.flush([&] { done = true; });
  ASSERT_TRUE(env.run_until([&] { return done; }));
  EXPECT_EQ(ex.exported(), 3u);
  EXPECT_EQ(env.exported_names(), (std::vector<std::string>{"s2", "s3", "s4"}));
}

}  // namespace
}  // namespace genkit
