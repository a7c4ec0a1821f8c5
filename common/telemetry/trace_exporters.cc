#include "common/telemetry/trace_exporters.h"

namespace genkit {

TraceExporters::TraceExporters(const Config& config, Loop& loop, HttpClient& client)
    : otlp_(make_otlp_exporter(config, loop, client)) {
  if (config.dev_mode() && !config.telemetry_disabled) {
    GenkitTraceOptions o;
    o.url = config.genkit_telemetry_server;
    o.realtime = config.genkit_realtime_telemetry;
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
