// genkit-endpoints-grpcd: the gRPC daemon. The supervisor fork+execs it
// (grpc++ is not fork-safe, so the supervisor never links it) with the
// configuration it resolved in the environment and three inherited
// descriptors on the command line; it is not meant to be started by hand.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/stubs/logging.h"
#include "common/config.h"
#include "common/flows/builtins.h"
#include "common/log.h"
#include "common/shm/segment.h"
#include "grpcd/daemon.h"

extern char** environ;

namespace {

constexpr const char* kUsage =
    "usage: genkit-endpoints-grpcd --listen-fd N [--shm-fd N] [--control-fd N]\n"
    "The gRPC daemon of genkit-endpoints. The genkit-endpoints supervisor starts it\n"
    "(set GRPC_PORT, or --no-grpc to go without); run genkit-endpoints instead.\n";

bool parse_fd(std::string_view text, int* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= 0;
}

int usage_error(const char* why) {
  std::fprintf(stderr, "genkit-endpoints-grpcd: %s\n%s", why, kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace genkit;
  // Debian builds absl with its mutex deadlock detector on: a cost on every
  // grpc lock for a check meant for grpc's own tests.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // protobuf reports a malformed request (e.g. a string that is not UTF-8)
  // on stderr; the call itself is logged and answered INVALID_ARGUMENT, so
  // its details go to the JSON log at debug level, where a client cannot
  // flood the default output with them.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string& message) {
    genkit::log_debug("protobuf_parse_error", {{"message", message}});
  });
  GrpcdSetup setup;
  int shm_fd = -1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    int* target = arg == "--listen-fd" ? &setup.listen_fd
                  : arg == "--shm-fd"   ? &shm_fd
                  : arg == "--control-fd" ? &setup.control_fd
                                          : nullptr;
    if (!target) return usage_error(("unknown argument " + std::string(arg)).c_str());
    if (i + 1 >= argc || !parse_fd(argv[i + 1], target)) return usage_error("a descriptor number must follow");
    ++i;
  }
  if (setup.listen_fd < 0) return usage_error("--listen-fd is required");

  // The supervisor's resolved settings, from the environment only: a .env
  // edited since it started must not give this process another configuration.
  ConfigInputs inputs;
  inputs.env = environment_map(environ);
  inputs.read_dotenv = false;
  Result<LoadedConfig> loaded = load_config(inputs);
  if (!loaded.ok()) {
    std::fprintf(stderr, "genkit-endpoints-grpcd: %s\n", loaded.status().message().c_str());
    return kBootFailureExit;
  }
  const Config& config = loaded->config;
  LogOptions lo;
  parse_log_level(config.log_level, &lo.level);
  parse_log_format(config.log_format, &lo.format);
  lo.file = config.log_file;
  lo.process = "grpcd";
  log_configure(lo);

  Result<PromptList> prompts = load_prompts(config);
  if (!prompts.ok()) {
    log_error("grpcd_boot_failed", {{"reason", prompts.status().message()}});
    return kBootFailureExit;
  }
  std::unique_ptr<shm::Segment> segment;
  if (shm_fd >= 0) {
    Result<std::unique_ptr<shm::Segment>> attached = shm::Segment::attach(shm_fd);
    if (!attached.ok()) {
      log_error("grpcd_boot_failed", {{"reason", "shared state: " + attached.status().message()}});
      return kBootFailureExit;
    }
    segment = std::move(attached).value();
  }
  setup.config = &config;
  setup.prompts = &prompts.value();
  setup.segment = segment.get();
  return run_grpcd(setup);
}
