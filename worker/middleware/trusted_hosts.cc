#include "worker/middleware/trusted_hosts.h"

#include "worker/errors.h"

namespace genkit::http {

Gate make_trusted_host_gate(HostAllowList hosts) {
  return [hosts = std::move(hosts)](const std::shared_ptr<Exchange>& ex) {
    if (hosts.allows(ex->request().header("host"))) return true;
    ex->respond(error_response(400, "Invalid host header"));
    return false;
  };
}

}  // namespace genkit::http
