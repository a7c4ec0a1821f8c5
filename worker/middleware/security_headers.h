// SecurityHeaders of the seed's stack: the OWASP headers on every response,
// errors, 404/405 and SSE streams included (X-XSS-Protection deliberately
// absent, as OWASP advises). HSTS only when the request came over TLS.
#pragma once

#include <vector>

#include "worker/http_types.h"
#include "worker/response_policy.h"

namespace genkit::http {

void add_security_headers(std::vector<HeadField>& fields, const ResponsePolicy& policy, bool secure);

}  // namespace genkit::http
