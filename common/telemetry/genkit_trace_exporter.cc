#include "common/telemetry/genkit_trace_exporter.h"

#include <algorithm>
#include <cstdio>

#include "common/log.h"

namespace genkit {

namespace {

bool is_root(const Span& s) { return s.path.find("/{", 1) == std::string::npos; }

// Written straight into the body (no JSON tree): in dev mode every request
// of every flow leaves this way, and a tree costs an allocation per field.
void field(std::string& out, std::string_view key) {
  out.push_back(',');
  append_json_quoted(out, key);
  out.push_back(':');
}

void text(std::string& out, std::string_view key, std::string_view value) {
  field(out, key);
  append_json_quoted(out, value);
}

void number(std::string& out, std::string_view key, double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms);
  field(out, key);
  out.append(buf);
}

void append_span(std::string& out, const Span& s) {
  bool started_only = s.end_ms == 0;
  append_json_quoted(out, s.span_id);
  out.append(":{\"spanId\":");
  append_json_quoted(out, s.span_id);
  text(out, "traceId", s.trace_id);
  if (!s.parent_span_id.empty()) text(out, "parentSpanId", s.parent_span_id);
  number(out, "startTime", s.start_ms);
  number(out, "endTime", s.end_ms);
  text(out, "displayName", s.name);
  out.append(",\"attributes\":{\"genkit:type\":");
  append_json_quoted(out, s.type);
  if (!s.subtype.empty()) text(out, "genkit:metadata:subtype", s.subtype);
  if (std::string key = s.key(); !key.empty()) text(out, "genkit:key", key);
  text(out, "genkit:name", s.name);
  if (is_root(s)) out.append(",\"genkit:isRoot\":true");
  text(out, "genkit:path", s.path);
  if (!s.context.empty()) text(out, "genkit:metadata:context", s.context);
  if (!s.input.empty()) text(out, "genkit:input", s.input);
  if (!started_only) {
    if (!s.output.empty() && s.ok) text(out, "genkit:output", s.output);
    text(out, "genkit:state", s.ok ? "success" : "error");
    if (s.failure_source) out.append(",\"genkit:isFailureSource\":true");
  }
  out.append(
      "},\"links\":[],\"spanKind\":\"INTERNAL\","
      "\"sameProcessAsParentSpan\":{\"value\":true}");
  if (s.ok) {
    out.append(",\"status\":{\"code\":0}");
  } else {
    out.append(",\"status\":{\"code\":2");
    text(out, "message", s.error);
    out.push_back('}');
  }
  out.append(",\"timeEvents\":{\"timeEvent\":[");
  if (!s.ok && s.failure_source) {
    out.append("{\"time\":");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s.end_ms);
    out.append(buf);
    out.append(
        ",\"annotation\":{\"description\":\"exception\",\"attributes\":{"
        "\"exception.type\":\"Error\"");
    text(out, "exception.message", s.error);
    out.append("}}}");
  }
  out.append(
      "]},\"instrumentationLibrary\":{\"name\":\"genkit-tracer\","
      "\"version\":\"v1\"}}");
}

}  // namespace

std::string genkit_trace_data(const std::vector<const Span*>& spans) {
  if (spans.empty()) return "{}";
  std::string out;
  out.reserve(1024 * spans.size());
  out.append("{\"traceId\":");
  append_json_quoted(out, spans.front()->trace_id);
  // A span's later state (its end) replaces its earlier one (its start).
  auto latest = [&spans](std::size_t i) {
    for (std::size_t j = i + 1; j < spans.size(); ++j) {
      if (spans[j]->span_id == spans[i]->span_id) return false;
    }
    return true;
  };
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (!is_root(*spans[i]) || !latest(i)) continue;
    text(out, "displayName", spans[i]->name);
    number(out, "startTime", spans[i]->start_ms);
    number(out, "endTime", spans[i]->end_ms);
  }
  out.append(",\"spans\":{");
  bool first = true;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (!latest(i)) continue;
    if (!first) out.push_back(',');
    first = false;
    append_span(out, *spans[i]);
  }
  out.append("}}");
  return out;
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
  // A trace starts recording only when it can leave: there is a telemetry
  // server, the queue is below half full, and the traces admitted keep to
  // the pace POSTs leave at (one per min_gap, after a burst of
  // kAdmitBurst). Under a load the tools cannot take, whole traces are
  // declined as they start instead of being recorded and dropped.
  sink.admit = [this] {
    if (std::string announced; options_.poll_url && options_.poll_url(&announced)) adopt(std::move(announced));
    auto now = std::chrono::steady_clock::now();
    double refill =
        std::chrono::duration<double>(now - admit_refilled_) / std::chrono::duration<double>(options_.min_gap);
    admit_tokens_ = std::min<double>(kAdmitBurst, admit_tokens_ + refill);
    admit_refilled_ = now;
    if (url_.empty() || admit_tokens_ < 1 || queue_.size() >= options_.max_queue / 2) {
      ++declined_;
      return false;
    }
    admit_tokens_ -= 1;
    return true;
  };
  return sink;
}

bool GenkitTraceExporter::announce(const std::string& url) {
  if (!options_.url.empty()) return false;
  adopt(loopback_url(url));
  if (options_.publish_url) options_.publish_url(url_);
  return true;
}

void GenkitTraceExporter::adopt(std::string url) {
  if (!options_.url.empty() || url == url_) return;
  url_ = std::move(url);
  failing_ = false;
  log_info("genkit_telemetry_server", {{"url", url_}});
  if (!queue_.empty()) send_next();
}

void GenkitTraceExporter::enqueue(const Span& span) {
  if (url_.empty()) return;  // nobody to tell (yet): Genkit drops them too
  if (queue_.size() >= options_.max_queue) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(span);
  if (!in_flight_) send_after_gap();
}

// Deferred at least to the next loop turn (spans ending in one turn leave in
// one POST), and past the gap since the last POST.
void GenkitTraceExporter::send_after_gap() {
  in_flight_ = true;
  using std::chrono::milliseconds;
  auto since = std::chrono::steady_clock::now() - last_post_;
  auto wait = std::chrono::duration_cast<milliseconds>(options_.min_gap - since + std::chrono::microseconds(999));
  auto go = [this] {
    in_flight_ = false;
    send_next();
  };
  // (Someone waits for the queue — an exit, a runAction's last line: no gap.)
  if (wait.count() <= 0 || !flushed_.empty()) return loop_.defer(go);
  if (!gap_) gap_ = std::make_unique<Timer>(loop_.base(), go);
  gap_->start(wait);
}

void GenkitTraceExporter::flush(std::function<void()> done) {
  if (queue_.empty() && !in_flight_) return done();
  flushed_.push_back(std::move(done));
  if (gap_ && gap_->pending()) {  // waiting out the gap: go now
    gap_->cancel();
    in_flight_ = false;
    send_next();
  }
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
  f.body = genkit_trace_data(batch);
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
  last_post_ = std::chrono::steady_clock::now();
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
    if (!queue_.empty()) return send_after_gap();
    send_next();  // (runs the flush callbacks)
  });
}

}  // namespace genkit
