// genkit-endpoints: parse the configuration, bind, fork the workers, supervise.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "common/config.h"
#include "common/flows/builtins.h"
#include "common/log.h"
#include "common/shm/segment.h"
#include "common/state/shared_state.h"
#include "supervisor/arbiter.h"
#include "supervisor/grpcd_launcher.h"
#include "supervisor/listen_socket.h"
#include "supervisor/reflection_listener.h"
#include "supervisor/socket_activation.h"

extern char** environ;

namespace {

constexpr int kConfigError = 2;

// Each in-flight request holds a client socket and usually an upstream one:
// allow as many descriptors as the hard limit permits.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// The shared segment is reserved page by page: more than half of the
// machine's memory is refused (also by --check-config) rather than left to
// the OOM killer.
std::string segment_description(const genkit::Config& c) {
  return std::to_string(genkit::shm::Segment::bytes_for(genkit::segment_sizes(c))) +
         " bytes of shared memory for CACHE_MAX_SIZE=" + std::to_string(c.cache_max_size) +
         " x CACHE_MAX_ENTRY_BYTES=" + std::to_string(c.cache_max_entry_bytes) +
         " and RATE_LIMIT_TABLE_SIZE=" + std::to_string(c.rate_limit_table_size);
}

genkit::Status segment_fits(const genkit::Config& c) {
  std::size_t bytes = genkit::shm::Segment::bytes_for(genkit::segment_sizes(c));
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0 && bytes > static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size) / 2) {
    return genkit::invalid_argument(segment_description(c) + ": more than half of this machine's memory");
  }
  return genkit::Status::ok();
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "genkit-endpoints: %s\n", message.c_str());
  return code;
}

void configure_logging(const genkit::Config& c) {
  genkit::LogOptions lo;
  genkit::parse_log_level(c.log_level, &lo.level);
  genkit::parse_log_format(c.log_format, &lo.format);
  lo.file = c.log_file;
  lo.process = "supervisor";
  genkit::log_configure(lo);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace genkit;
  ConfigInputs inputs;
  inputs.args.assign(argv + 1, argv + argc);
  inputs.env = environment_map(environ);
  Result<LoadedConfig> loaded = load_config(inputs);
  if (!loaded.ok()) return fail(kConfigError, loaded.status().message() + "\n(see genkit-endpoints --help)");
  const Config& config = loaded->config;
  switch (loaded->action) {
    case CliAction::kHelp: std::fputs(help_text().c_str(), stdout); return 0;
    case CliAction::kVersion: std::printf("genkit-endpoints %s\n", version_string()); return 0;
    default: break;
  }

  if (loaded->action == CliAction::kRun) configure_logging(config);
  Result<PromptList> prompts = load_prompts(config);
  if (!prompts.ok()) return fail(kConfigError, prompts.status().message());
  // A model that cannot run fails now, not in every worker.
  Status models_ok = check_models(config, prompts.value(), loaded->action == CliAction::kRun);
  if (!models_ok.is_ok()) return fail(kConfigError, models_ok.message());
  Result<std::shared_ptr<http::TlsContext>> tls = http::TlsContext::load(config);
  if (!tls.ok()) return fail(kConfigError, tls.status().message());
  Status fits = segment_fits(config);
  if (!fits.is_ok()) return fail(kConfigError, fits.message());
  GrpcPlan grpc;
  if (config.grpc_enabled) {
    Result<std::string> binary = find_grpcd_binary();
    if (!binary.ok()) return fail(kConfigError, binary.status().message());
    grpc.binary = std::move(binary).value();
  }
  if (loaded->action == CliAction::kCheckConfig) {
    std::printf("configuration OK: model %s, %d workers, %zu prompts, listening on %s:%d%s%s\n",
                default_model_name(config).c_str(), config.effective_workers(), prompts->size(),
                config.bind_host.c_str(), config.port, config.tls_cert_file.empty() ? "" : " (TLS)",
                config.grpc_enabled ? (", gRPC on port " + std::to_string(config.grpc_port)).c_str() : ", no gRPC");
    return 0;
  }

  for (const std::string& w : loaded->warnings) log_warning("config_warning", {{"message", w}});
  if (config.trusted_hosts.empty() && !config.debug) {
    log_warning("trusted_hosts_not_set", {{"detail", "any Host header is accepted; set TRUSTED_HOSTS in production"}});
  }

  raise_fd_limit();
  // Before any fork: every worker inherits the mapping.
  Result<std::unique_ptr<shm::Segment>> segment = shm::Segment::create(segment_sizes(config));
  if (!segment.ok()) {
    return fail(kConfigError, "cannot reserve " + segment_description(config) + ": " + segment.status().message());
  }
  log_info("shared_state_ready", {{"bytes", segment.value()->size()}, {"cache_entries", config.cache_max_size},
                                  {"cache_entry_bytes", config.cache_max_entry_bytes},
                                  {"rate_limit_buckets", config.rate_limit_table_size}});
  Result<ActivatedSockets> activated = activated_sockets();
  if (!activated.ok()) return fail(kConfigError, activated.status().message());
  Result<ListenSocket> sock = activated->activated ? Result<ListenSocket>(ListenSocket{activated->http, local_port(activated->http)})
                                                   : bind_listen_socket(config.bind_host, config.port);
  if (!sock.ok()) return fail(1, sock.status().message());
  log_info("listening", {{"host", activated->activated ? std::string("(socket from systemd)") : config.bind_host},
                         {"port", sock->port}, {"tls", !config.tls_cert_file.empty()},
                         {"socket_activated", activated->activated}, {"workers", config.effective_workers()},
                         {"model", default_model_name(config)}, {"version", version_string()}});

  if (activated->grpc >= 0 && !config.grpc_enabled) {
    log_warning("grpc_socket_unused", {{"detail", "systemd passed a \"grpc\" socket but gRPC is off (--no-grpc)"}});
    close(activated->grpc);
  } else if (activated->grpc >= 0) {
    grpc.listen_fd = activated->grpc;
    log_info("grpc_listening", {{"port", local_port(activated->grpc)}, {"socket_activated", true}});
  } else if (config.grpc_enabled) {
    Result<ListenSocket> grpc_sock = bind_listen_socket(config.bind_host, config.grpc_port);
    if (!grpc_sock.ok()) return fail(1, "GRPC_PORT: " + grpc_sock.status().message() + " (or pass --no-grpc)");
    grpc.listen_fd = grpc_sock->fd;
    log_info("grpc_listening", {{"host", config.bind_host}, {"port", grpc_sock->port}});
  }

  ReflectionListener reflection;
  if (config.dev_mode()) {
    Result<ReflectionListener> opened = ReflectionListener::open(config);
    if (!opened.ok()) return fail(1, opened.status().message());
    reflection = std::move(opened).value();
  }

  Arbiter arbiter(std::move(inputs), std::move(loaded).value(), std::move(prompts).value(), std::move(tls).value(),
                  sock->fd, std::move(grpc), segment.value().get(), std::move(reflection));
  return arbiter.run();
}
