// Routes a request to its handler by exact path, then method (404 / 405).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "worker/exchange.h"

namespace genkit::http {

using Handler = std::function<void(const std::shared_ptr<Exchange>&)>;

class Router {
 public:
  void add(const std::string& method, const std::string& path, Handler handler);
  void handle(const std::shared_ptr<Exchange>& exchange) const;

 private:
  std::map<std::string, std::map<std::string, Handler>> routes_;  // path → method → handler
};

}  // namespace genkit::http
