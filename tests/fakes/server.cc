// fake_llm: request routing, model replies (delays, SSE streaming, hangs) and
// the lifetime of deferred replies over libevent's evhttp.
#include "tests/fakes/server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
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
unsigned char g_block[kBlock];  // byte i of big.bin is (i & 0xff)

// A reply that is not sent from inside the request callback. Exactly one of
// on_close (the client went away first) or on_complete (the reply was fully
// written) deletes it.
struct Pending {
  evhttp_request* req = nullptr;
  evhttp_connection* evcon = nullptr;
  std::shared_ptr<Record> rec;
  Plan plan;
  size_t next = 0;      // next SSE event
  size_t big_left = 0;  // big.bin bytes still to queue
  bool started = false;
  bool ended = false;  // evhttp owns the request once the reply is ended
  event timer;
};

void on_close(evhttp_connection*, void* arg) {
  auto* p = static_cast<Pending*>(arg);
  if (p->rec && !p->rec->finished) p->rec->client_closed = true;
  event_del(&p->timer);
  // evhttp detaches (and no longer frees) an unanswered request when the
  // client disconnects; it is ours to free then.
  if (!p->ended && evhttp_request_get_connection(p->req) == nullptr) evhttp_request_free(p->req);
  delete p;
}

void on_complete(evhttp_request*, void* arg) {
  auto* p = static_cast<Pending*>(arg);
  if (p->rec) p->rec->finished = true;
  evhttp_connection_set_closecb(p->evcon, nullptr, nullptr);
  event_del(&p->timer);
  delete p;
}

void on_timer(evutil_socket_t, short, void* arg);

Pending* adopt(evhttp_request* req, std::shared_ptr<Record> rec) {
  auto* p = new Pending();
  p->req = req;
  p->evcon = evhttp_request_get_connection(req);
  p->rec = std::move(rec);
  event_assign(&p->timer, state().base, -1, 0, on_timer, p);
  evhttp_connection_set_closecb(p->evcon, on_close, p);
  evhttp_request_set_on_complete_cb(req, on_complete, p);
  // evhttp stops reading while the user holds a request, so a disconnect
  // would go unnoticed until we write. Read again (with no read callback, as
  // evhttp itself does while writing) so EOF reaches evhttp's error path.
  bufferevent* bev = evhttp_connection_get_bufferevent(p->evcon);
  bufferevent_data_cb readcb = nullptr, writecb = nullptr;
  bufferevent_event_cb eventcb = nullptr;
  void* cbarg = nullptr;
  bufferevent_getcb(bev, &readcb, &writecb, &eventcb, &cbarg);
  bufferevent_setcb(bev, nullptr, writecb, eventcb, cbarg);
  bufferevent_enable(bev, EV_READ);
  return p;
}

void add_timer(Pending* p, int ms, const timeval* common, int common_ms) {
  if (ms == common_ms && common != nullptr) {
    event_add(&p->timer, common);
    return;
  }
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  event_add(&p->timer, &tv);
}

void send_next_event(Pending* p);
void on_drained(evhttp_connection*, void* arg) { send_next_event(static_cast<Pending*>(arg)); }

void send_next_event(Pending* p) {
  evhttp_request* req = p->req;
  if (p->next < p->plan.events.size()) {
    const std::string& ev = p->plan.events[p->next++];
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, ev.data(), ev.size());
    bool more = p->next < p->plan.events.size();
    if (!more) {
      evhttp_send_reply_chunk(req, buf);
    } else if (state().opt.chunk_delay_ms > 0) {
      evhttp_send_reply_chunk(req, buf);
      add_timer(p, state().opt.chunk_delay_ms, state().chunk_tv, state().opt.chunk_delay_ms);
    } else {
      evhttp_send_reply_chunk_with_cb(req, buf, on_drained, p);  // next one once flushed
    }
    evbuffer_free(buf);
    if (more) return;
  }
  p->ended = true;
  evhttp_send_reply_end(req);  // may complete (and delete p) synchronously
}

void on_timer(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<Pending*>(arg);
  if (!p->plan.stream) {
    p->ended = true;
    send_body(p->req, p->plan.status, p->plan.content_type, p->plan.body);
    return;
  }
  if (!p->started) {
    p->started = true;
    evkeyvalq* h = evhttp_request_get_output_headers(p->req);
    evhttp_add_header(h, "Content-Type", p->plan.content_type);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    int one = 1;  // separate events must not wait for Nagle
    setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(p->evcon)), IPPROTO_TCP, TCP_NODELAY, &one,
               sizeof one);
    evhttp_send_reply_start(p->req, p->plan.status, nullptr);
  }
  send_next_event(p);
}

void on_big_drained(evhttp_connection*, void* arg) {
  auto* p = static_cast<Pending*>(arg);
  evbuffer* buf = evbuffer_new();
  for (int i = 0; i < 4 && p->big_left > 0; ++i) {
    size_t n = p->big_left < kBlock ? p->big_left : kBlock;
    evbuffer_add_reference(buf, g_block, n, nullptr, nullptr);
    p->big_left -= n;
  }
  bool last = p->big_left == 0;
  evhttp_send_reply_chunk_with_cb(p->req, buf, last ? nullptr : on_big_drained, p);
  evbuffer_free(buf);
  if (last) {
    p->ended = true;
    evhttp_send_reply_end(p->req);
  }
}

