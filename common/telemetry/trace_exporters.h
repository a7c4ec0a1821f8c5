// The span exporters of one process: OTLP to a collector when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, and in dev mode (GENKIT_ENV=dev) the
// Genkit tools' telemetry server. GENKIT_TELEMETRY_DISABLED turns both off.
#pragma once

#include <functional>
#include <memory>

#include "common/config.h"
#include "common/net/http_client.h"
#include "common/runtime/loop.h"
#include "common/runtime/trace.h"
#include "common/telemetry/genkit_trace_exporter.h"
#include "common/telemetry/otlp_exporter.h"

namespace genkit {

namespace shm {
class ProcessTable;
}

class TraceExporters {
 public:
  // `processes` (may be null): where the telemetry URL the tools announce to
  // one process is shared with the others.
  TraceExporters(const Config& config, Loop& loop, HttpClient& client, shm::ProcessTable* processes = nullptr);

  // Where a runtime's spans go; empty (nothing recorded) when no exporter runs.
  SpanSink sink();
  GenkitTraceExporter* genkit() { return genkit_.get(); }  // null outside dev mode
  // Runs `done` once the spans queued now have left: how a process lets its
  // last spans go before it exits.
  void flush(std::function<void()> done);

 private:
  std::unique_ptr<OtlpExporter> otlp_;
  std::unique_ptr<GenkitTraceExporter> genkit_;
};

}  // namespace genkit
