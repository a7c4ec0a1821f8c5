// grpc_load: a closed-loop gRPC load client for bench/grpc.sh. It keeps N
// calls of GenkitService outstanding (each one replaced as soon as it ends)
// over C channels — distinct channel arguments and a local subchannel pool,
// so each channel is its own HTTP/2 connection — driven by T threads, each
// with its own completion queue and its own channels. Unary Health or
// TellJoke, or server-streaming TellStory.
//
//   grpc_load --target HOST:PORT --rpc health|joke|story [--concurrency N]
//             [--channels C] [--threads T] [--duration S] [--warmup S]
//             [--count N] [--timeout-ms MS] [--name NAME] [--topic TOPIC]
//
// Duration mode (default): calls for WARMUP + DURATION seconds; only calls
// that end inside the last DURATION seconds count. Count mode (--count N):
// exactly N calls are started (at most CONCURRENCY at once), all count, and
// DURATION is only a cap. Either way, calls still outstanding at the end are
// cancelled, so the run is bounded by WARMUP + DURATION + a short drain.
//
// Prints one line of key=value pairs:
//   rpc= calls= ok= errors= rps= p50_ms= p90_ms= p99_ms= max_ms= codes=CODE:n,...
// (codes "-" when every call was OK), client_cpu_us_per_call= last
// and for streams also msgs= (messages received), first_p50_ms= first_p99_ms=
// (first message after the call started) and, when the messages carry
// fake_llm's "[sent <µs>us]" stamp (CLOCK_MONOTONIC), stamped= transit_p50_ms=
// transit_p99_ms= transit_max_ms= (arrival of a stream's first message here −
// the stamp of the upstream chunk it carries).
// Channels use grpc's default client stack, as users' clients do.
// Exit status: 0 when the load ran (whatever the call statuses), 1 when a
// channel could not connect, 2 on a usage error.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench/tools/log_histogram.h"
#include "common/shm/metrics.h"
#include "protos/genkit_sample.grpc.pb.h"

namespace {

namespace pb = genkit::sample::v1;

enum class Rpc { kHealth, kJoke, kStory };

struct Options {
  std::string target;
  Rpc rpc = Rpc::kJoke;
  const char* rpc_name = "joke";
  int concurrency = 64;
  int channels = 4;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 1;
  long long count = 0;  // 0: duration mode
  int timeout_ms = 30000;
  std::string name = "bench";
  std::string topic = "a cat";
};

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

constexpr int kCodes = 17;
struct Stats {
  bench::LogHistogram latency, first, transit;  // ns
  long long calls = 0, msgs = 0, stamped = 0;
  long long codes[kCodes + 1] = {};
  void add(const Stats& o) {
    latency.add(o.latency);
    first.add(o.first);
    transit.add(o.transit);
    calls += o.calls;
    msgs += o.msgs;
    stamped += o.stamped;
    for (int i = 0; i <= kCodes; ++i) codes[i] += o.codes[i];
  }
};

struct Worker;

// One call; its address is the completion-queue tag.
struct Call {
  enum class Stage { kUnary, kStreamStart, kStreamRead, kStreamFinish };
  Worker* worker = nullptr;
  grpc::ClientContext ctx;
  grpc::Status status;
  Stage stage = Stage::kUnary;
  int64_t started = 0;
  long long msgs = 0;
  int64_t first_at = 0;     // arrival of a stream's first message
  int64_t transit_ns = -1;  // that arrival − the upstream stamp it carries (-1: none)
  pb::HealthResponse health;
  pb::JokeResponse joke;
  pb::StoryChunk chunk;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::HealthResponse>> health_rpc;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::JokeResponse>> joke_rpc;
  std::unique_ptr<grpc::ClientAsyncReader<pb::StoryChunk>> story_rpc;
};

struct Worker {
  const Options* opt = nullptr;
  std::vector<std::unique_ptr<pb::GenkitService::Stub>> stubs;
  grpc::CompletionQueue cq;
  std::unordered_set<Call*> outstanding;
  std::size_t next_stub = 0;
  long long budget = -1;  // calls this worker may still start (-1: unlimited)
  long long started_calls = 0;
  int64_t window_start = 0, end_at = 0;
  int64_t last_done = 0;
  bool counting_all = false;  // count mode: calls ending after end_at (cancelled) count too
  Stats stats;
  pb::HealthRequest health_req;
  pb::JokeRequest joke_req;
  pb::StoryRequest story_req;