void dispatch(evhttp_request* req, Plan plan, std::shared_ptr<Record> rec) {
  const Options& opt = state().opt;
  int delay = plan.delay_ms >= 0 ? plan.delay_ms : opt.delay_ms;
  if (!plan.hang && delay == 0 && !plan.stream && !rec) {
    send_body(req, plan.status, plan.content_type, plan.body);
    return;
  }
  Pending* p = adopt(req, std::move(rec));
  p->plan = std::move(plan);
  if (p->plan.hang) return;
  if (delay == 0) {
    on_timer(-1, 0, p);
    return;
  }
  add_timer(p, delay, state().delay_tv, opt.delay_ms);
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

std::string query_param(std::string_view query, const char* name) {
  if (query.empty()) return "";
  evkeyvalq params{};  // evhttp_parse_query_str initialises it
  std::string out;
  if (evhttp_parse_query_str(std::string(query).c_str(), &params) == 0) {
    if (const char* v = evhttp_find_header(&params, name)) out = v;
  }
  evhttp_clear_headers(&params);
  return out;
}

void handle_gemini(evhttp_request* req, std::string_view path, std::string_view query, std::string_view model,
                   bool stream) {
  std::string_view body = request_body(req);
  auto rec = state().opt.record ? keep(state().records, make_record(req, path, query, body)) : nullptr;
  const char* key = evhttp_find_header(evhttp_request_get_input_headers(req), "x-goog-api-key");
  if ((key == nullptr || *key == '\0') && query_param(query, "key").empty()) {
    return dispatch(req, gemini_error(403, "fake_llm: missing API key (x-goog-api-key header or key= param)"),
                    rec);
  }
  JsonPtr json = parse_json(body);
  if (!cJSON_IsObject(json.get())) {
    return dispatch(req, gemini_error(400, "fake_llm: request body is not a JSON object"), rec);
  }
  dispatch(req, plan_gemini(json.get(), model, stream, next_behaviour()), rec);
}

void handle_openai(evhttp_request* req, std::string_view path, std::string_view query) {
  std::string_view body = request_body(req);
  auto rec = state().opt.record ? keep(state().records, make_record(req, path, query, body)) : nullptr;
  JsonPtr json = parse_json(body);
  if (!cJSON_IsObject(json.get())) {
    return dispatch(req, openai_error(400, "fake_llm: request body is not a JSON object"), rec);
  }
  bool stream = cJSON_IsTrue(member(json.get(), "stream"));
  dispatch(req, plan_openai(json.get(), stream, next_behaviour()), rec);
}

void handle_request(evhttp_request* req, void*) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  const char* raw_query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
  std::string_view path = raw_path != nullptr ? raw_path : "/";
  std::string_view query = raw_query != nullptr ? raw_query : "";
  if (state().opt.verbose) {
    std::fprintf(stderr, "fake_llm[%d]: %d %s\n", static_cast<int>(getpid()),
                 static_cast<int>(evhttp_request_get_command(req)), evhttp_request_get_uri(req));
  }
  if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
    size_t models = path.rfind("/models/");
    size_t colon = path.rfind(':');
    if (models != std::string_view::npos && colon != std::string_view::npos && colon > models) {
      std::string_view method = path.substr(colon + 1);
      std::string_view model = path.substr(models + 8, colon - models - 8);
      if (method == "generateContent" || method == "streamGenerateContent") {
        return handle_gemini(req, path, query, model, method == "streamGenerateContent");
      }
    }
    if (ends_with(path, "/chat/completions")) return handle_openai(req, path, query);
  }
  if (handle_control(req, path, query)) return;
  send_body(req, 404, "application/json", "{\"error\":{\"code\":404,\"message\":\"fake_llm: no such route\"}}");
}

}  // namespace

void send_body(evhttp_request* req, int status, const char* content_type, std::string_view body) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, status, nullptr, nullptr);
}

std::string_view request_body(evhttp_request* req) {
  evbuffer* in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  if (n == 0) return {};
  return {reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), n};
}

std::shared_ptr<Record> make_record(evhttp_request* req, std::string_view path, std::string_view query,
                                    std::string_view body) {
  auto r = std::make_shared<Record>();
  switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: r->method = "GET"; break;
    case EVHTTP_REQ_POST: r->method = "POST"; break;
    case EVHTTP_REQ_PUT: r->method = "PUT"; break;
    case EVHTTP_REQ_DELETE: r->method = "DELETE"; break;
    default: r->method = "OTHER"; break;
  }
  r->path = path;
  r->query = query;
  for (const evkeyval* h = evhttp_request_get_input_headers(req)->tqh_first; h != nullptr; h = h->next.tqe_next) {
    std::string name = h->key;
    for (char& c : name) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    r->headers.emplace_back(std::move(name), h->value);
  }
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

void start_big_download(evhttp_request* req) {
  Pending* p = adopt(req, nullptr);
  p->big_left = kBigSize;
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "application/octet-stream");
  evhttp_add_header(h, "Content-Length", std::to_string(kBigSize).c_str());
  evhttp_send_reply_start(req, 200, nullptr);
  on_big_drained(p->evcon, p);
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
  for (size_t i = 0; i < kBlock; ++i) g_block[i] = static_cast<unsigned char>(i & 0xff);
  s.http = evhttp_new(base);
  if (s.http == nullptr) return false;
  evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
  evhttp_set_max_body_size(s.http, 256u * 1024 * 1024);
  evhttp_set_timeout(s.http, 3600);  // {"hang":true} must outlive any test
  evhttp_set_gencb(s.http, handle_request, nullptr);
  return evhttp_accept_socket_with_handle(s.http, fd) != nullptr;
}

}  // namespace fake
