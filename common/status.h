// Status and Result: the error type every module boundary returns.
// Exceptions never cross an event loop; failures travel as values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace genkit {

// Canonical codes (Genkit's status names; HTTP mapping lives in the transports).
enum class Code {
  kOk = 0,
  kCancelled,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kPermissionDenied,
  kResourceExhausted,
  kFailedPrecondition,
  kUnimplemented,
  kInternal,
  kUnavailable,
  kUnauthenticated,
  kUpstream,  // the model provider failed or replied with garbage (HTTP 502)
};

const char* code_name(Code code);  // "INVALID_ARGUMENT", ...

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // When the caller may try again (rate limit, open circuit): seconds, or -1.
  int64_t retry_after_s() const { return retry_after_s_; }
  Status&& with_retry_after(int64_t seconds) && {
    retry_after_s_ = seconds;
    return std::move(*this);
  }

  // The model provider answered and refused this one request (a 4xx other
  // than 408/429): it is up, so the circuit breaker does not count it.
  bool request_refused_upstream() const { return request_refused_upstream_; }
  Status&& as_request_refused_upstream() && {
    request_refused_upstream_ = true;
    return std::move(*this);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int64_t retry_after_s_ = -1;
  bool request_refused_upstream_ = false;
};

inline Status invalid_argument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
inline Status internal_error(std::string msg) { return {Code::kInternal, std::move(msg)}; }
inline Status not_found(std::string msg) { return {Code::kNotFound, std::move(msg)}; }

// Result<T>: a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}    // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace genkit
