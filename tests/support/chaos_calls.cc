#include "tests/support/chaos_calls.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "tests/support/chaos_faults.h"

namespace itest::chaos {

using genkit::Json;

namespace {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kJsonError: return "JSON error";
    case Verdict::kLost: return "lost";
    case Verdict::kTimedOut: return "timed out";
    default: return "BAD";
  }
}

}  // namespace

std::string describe_call(const Call& c, Clock::time_point origin) {
  return c.kind + " +" + std::to_string(ms_since(origin, c.start)) + "..+" + std::to_string(ms_since(origin, c.end)) +
         " ms: " + verdict_name(c.verdict) + " (" + std::to_string(c.status) + ") " + c.detail.substr(0, 200);
}

namespace {

Verdict transport_verdict(const std::string& error) {
  return error.find("timed out") != std::string::npos ? Verdict::kTimedOut : Verdict::kLost;
}

bool is_json_error(std::string_view body) {
  genkit::Result<Json> j = Json::parse(body);
  return j.ok() && (*j)["error"].is_string();
}

Verdict http_verdict(const HttpResponse& r) {
  if (r.status >= 200 && r.status < 300) return r.json().ok() ? Verdict::kOk : Verdict::kBad;
  if (r.status >= 400) return is_json_error(r.body) ? Verdict::kJsonError : Verdict::kBad;
  return Verdict::kBad;
}

Call begin_call(std::string kind, Protocol protocol) {
  Call c;
  c.kind = std::move(kind);
  c.protocol = protocol;
  c.start = Clock::now();
  return c;
}

Call finish(Call c, Verdict v, int status, std::string detail) {
  c.end = Clock::now();
  c.verdict = v;
  c.status = status;
  c.detail = std::move(detail);
  return c;
}

const Headers kJsonHeaders = {{"Content-Type", "application/json"}};

Verdict grpc_verdict(const grpc::Status& s, bool has_content) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK: return has_content ? Verdict::kOk : Verdict::kBad;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Verdict::kTimedOut;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::INTERNAL: return Verdict::kLost;
    default: return Verdict::kBad;
  }
}

// gRPC calls wait for their channel to connect: after grpcd is killed, a
// channel backs off between reconnects, and a fail-fast client would count
// every call of that back-off (thousands, past any kill's window) as lost.
void chaos_context(grpc::ClientContext& ctx, milliseconds timeout) {
  set_timeout(ctx, timeout);
  ctx.set_wait_for_ready(true);
}

std::string cached_text(int i) { return "chaos text " + std::to_string(i % kTranslateTexts); }

// The i-th call of a REST client: the kinds in turn.
Call rest_mix(int port, int i) {
  switch (i % 4) {
    case 0: return rest_call(port, "/translate", translate_body(cached_text(i / 4)));
    case 1: return rest_call(port, "/tell-joke", R"({"name":"Chaos"})");
    case 2: return sse_call(port, "/tell-joke/stream", R"({"name":"Chaos"})", "joke");
    default: return sse_call(port, "/tell-story/stream", R"({"topic":"chaos"})", "story");
  }
}

Call grpc_mix(gpb::GenkitService::Stub& stub, int i) {
  switch (i % 3) {
    case 0: return grpc_joke(stub);
    case 1: return grpc_translate(stub, cached_text(i / 3));
    default: return grpc_story(stub);
  }
}

}  // namespace

Call rest_call(int port, const std::string& path, const std::string& body, milliseconds timeout) {
  Call c = begin_call("POST " + path, Protocol::kHttp);
  HttpClient http;
  std::optional<HttpResponse> r;
  if (http.connect(port, timeout)) r = http.request("POST", path, body, kJsonHeaders, timeout);
  if (!r) return finish(std::move(c), transport_verdict(http.error()), 0, http.error());
  return finish(std::move(c), http_verdict(*r), r->status, r->body);
}

