#include "common/telemetry/genkit_trace_exporter.h"

#include <map>

#include "common/log.h"

namespace genkit {

namespace {

bool is_root(const Span& s) { return s.path.find("/{", 1) == std::string::npos; }

Json span_data(const Span& s) {
  bool started_only = s.end_ms == 0;
  Json attrs = Json::object();
  attrs.set("genkit:type", Json::string(s.type));
  if (!s.subtype.empty()) attrs.set("genkit:metadata:subtype", Json::string(s.subtype));
  if (std::string key = s.key(); !key.empty()) attrs.set("genkit:key", Json::string(key));
  attrs.set("genkit:name", Json::string(s.name));
  if (is_root(s)) attrs.set("genkit:isRoot", Json::boolean(true));
  attrs.set("genkit:path", Json::string(s.path));
  if (!s.context.empty()) attrs.set("genkit:metadata:context", Json::string(s.context));
  if (!s.input.empty()) attrs.set("genkit:input", Json::string(s.input));
  if (!started_only) {
    if (!s.output.empty() && s.ok) attrs.set("genkit:output", Json::string(s.output));
    attrs.set("genkit:state", Json::string(s.ok ? "success" : "error"));
    if (s.failure_source) attrs.set("genkit:isFailureSource", Json::boolean(true));
  }
  Json status = Json::object();
  status.set("code", Json::number(s.ok ? 0 : 2));
  if (!s.ok) status.set("message", Json::string(s.error));
  Json events = Json::array();
  if (!s.ok && s.failure_source) {
    Json exception = Json::object();
    exception.set("exception.type", Json::string("Error"));
    exception.set("exception.message", Json::string(s.error));
    Json annotation = Json::object();
    annotation.set("description", Json::string("exception"));
    annotation.set("attributes", std::move(exception));
    Json event = Json::object();
    event.set("time", Json::number(s.end_ms));
    event.set("annotation", std::move(annotation));
    events.push(std::move(event));
  }
  Json time_events = Json::object();
  time_events.set("timeEvent", std::move(events));
  Json library = Json::object();
  library.set("name", Json::string("genkit-tracer"));
  library.set("version", Json::string("v1"));
  Json out = Json::object();
  out.set("spanId", Json::string(s.span_id));
  out.set("traceId", Json::string(s.trace_id));
  if (!s.parent_span_id.empty()) out.set("parentSpanId", Json::string(s.parent_span_id));
  out.set("startTime", Json::number(s.start_ms));
  out.set("endTime", Json::number(s.end_ms));
  out.set("displayName", Json::string(s.name));
  out.set("attributes", std::move(attrs));
  out.set("links", Json::array());
  out.set("spanKind", Json::string("INTERNAL"));
  out.set("sameProcessAsParentSpan", Json::object().set("value", Json::boolean(true)));
  out.set("status", std::move(status));
  out.set("timeEvents", std::move(time_events));
  out.set("instrumentationLibrary", std::move(library));
  return out;
}

}  // namespace

Json genkit_trace_data(const std::vector<const Span*>& spans) {
  Json data = Json::object();
  if (spans.empty()) return data;
  data.set("traceId", Json::string(spans.front()->trace_id));
  // A span's later state (its end) replaces its earlier one (its start).
  std::map<std::string, const Span*> latest;
  for (const Span* s : spans) latest[s->span_id] = s;
  Json by_id = Json::object();
  for (const Span* s : spans) {
    if (latest[s->span_id] != s) continue;
    if (is_root(*s)) {
      data.set("displayName", Json::string(s->name));
      data.set("startTime", Json::number(s->start_ms));
      data.set("endTime", Json::number(s->end_ms));
    }
    by_id.set(s->span_id, span_data(*s));
  }
  data.set("spans", std::move(by_id));
  return data;
}

std::string loopback_url(std::string url) {
  const std::string host = "http://localhost";
  if (url.compare(0, host.size(), host) == 0 &&
      (url.size() == host.size() || url[host.size()] == ':' || url[host.size()] == '/')) {
    url.replace(0, host.size(), "http://127.0.0.1");
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

GenkitTraceExporter::GenkitTraceExporter(Loop& loop, HttpClient& client, GenkitTraceOptions options)
    : loop_(loop), client_(client), options_(std::move(options)), url_(loopback_url(options_.url)) {}

SpanSink GenkitTraceExporter::sink() {
  SpanSink sink([this](const Span& s) { enqueue(s); });
  if (options_.realtime) sink.on_start = sink.on_end;
  return sink;
}

bool GenkitTraceExporter::announce(const std::string& url) {
  if (!options_.url.empty()) return false;
  std::string adopted = loopback_url(url);
  if (adopted == url_) return true;
  url_ = std::move(adopted);
  failing_ = false;
  log_info("genkit_telemetry_server", {{"url", url_}});
  if (!queue_.empty()) send_next();
  return true;
}

void GenkitTraceExporter::enqueue(const Span& span) {
  if (url_.empty()) return;  // nobody to tell (yet): Genkit drops them too
  if (queue_.size() >= options_.max_queue) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(span);
  // (Deferred: spans ending in one loop turn leave in one POST.)
  if (!in_flight_) {
    in_flight_ = true;
    loop_.defer([this] {
      in_flight_ = false;
      send_next();
    });
  }
}

void GenkitTraceExporter::flush(std::function<void()> done) {
  if (queue_.empty() && !in_flight_) return done();
  flushed_.push_back(std::move(done));
}

void GenkitTraceExporter::send_next() {
  if (in_flight_) return;
  if (queue_.empty() || url_.empty()) {
    queue_.clear();
    for (auto& done : std::exchange(flushed_, {})) done();
    return;
  }
  // Every queued span of the first span's trace, in order.
  const std::string trace_id = queue_.front().trace_id;
  std::vector<const Span*> batch;
  for (const Span& s : queue_) {
    if (s.trace_id == trace_id) batch.push_back(&s);
    if (batch.size() == options_.max_spans_per_post) break;
  }
  HttpFetch f;
  f.url = url_ + "/api/traces";
  f.headers = {{"Content-Type", "application/json"}};
  f.body = genkit_trace_data(batch).dump();
  f.timeout = options_.timeout;
  f.max_response_bytes = 64 * 1024;
  std::size_t n = batch.size();
  std::size_t taken = 0;
  for (auto it = queue_.begin(); it != queue_.end() && taken < n;) {
    if (it->trace_id == trace_id) {
      it = queue_.erase(it);
      ++taken;
    } else {
      ++it;
    }
  }
  in_flight_ = true;
  client_.fetch(std::move(f), CancelToken(), [this, n](Result<HttpFetchResult> r) {
    in_flight_ = false;
    if (!r.ok() || r->status / 100 != 2) {
      dropped_ += n;
      if (!failing_) {
        log_warning("genkit_trace_export_failed",
                    {{"url", url_}, {"reason", r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message()}});
      }
      failing_ = true;
    } else {
      exported_ += n;
      failing_ = false;
    }
    send_next();
  });
}

}  // namespace genkit