  void start_call() {
    if (budget == 0) return;
    if (budget > 0) --budget;
    auto* c = new Call;
    ++started_calls;
    c->worker = this;
    c->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(opt->timeout_ms));
    pb::GenkitService::Stub& stub = *stubs[next_stub++ % stubs.size()];
    outstanding.insert(c);
    c->started = now_ns();
    switch (opt->rpc) {
      case Rpc::kHealth:
        c->health_rpc = stub.PrepareAsyncHealth(&c->ctx, health_req, &cq);
        c->health_rpc->StartCall();
        c->health_rpc->Finish(&c->health, &c->status, c);
        break;
      case Rpc::kJoke:
        c->joke_rpc = stub.PrepareAsyncTellJoke(&c->ctx, joke_req, &cq);
        c->joke_rpc->StartCall();
        c->joke_rpc->Finish(&c->joke, &c->status, c);
        break;
      case Rpc::kStory:
        c->stage = Call::Stage::kStreamStart;
        c->story_rpc = stub.PrepareAsyncTellStory(&c->ctx, story_req, &cq);
        c->story_rpc->StartCall(c);
        break;
    }
  }

  // A stream's first message; it counts with its call (see finish).
  void on_message(Call* c, int64_t at) {
    if (c->msgs++ != 0) return;
    c->first_at = at;
    const std::string& text = c->chunk.text();
    std::size_t m = text.find("[sent ");
    if (m == std::string::npos) return;
    double sent_us = std::strtod(text.c_str() + m + 6, nullptr);
    c->transit_ns = at - static_cast<int64_t>(sent_us * 1e3);
  }

  void finish(Call* c, int64_t at) {
    outstanding.erase(c);
    if (at >= window_start && (counting_all || at <= end_at)) {
      ++stats.calls;
      int code = c->status.error_code();
      ++stats.codes[code >= 0 && code < kCodes ? code : kCodes];
      if (code == 0) stats.latency.record(at - c->started);
      stats.msgs += c->msgs;
      if (c->msgs > 0) stats.first.record(c->first_at - c->started);
      if (c->transit_ns >= 0) {
        stats.transit.record(c->transit_ns);
        ++stats.stamped;
      }
      last_done = at;
    }
    delete c;
    if (at < end_at) start_call();
  }

  // One completion-queue event.
  void on_event(Call* c, bool ok) {
    int64_t at = now_ns();
    switch (c->stage) {
      case Call::Stage::kUnary:
        return finish(c, at);
      case Call::Stage::kStreamStart:
      case Call::Stage::kStreamRead:
        if (c->stage == Call::Stage::kStreamRead && ok) on_message(c, at);
        if (ok) {
          c->stage = Call::Stage::kStreamRead;
          c->story_rpc->Read(&c->chunk, c);
        } else {
          c->stage = Call::Stage::kStreamFinish;
          c->story_rpc->Finish(&c->status, c);
        }
        return;
      case Call::Stage::kStreamFinish:
        return finish(c, at);
    }
  }

