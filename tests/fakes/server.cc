// fake_llm: routing and model replies (delays, SSE streams, hangs, big files).
#include "tests/fakes/server.h"

#include <event2/event_struct.h>
#include <event2/listener.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "tests/fakes/fake_json.h"

namespace fake {

State& state() {
  static State* s = new State();  // never destroyed: reachable at exit
  return *s;
}

namespace {

constexpr size_t kBigSize = 30u * 1024 * 1024;
constexpr size_t kBlock = 64 * 1024;
char g_block[kBlock];  // byte i of big.bin is (i & 0xff)

// --stamp-chunks: the first text of an SSE event starts with its send time,
// "[sent <CLOCK_MONOTONIC µs>us] ", so a client on this machine can tell how
// long the event took to reach it (through a proxy or not).
void stamp(std::string* event) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::string mark = "[sent " + std::to_string(int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000) + "us] ";
  for (std::string_view key : {std::string_view("\"text\":\""), std::string_view("\"content\":\"")}) {
    if (size_t at = event->find(key); at != std::string::npos) {
      event->insert(at + key.size(), mark);
      return;
    }
  }
}

// A reply not sent from inside the request handler: delayed, streamed,
// hung, or a big download.
struct Pending : Exchange {
  Conn* conn;
  std::shared_ptr<Record> rec;
  Plan plan;
  size_t next = 0;      // next SSE event
  size_t big_left = 0;  // big.bin bytes still to send
  bool started = false;
  event timer;

  Pending(Conn* c, std::shared_ptr<Record> r, Plan p) : conn(c), rec(std::move(r)), plan(std::move(p)) {
    event_assign(&timer, state().base, -1, 0, on_timer, this);
  }
  ~Pending() override { event_del(&timer); }
  void on_complete() override {
    if (rec) rec->finished = true;
  }
  void on_aborted() override {
    if (rec) rec->client_closed = true;
    event_del(&timer);
  }
  void on_drain(Conn*) override {
    if (big_left > 0) feed_big();
  }

  void wait_ms(int ms, const timeval* common, int common_ms) {
    if (ms == common_ms && common != nullptr) {
      event_add(&timer, common);
      return;
    }
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    event_add(&timer, &tv);
  }

  static void on_timer(evutil_socket_t, short, void* arg) { static_cast<Pending*>(arg)->fire(); }

  void fire() {
    if (!plan.stream) return conn->reply(plan.status, plan.content_type, plan.body);
    if (!started) {
      started = true;
      conn->start_reply(plan.status, plan.content_type, -1, "Cache-Control: no-cache\r\n");
    }
    const Options& opt = state().opt;
    while (next < plan.events.size() && conn->alive()) {
      std::string& ev = plan.events[next++];
      if (opt.stamp_chunks) stamp(&ev);
      conn->send(ev);  // one write() per event
      if (next < plan.events.size() && opt.chunk_delay_ms > 0) {
        return wait_ms(opt.chunk_delay_ms, state().chunk_tv, opt.chunk_delay_ms);
      }
    }
    conn->end_reply();
  }

