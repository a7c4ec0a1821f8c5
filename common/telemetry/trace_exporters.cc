#include "common/telemetry/trace_exporters.h"

#include "common/shm/process_table.h"

namespace genkit {

TraceExporters::TraceExporters(const Config& config, Loop& loop, HttpClient& client, shm::ProcessTable* processes)
    : otlp_(make_otlp_exporter(config, loop, client)) {
  if (config.dev_mode() && !config.telemetry_disabled) {
    GenkitTraceOptions o;
    o.url = config.genkit_telemetry_server;
    o.realtime = config.genkit_realtime_telemetry;
    if (processes) {
      o.publish_url = [processes](const std::string& url) { processes->publish_telemetry_url(url); };
      o.poll_url = [processes, seen = uint64_t{0}](std::string* url) mutable {
        return processes->read_telemetry_url(&seen, url);
      };
    }
    genkit_ = std::make_unique<GenkitTraceExporter>(loop, client, std::move(o));
  }
}

SpanSink TraceExporters::sink() {
  SpanSink otlp = span_sink_for(otlp_.get());
  if (!genkit_) return otlp;
  SpanSink genkit = genkit_->sink();
  if (!otlp) return genkit;
  SpanSink both([o = otlp.on_end, g = genkit.on_end](const Span& s) {
    o(s);
    g(s);
  });
  both.on_start = genkit.on_start;  // (OTLP takes finished spans only)
  // (No admission: OTLP takes every trace; the tools' queue drops its share.)
  return both;
}

void TraceExporters::flush(std::function<void()> done) {
  after_spans_sent(otlp_.get(), [this, done = std::move(done)]() mutable {
    if (!genkit_) return done();
    genkit_->flush(std::move(done));
  });
}

}  // namespace genkit
