#include "worker/errors.h"

#include "common/json.h"

namespace genkit::http {

Response error_response(int status, std::string_view detail) {
  Response r;
  r.status = status;
  r.body = "{\"error\":" + json_quote(reason_phrase(status)) + ",\"detail\":" + json_quote(detail) + "}";
  return r;
}

std::string body_too_large_detail(int64_t max_body) {
  return "request body exceeds the limit of " + std::to_string(max_body) + " bytes";
}

int http_status_for(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kResourceExhausted: return 429;
    case Code::kCancelled: return 499;
    case Code::kUnimplemented: return 501;
    case Code::kUpstream: return 502;
    case Code::kUnavailable: return 503;
    case Code::kDeadlineExceeded: return 504;
    case Code::kInternal: return 500;
  }
  return 500;
}

Response error_response_for(const Status& status) {
  Response r = error_response(http_status_for(status.code()), public_message(status));
  if (status.retry_after_s() >= 0) r.headers.push_back({"Retry-After", std::to_string(status.retry_after_s())});
  return r;
}

const char* genkit_status_name(Code code) {
  return code == Code::kUpstream ? "INTERNAL" : code_name(code);
}

int genkit_status_number(Code code) {
  switch (code) {
    case Code::kOk: return 0;
    case Code::kCancelled: return 1;
    case Code::kInvalidArgument: return 3;
    case Code::kDeadlineExceeded: return 4;
    case Code::kNotFound: return 5;
    case Code::kPermissionDenied: return 7;
    case Code::kResourceExhausted: return 8;
    case Code::kFailedPrecondition: return 9;
    case Code::kUnimplemented: return 12;
    case Code::kUnavailable: return 14;
    case Code::kUnauthenticated: return 16;
    case Code::kInternal:
    case Code::kUpstream: return 13;
  }
  return 13;
}

int genkit_http_status(Code code) {
  switch (code) {
    case Code::kUpstream:
    case Code::kInternal: return 500;
    default: return http_status_for(code);  // the same table for every other code
  }
}

Json genkit_error_json(const Status& status, const Json* details) {
  Json e = Json::object();
  if (details) e.set("details", *details);
  e.set("status", Json::string(genkit_status_name(status.code())));
  e.set("message", Json::string(status.code() == Code::kInternal ? "Internal Error" : status.message()));
  return e;
}

Response genkit_error_response(const Status& status, const Json* details) {
  Response r;
  r.status = genkit_http_status(status.code());
  r.body = genkit_error_json(status, details).dump();
  if (status.retry_after_s() >= 0) r.headers.push_back({"Retry-After", std::to_string(status.retry_after_s())});
  return r;
}

std::string public_message(const Status& status) {
  return http_status_for(status.code()) == 500 ? "The server could not complete the request." : status.message();
}
}  // namespace genkit::http