  void run(int concurrency) {
    health_req = pb::HealthRequest();
    joke_req.set_name(opt->name);
    story_req.set_topic(opt->topic);
    for (int i = 0; i < concurrency; ++i) start_call();
    bool cancelled = false;
    for (;;) {
      if (outstanding.empty()) break;
      void* tag = nullptr;
      bool ok = false;
      // grpc's own monotonic clock has another origin: wait on the wall clock.
      int64_t wait = cancelled ? 100'000'000 : std::max<int64_t>(0, end_at - now_ns());
      auto st = cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::nanoseconds(wait));
      if (st == grpc::CompletionQueue::GOT_EVENT) {
        on_event(static_cast<Call*>(tag), ok);
      } else if (st == grpc::CompletionQueue::TIMEOUT && !cancelled && now_ns() >= end_at) {
        for (Call* c : outstanding) c->ctx.TryCancel();  // the run is over: no call may outlive it
        cancelled = true;
      } else if (st == grpc::CompletionQueue::SHUTDOWN) {
        break;
      }
    }
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
  }
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "grpc_load: %s\nusage: grpc_load --target HOST:PORT --rpc health|joke|story [--concurrency N] "
               "[--channels C] [--threads T] [--duration S] [--warmup S] [--count N] [--timeout-ms MS] "
               "[--name NAME] [--topic TOPIC]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--target") o.target = v;
    else if (a == "--rpc") {
      std::string r = v;
      if (r == "health") o.rpc = Rpc::kHealth;
      else if (r == "joke") o.rpc = Rpc::kJoke;
      else if (r == "story") o.rpc = Rpc::kStory;
      else usage("--rpc must be health, joke or story");
      o.rpc_name = r == "health" ? "health" : r == "joke" ? "joke" : "story";
    } else if (a == "--concurrency") o.concurrency = std::atoi(v);
    else if (a == "--channels") o.channels = std::atoi(v);
    else if (a == "--threads") o.threads = std::atoi(v);
    else if (a == "--duration") o.duration_s = std::atof(v);
    else if (a == "--warmup") o.warmup_s = std::atof(v);
    else if (a == "--count") o.count = std::atoll(v);
    else if (a == "--timeout-ms") o.timeout_ms = std::atoi(v);
    else if (a == "--name") o.name = v;
    else if (a == "--topic") o.topic = v;
    else usage(("unknown option " + a).c_str());
  }
  if (o.target.empty()) usage("--target is required");
  if (o.concurrency < 1 || o.concurrency > 100000) usage("--concurrency must be 1..100000");
  if (o.threads < 1 || o.threads > 64) usage("--threads must be 1..64");
  if (o.channels < o.threads || o.channels > 1024) usage("--channels must be THREADS..1024");
  if (o.concurrency < o.threads) usage("--concurrency must be at least --threads");
  if (!(o.duration_s > 0 && o.duration_s <= 3600)) usage("--duration must be in (0, 3600]");
  if (!(o.warmup_s >= 0 && o.warmup_s <= 600)) usage("--warmup must be in [0, 600]");
  if (o.count < 0) usage("--count must be >= 0");
  if (o.timeout_ms < 1) usage("--timeout-ms must be >= 1");
  if (o.count > 0) o.warmup_s = 0;
  return o;
}

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < opt.threads; ++t) {
    workers.push_back(std::make_unique<Worker>());
    workers.back()->opt = &opt;
  }
  const auto connect_by = std::chrono::system_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < opt.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("genkit.bench.channel", i);  // distinct arguments: a connection of its own
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
    // Otherwise a default client's stack: grpcd recycles its connections
    // (max_connection_age, graceful GOAWAY), and a default client retries a
    // call caught in that GOAWAY transparently (GRPC_ARG_MINIMAL_STACK would
    // drop that, and fail it with UNAVAILABLE).
    auto channel = grpc::CreateCustomChannel(opt.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(connect_by)) {
      std::fprintf(stderr, "grpc_load: channel %d could not connect to %s\n", i, opt.target.c_str());
      return 1;
    }
    workers[static_cast<std::size_t>(i % opt.threads)]->stubs.push_back(pb::GenkitService::NewStub(channel));
  }

  const int64_t start = now_ns();
  const int64_t window_start = start + static_cast<int64_t>(opt.warmup_s * 1e9);
  const int64_t end_at = window_start + static_cast<int64_t>(opt.duration_s * 1e9);
  std::vector<std::thread> threads;
  for (int t = 0; t < opt.threads; ++t) {
    Worker& w = *workers[static_cast<std::size_t>(t)];
    w.window_start = window_start;
    w.end_at = end_at;
    int share = opt.concurrency / opt.threads + (t < opt.concurrency % opt.threads ? 1 : 0);
    w.counting_all = opt.count > 0;
    if (opt.count > 0) w.budget = opt.count / opt.threads + (t < opt.count % opt.threads ? 1 : 0);
    threads.emplace_back([&w, share] { w.run(share); });
  }
  for (auto& th : threads) th.join();

  Stats all;
  int64_t last_done = start;
  long long total_started = 0;
  for (auto& w : workers) {
    total_started += w->started_calls;
    all.add(w->stats);
    last_done = std::max(last_done, w->last_done);
  }
  const long long ok = all.codes[0];
  // Duration mode: calls ended in the window / its length. Count mode: all
  // calls / the time until the last one ended.
  const double secs = opt.count > 0 ? std::max(1e-9, static_cast<double>(last_done - start) / 1e9) : opt.duration_s;
  std::string codes;
  for (int i = 1; i <= kCodes; ++i) {
    if (all.codes[i] == 0) continue;
    if (!codes.empty()) codes += ',';
    codes += i < kCodes ? genkit::shm::grpc_status_name(i) : "OTHER";
    codes += ':';
    codes += std::to_string(all.codes[i]);
  }
  std::printf(
      "rpc=%s concurrency=%d channels=%d threads=%d calls=%lld ok=%lld errors=%lld rps=%.1f p50_ms=%.3f "
      "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f codes=%s",
      opt.rpc_name, opt.concurrency, opt.channels, opt.threads, all.calls, ok, all.calls - ok,
      static_cast<double>(ok) / secs, ms(all.latency.percentile(50)), ms(all.latency.percentile(90)),
      ms(all.latency.percentile(99)), ms(all.latency.max), codes.empty() ? "-" : codes.c_str());
  if (opt.rpc == Rpc::kStory) {
    std::printf(" msgs=%lld first_p50_ms=%.3f first_p99_ms=%.3f stamped=%lld", all.msgs,
                ms(all.first.percentile(50)), ms(all.first.percentile(99)), all.stamped);
    if (all.stamped > 0)
      std::printf(" transit_p50_ms=%.3f transit_p99_ms=%.3f transit_max_ms=%.3f", ms(all.transit.percentile(50)),
                  ms(all.transit.percentile(99)), ms(all.transit.max));
  }
  // This client's own CPU per call (all threads, connection set-up included):
  // on a small machine it shares the CPUs with the server it measures.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu_us = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  std::printf(" client_cpu_us_per_call=%.1f\n", cpu_us / static_cast<double>(std::max<long long>(1, total_started)));
  return 0;
}