  void feed_big() {
    while (big_left > 0 && conn->alive() && !conn->output_pending()) {
      size_t n = big_left < kBlock ? big_left : kBlock;
      big_left -= n;
      conn->send(std::string_view(g_block, n));
    }
    if (big_left == 0) conn->end_reply();
  }
};

void dispatch(Conn* c, Plan plan, std::shared_ptr<Record> rec) {
  const Options& opt = state().opt;
  int delay = plan.delay_ms >= 0 ? plan.delay_ms : opt.delay_ms;
  if (!plan.hang && delay == 0 && !plan.stream && !rec) {
    return c->reply(plan.status, plan.content_type, plan.body);
  }
  auto owned = std::make_unique<Pending>(c, std::move(rec), std::move(plan));
  Pending* p = owned.get();
  c->attach(std::move(owned));
  if (p->plan.hang) return;  // until the client goes away
  if (delay == 0) return p->fire();
  p->wait_ms(delay, state().delay_tv, opt.delay_ms);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Behaviour next_behaviour() {
  auto& script = state().script;
  if (script.empty()) return {};
  Behaviour b = std::move(script.front());
  script.pop_front();
  return b;
}

bool has_query_param(std::string_view query, std::string_view name) {
  for (size_t pos = 0; pos < query.size();) {
    size_t amp = query.find('&', pos);
    std::string_view kv = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (kv.size() > name.size() + 1 && kv.substr(0, name.size()) == name && kv[name.size()] == '=') return true;
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return false;
}

void handle_gemini(Conn* c, std::string_view model, bool stream) {
  const HttpRequest& req = c->request();
  auto rec = state().opt.record ? keep(state().records, make_record(req, req.body)) : nullptr;
  const char* key = req.header("x-goog-api-key");
  if ((key == nullptr || *key == '\0') && !has_query_param(req.query, "key")) {
    return dispatch(c, gemini_error(403, "fake_llm: missing API key (x-goog-api-key header or key= param)"), rec);
  }
  JsonPtr json = parse_json(req.body);
  if (!cJSON_IsObject(json.get())) {
    return dispatch(c, gemini_error(400, "fake_llm: request body is not a JSON object"), rec);
  }
  dispatch(c, plan_gemini(json.get(), model, stream, next_behaviour()), rec);
}

void handle_openai(Conn* c) {
  const HttpRequest& req = c->request();
  auto rec = state().opt.record ? keep(state().records, make_record(req, req.body)) : nullptr;
  JsonPtr json = parse_json(req.body);
  if (!cJSON_IsObject(json.get())) {
    return dispatch(c, openai_error(400, "fake_llm: request body is not a JSON object"), rec);
  }
  bool stream = cJSON_IsTrue(member(json.get(), "stream"));
  dispatch(c, plan_openai(json.get(), stream, next_behaviour()), rec);
}

void handle_request(Conn* c) {
  const HttpRequest& req = c->request();
  std::string_view path = req.path;
  if (state().opt.verbose) {
    std::fprintf(stderr, "fake_llm[%d]: %s %s%s%s\n", static_cast<int>(getpid()), req.method.c_str(),
                 req.path.c_str(), req.query.empty() ? "" : "?", req.query.c_str());
  }
  if (req.method == "POST") {
    size_t models = path.rfind("/models/");
    size_t colon = path.rfind(':');
    if (models != std::string_view::npos && colon != std::string_view::npos && colon > models) {
      std::string_view method = path.substr(colon + 1);
      std::string_view model = path.substr(models + 8, colon - models - 8);
      if (method == "generateContent" || method == "streamGenerateContent") {
        return handle_gemini(c, model, method == "streamGenerateContent");
      }
    }
    if (ends_with(path, "/chat/completions")) return handle_openai(c);
  }
  if (handle_control(c)) return;
  c->reply(404, "application/json", "{\"error\":{\"code\":404,\"message\":\"fake_llm: no such route\"}}");
}

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void*) {
  Conn::start(state().base, fd, handle_request);
}

}  // namespace

std::shared_ptr<Record> make_record(const HttpRequest& req, std::string_view body) {
  auto r = std::make_shared<Record>();
  r->method = req.method;
  r->path = req.path;
  r->query = req.query;
  r->headers = req.headers;
  r->body = body;
  r->received_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return r;
}

std::shared_ptr<Record> keep(std::deque<std::shared_ptr<Record>>& records, std::shared_ptr<Record> r) {
  records.push_back(r);
  while (records.size() > kMaxRecords) records.pop_front();
  return r;
}

void start_big_download(Conn* c) {
  auto owned = std::make_unique<Pending>(c, nullptr, Plan{});
  Pending* p = owned.get();
  c->attach(std::move(owned));
  p->big_left = kBigSize;
  c->start_reply(200, "application/octet-stream", static_cast<long long>(kBigSize));
  p->feed_big();
}

bool start_server(event_base* base, int fd, const Options& opt) {
  State& s = state();
  s.opt = opt;
  s.base = base;
  if (opt.delay_ms > 0) {
    timeval tv{opt.delay_ms / 1000, (opt.delay_ms % 1000) * 1000};
    s.delay_tv = event_base_init_common_timeout(base, &tv);
  }
  if (opt.chunk_delay_ms > 0) {
    timeval tv{opt.chunk_delay_ms / 1000, (opt.chunk_delay_ms % 1000) * 1000};
    s.chunk_tv = event_base_init_common_timeout(base, &tv);
  }
  for (size_t i = 0; i < kBlock; ++i) g_block[i] = static_cast<char>(i & 0xff);
  return evconnlistener_new(base, on_accept, nullptr, LEV_OPT_CLOSE_ON_FREE, 0, fd) != nullptr;
}

}  // namespace fake
