#include "worker/http_surface.h"

#include "common/api_keys.h"
#include "common/net/host_allow_list.h"
#include "common/net/ip_address.h"
#include "worker/middleware/api_key.h"
#include "worker/middleware/client_address.h"
#include "worker/middleware/cors.h"
#include "worker/middleware/rate_limit.h"
#include "worker/middleware/trusted_hosts.h"

namespace genkit::http {

void install_routes(Router& router, AppContext& app) {
  add_health_routes(router, app);
  add_metrics_routes(router, app);
  add_flow_routes(router, app);
  if (app.config.debug) add_docs_routes(router, app);
  add_flow_server_routes(router, app);
}

void install_gates(Router& router, const Config& config, const ResponsePolicy& policy, SharedState& shared) {
  router.add_gate(make_preflight_gate(policy.cors));
  // (Both lists were validated with the config.)
  Result<HostAllowList> hosts = HostAllowList::parse(config.trusted_hosts);
  if (hosts.ok() && !hosts->empty()) router.add_gate(make_trusted_host_gate(std::move(hosts).value()));
  Result<IpAllowList> proxies = IpAllowList::parse(config.forwarded_allow_ips);
  if (proxies.ok() && !proxies->empty()) router.add_gate(make_client_address_gate(std::move(proxies).value()));
  router.add_gate(make_rate_limit_gate(shared.rate_limiter(), &shared.metrics()));
  ApiKeys keys(config.api_keys);
  if (keys.enabled()) router.add_gate(make_api_key_gate(std::move(keys)));
}

void configure_connections(ServerContext& ctx, const Config& config) {
  ctx.policy = response_policy_for(config);
  ctx.limits.max_body_size = config.max_body_size;
  ctx.limits.keep_alive_timeout_s = config.keep_alive_timeout;
  ctx.limits.read_timeout_s = config.read_timeout;
}

}  // namespace genkit::http
