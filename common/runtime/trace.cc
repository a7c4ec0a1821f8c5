#include "common/runtime/trace.h"

#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>

#include "common/runtime/loop.h"

namespace genkit {

namespace {

// Span ids need not be cryptographic; a per-process PRNG seeded from the
// kernel keeps id generation off the syscall path. Forked children reseed
// (an atfork hook) so workers never share a sequence.
bool g_reseed = true;

std::mt19937_64& rng() {
  static std::mt19937_64 gen;
  if (g_reseed) {
    static const bool hooked = pthread_atfork(nullptr, nullptr, [] { g_reseed = true; }) == 0;
    (void)hooked;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(now_unix_ms()) ^ getpid();
    gen.seed(seed);
    g_reseed = false;
  }
  return gen;
}

std::string path_segment(const std::string& name, const std::string& type, const std::string& subtype) {
  std::string seg = "/{" + name + ",t:" + type;
  if (!subtype.empty() && type == "action" && subtype != "flow") seg += ",s:" + subtype;
  return seg + "}";
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  uint64_t word = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    if (i % 8 == 0) word = rng()();
    unsigned b = static_cast<unsigned>(word & 0xff);
    word >>= 8;
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string uuid4() {
  std::string h = random_hex(16);
  h[12] = '4';
  static const char kVariant[] = "89ab";
  h[16] = kVariant[static_cast<unsigned>(rng()()) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

ActiveSpan::ActiveSpan(SpanSink sink, Span span, std::shared_ptr<bool> trace_failed)
    : sink_(std::move(sink)), span_(std::move(span)), trace_failed_(std::move(trace_failed)) {
  if (sink_.on_start) sink_.on_start(span_);
}

ActiveSpan::~ActiveSpan() { finish(); }

std::shared_ptr<ActiveSpan> ActiveSpan::child(std::string name, std::string type, std::string subtype,
                                              std::string input_json) const {
  if (!sink_) {
    // Nothing records spans: every child is the same inert object.
    static const std::shared_ptr<ActiveSpan> kInert = std::make_shared<ActiveSpan>(SpanSink(), Span());
    return kInert;
  }
  Span s;
  s.trace_id = span_.trace_id;
  s.span_id = random_hex(8);
  s.parent_span_id = span_.span_id;
  s.path = span_.path + path_segment(name, type, subtype);
  s.name = std::move(name);
  s.type = std::move(type);
  s.subtype = std::move(subtype);
  s.input = std::move(input_json);
  s.start_ms = now_unix_ms_precise();
  return std::make_shared<ActiveSpan>(sink_, std::move(s), trace_failed_);
}

void ActiveSpan::fail(std::string message) {
  if (!sink_) return;  // (the inert child is shared: it stays untouched)
  span_.ok = false;
  span_.error = std::move(message);
  // Inner spans fail before the spans around them: the first is the source.
  if (trace_failed_ && !*trace_failed_) span_.failure_source = *trace_failed_ = true;
}

void ActiveSpan::finish() {
  if (finished_) return;
  finished_ = true;
  span_.end_ms = now_unix_ms_precise();
  if (sink_) sink_.on_end(span_);
}

std::shared_ptr<ActiveSpan> start_root_span(SpanSink sink, std::string name, std::string subtype,
                                            std::string input_json, std::string trace_id, std::string parent_span_id,
                                            std::string context_json) {
  Span s;
  s.trace_id = trace_id.empty() ? random_hex(16) : std::move(trace_id);
  s.span_id = random_hex(8);
  s.parent_span_id = std::move(parent_span_id);
  s.type = "action";
  s.subtype = std::move(subtype);
  // (Genkit's roots: /{tell_joke,t:flow}, /{get_current_time,t:action}, /{mock/echo,t:action,s:model}.)
  s.path = s.subtype == "flow" ? "/{" + name + ",t:flow}"
                               : path_segment(name, "action", s.subtype == "tool" ? "" : s.subtype);
  s.name = std::move(name);
  s.input = std::move(input_json);
  s.context = std::move(context_json);
  s.start_ms = now_unix_ms_precise();
  auto trace_failed = sink ? std::make_shared<bool>(false) : nullptr;
  return std::make_shared<ActiveSpan>(std::move(sink), std::move(s), std::move(trace_failed));
}

SpanSink admit_trace(const SpanSink& sink) {
  if (!sink || (sink.admit && !sink.admit())) return SpanSink();
  return sink;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'; });
}

}  // namespace genkit