Call sse_call(int port, const std::string& path, const std::string& body, const std::string& final_key) {
  Call c = begin_call("POST " + path, Protocol::kHttp);
  const auto deadline = c.start + kCallTimeout;
  auto left = [&] {
    return std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };
  HttpClient http;
  std::optional<HttpResponse> head;
  if (http.connect(port, left()) && http.send_raw(build_request("POST", path, body, kJsonHeaders), left())) {
    head = http.read_head(left());
  }
  if (!head) return finish(std::move(c), transport_verdict(http.error()), 0, http.error());
  std::vector<SseEvent> events;
  while (std::optional<SseEvent> ev = http.next_event(left())) events.push_back(std::move(*ev));
  if (!http.ended()) return finish(std::move(c), transport_verdict(http.error()), head->status, http.error());
  if (head->status != 200) {
    head->body = http.body_so_far();
    return finish(std::move(c), http_verdict(*head), head->status, head->body);
  }
  for (const SseEvent& ev : events) {
    if (!Json::parse(ev.data).ok()) return finish(std::move(c), Verdict::kBad, 200, "event not JSON: " + ev.data);
  }
  if (events.empty()) return finish(std::move(c), Verdict::kBad, 200, "no events");
  Json last = Json::parse(events.back().data).value();
  if (!last["done"].as_bool()) return finish(std::move(c), Verdict::kBad, 200, "no done event: " + last.dump());
  if (last["error"].is_string()) return finish(std::move(c), Verdict::kJsonError, 200, last.dump());
  bool full = last[final_key].is_string();
  return finish(std::move(c), full ? Verdict::kOk : Verdict::kBad, 200, last.dump());
}

Call grpc_joke(gpb::GenkitService::Stub& stub, milliseconds timeout) {
  Call c = begin_call("grpc TellJoke", Protocol::kGrpc);
  grpc::ClientContext ctx;
  chaos_context(ctx, timeout);
  gpb::JokeRequest req;
  req.set_name("Chaos");
  gpb::JokeResponse resp;
  grpc::Status s = stub.TellJoke(&ctx, req, &resp);
  return finish(std::move(c), grpc_verdict(s, !resp.joke().empty()), s.error_code(), itest::describe(s));
}

Call grpc_translate(gpb::GenkitService::Stub& stub, const std::string& text, milliseconds timeout) {
  Call c = begin_call("grpc TranslateText", Protocol::kGrpc);
  grpc::ClientContext ctx;
  chaos_context(ctx, timeout);
  gpb::TranslateRequest req;
  req.set_text(text);
  gpb::TranslationResponse resp;
  grpc::Status s = stub.TranslateText(&ctx, req, &resp);
  return finish(std::move(c), grpc_verdict(s, !resp.translated_text().empty()), s.error_code(), itest::describe(s));
}

Call grpc_story(gpb::GenkitService::Stub& stub, milliseconds timeout) {
  Call c = begin_call("grpc TellStory", Protocol::kGrpc);
  StoryRead read = read_story(stub, "chaos", timeout, /*wait_for_ready=*/true);
  return finish(std::move(c), grpc_verdict(read.status, !read.chunks.empty()), read.status.error_code(),
                itest::describe(read.status));
}

std::string translate_body(const std::string& text) { return json_with("text", text); }

Load::Load(int port, int grpc_port) {
  for (int t = 0; t < kRestClients; ++t) {
    threads_.emplace_back([this, port, t] {
      for (int i = t; !stop_; ++i) record(calls_, rest_mix(port, i));
    });
  }
  for (int t = 0; t < kGrpcClients; ++t) {
    threads_.emplace_back([this, grpc_port, t] {
      auto stub = gpb::GenkitService::NewStub(grpc_channel(grpc_port));
      for (int i = t; !stop_; ++i) record(calls_, grpc_mix(*stub, i));
    });
  }
  threads_.emplace_back([this, port] {
    for (int i = 0; !stop_; ++i) {
      record(probes_, rest_call(port, "/translate", translate_body("probe " + std::to_string(i)), kProbeTimeout));
      std::this_thread::sleep_for(milliseconds(10));
    }
  });
}

Load::~Load() { stop(); }

void Load::stop() {
  stop_ = true;
  for (std::jthread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::vector<Call> Load::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<Call> Load::probes() const {
  std::lock_guard lock(mu_);
  return probes_;
}

void Load::record(std::vector<Call>& into, Call c) {
  std::lock_guard lock(mu_);
  into.push_back(std::move(c));
}

}  // namespace itest::chaos
