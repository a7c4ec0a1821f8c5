#include "common/telemetry/otlp_exporter.h"

#include <cctype>
#include <cstdint>

#include "common/log.h"

namespace genkit {

namespace {

Json attribute(const char* key, Json value_of_kind, const char* kind) {
  Json value = Json::object();
  value.set(kind, std::move(value_of_kind));
  Json a = Json::object();
  a.set("key", Json::string(key));
  a.set("value", std::move(value));
  return a;
}

Json str_attr(const char* key, const std::string& v) { return attribute(key, Json::string(v), "stringValue"); }

std::string nanos(double ms) {
  return std::to_string(static_cast<uint64_t>(ms * 1e6));
}

Json span_json(const Span& s) {
  Json attrs = Json::array();
  attrs.push(str_attr("genkit:type", s.type));
  if (!s.subtype.empty()) attrs.push(str_attr("genkit:metadata:subtype", s.subtype));
  attrs.push(str_attr("genkit:name", s.name));
  attrs.push(str_attr("genkit:path", s.path));
  if (!s.input.empty()) attrs.push(str_attr("genkit:input", s.input));
  if (!s.output.empty()) attrs.push(str_attr("genkit:output", s.output));
  attrs.push(str_attr("genkit:state", s.ok ? "success" : "error"));
  if (s.parent_span_id.empty()) attrs.push(attribute("genkit:isRoot", Json::boolean(true), "boolValue"));
  Json status = Json::object();
  status.set("code", Json::number(s.ok ? 1 : 2));
  if (!s.ok) status.set("message", Json::string(s.error));
  Json out = Json::object();
  out.set("traceId", Json::string(s.trace_id));
  out.set("spanId", Json::string(s.span_id));
  if (!s.parent_span_id.empty()) out.set("parentSpanId", Json::string(s.parent_span_id));
  out.set("name", Json::string(s.name));
  out.set("kind", Json::number(1));  // SPAN_KIND_INTERNAL
  out.set("startTimeUnixNano", Json::string(nanos(s.start_ms)));
  out.set("endTimeUnixNano", Json::string(nanos(s.end_ms)));
  out.set("attributes", std::move(attrs));
  out.set("status", std::move(status));
  return out;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Json otlp_request_body(const std::deque<Span>& spans, std::size_t count, const std::string& service_name) {
  Json list = Json::array();
  for (std::size_t i = 0; i < count && i < spans.size(); ++i) list.push(span_json(spans[i]));
  Json scope = Json::object();
  scope.set("name", Json::string("genkit-tracer"));
  scope.set("version", Json::string("v1"));
  Json scope_spans = Json::object();
  scope_spans.set("scope", std::move(scope));
  scope_spans.set("spans", std::move(list));
  Json resource_attrs = Json::array();
  resource_attrs.push(str_attr("service.name", service_name));
  Json resource = Json::object();
  resource.set("attributes", std::move(resource_attrs));
  Json rs = Json::object();
  rs.set("resource", std::move(resource));
  Json ss = Json::array();
  ss.push(std::move(scope_spans));
  rs.set("scopeSpans", std::move(ss));
  Json all = Json::array();
  all.push(std::move(rs));
  Json body = Json::object();
  body.set("resourceSpans", std::move(all));
  return body;
}

bool parse_traceparent(std::string_view h, std::string* trace_id, std::string* parent_span_id) {
  // version "-" trace-id "-" parent-id "-" flags; version 00 is exactly 55
  // characters, later versions may append "-..." fields.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return false;
  std::string_view version = h.substr(0, 2), trace = h.substr(3, 32), parent = h.substr(36, 16),
                   flags = h.substr(53, 2);
  if (!is_hex(version) || version == "ff" || !is_hex(trace) || !is_hex(parent) || !is_hex(flags)) return false;
  if (version == "00" ? h.size() != 55 : (h.size() > 55 && h[55] != '-')) return false;
  if (trace == std::string(32, '0') || parent == std::string(16, '0')) return false;
  *trace_id = std::string(trace);
  *parent_span_id = std::string(parent);
  return true;
}

OtlpExporter::OtlpExporter(Loop& loop, HttpClient& client, OtlpOptions options)
    : loop_(loop), client_(client), options_(std::move(options)) {}

void OtlpExporter::enqueue(const Span& span) {
  if (queue_.size() >= options_.max_queue) {
    queue_.pop_front();  // keep the newest: they are what an operator looks for
    ++dropped_;
  }
  queue_.push_back(span);
  if (queue_.size() >= options_.batch_size) {
    send_batch();
  } else {
    schedule();
  }
}

void OtlpExporter::schedule() {
  if (timer_ && timer_->pending()) return;
  if (!timer_) timer_ = std::make_unique<Timer>(loop_.base(), [this] { send_batch(); });
  timer_->start(options_.flush_interval);
}

void OtlpExporter::flush(std::function<void()> done) {
  flushed_ = std::move(done);
  if (queue_.empty() && !in_flight_) {
    if (flushed_) std::exchange(flushed_, {})();
    return;
  }
  send_batch();
}

void OtlpExporter::send_batch() {
  if (in_flight_ || queue_.empty()) return;
  std::size_t n = std::min(queue_.size(), options_.batch_size);
  HttpFetch f;
  f.url = options_.endpoint + "/v1/traces";
  f.headers = {{"Content-Type", "application/json"}};
  f.body = otlp_request_body(queue_, n, options_.service_name).dump();
  f.timeout = options_.timeout;
  f.max_response_bytes = 64 * 1024;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  in_flight_ = true;
  client_.fetch(std::move(f), CancelToken(), [this, n](Result<HttpFetchResult> r) {
    in_flight_ = false;
    if (!r.ok() || r->status / 100 != 2) {
      dropped_ += n;
      log_warning("otlp_export_failed", {{"spans", n},
                                         {"reason", r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message()}});
      if (flushed_) return std::exchange(flushed_, {})();
      if (!queue_.empty()) schedule();  // the next batch gets its own chance
      return;
    }
    exported_ += n;
    if (!queue_.empty()) {
      if (flushed_ || queue_.size() >= options_.batch_size) return send_batch();
      schedule();
    } else if (flushed_) {
      std::exchange(flushed_, {})();
    }
  });
}

std::unique_ptr<OtlpExporter> make_otlp_exporter(const Config& config, Loop& loop, HttpClient& client) {
  if (config.otel_endpoint.empty() || config.telemetry_disabled) return nullptr;
  OtlpOptions o;
  o.endpoint = config.otel_endpoint;
  o.service_name = config.otel_service_name;
  return std::make_unique<OtlpExporter>(loop, client, o);
}

void after_spans_sent(OtlpExporter* exporter, std::function<void()> done) {
  if (exporter) return exporter->flush(std::move(done));
  done();
}

SpanSink span_sink_for(OtlpExporter* exporter) {
  if (!exporter) return {};
  return [exporter](const Span& s) { exporter->enqueue(s); };
}

}  // namespace genkit
