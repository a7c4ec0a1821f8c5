// Structured logging: JSON lines by default, a readable console format in
// debug. Every line carries ts, level, event, pid and process; request lines
// add request_id. Writes are single write(2) calls of whole lines.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace genkit {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kJson, kConsole };

struct LogField {
  enum class Kind { kString, kInt, kDouble, kBool };
  LogField(std::string_view k, std::string_view v) : key(k), kind(Kind::kString), s(v) {}
  LogField(std::string_view k, const char* v) : key(k), kind(Kind::kString), s(v ? v : "") {}
  LogField(std::string_view k, const std::string& v) : key(k), kind(Kind::kString), s(v) {}
  LogField(std::string_view k, int v) : key(k), kind(Kind::kInt), i(v) {}
  LogField(std::string_view k, long v) : key(k), kind(Kind::kInt), i(v) {}
  LogField(std::string_view k, long long v) : key(k), kind(Kind::kInt), i(v) {}
  LogField(std::string_view k, unsigned v) : key(k), kind(Kind::kInt), i(v) {}
  LogField(std::string_view k, unsigned long v) : key(k), kind(Kind::kInt), i(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), kind(Kind::kDouble), d(v) {}
  LogField(std::string_view k, bool v) : key(k), kind(Kind::kBool), b(v) {}

  std::string_view key;
  Kind kind;
  std::string_view s;
  int64_t i = 0;
  double d = 0;
  bool b = false;
};

struct LogOptions {
  LogFormat format = LogFormat::kJson;
  LogLevel level = LogLevel::kInfo;
  std::string process = "main";  // "supervisor", "worker-1", ...
  std::string file;              // "" → stdout
};

// Process-wide logger settings. Call again after fork to rename the process.
void log_configure(const LogOptions& options);
// Re-opens LOG_FILE (SIGUSR1). No-op when logging to stdout.
void log_reopen();
bool log_enabled(LogLevel level);
void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

inline void log_debug(std::string_view e, std::initializer_list<LogField> f = {}) { log(LogLevel::kDebug, e, f); }
inline void log_info(std::string_view e, std::initializer_list<LogField> f = {}) { log(LogLevel::kInfo, e, f); }
inline void log_warning(std::string_view e, std::initializer_list<LogField> f = {}) { log(LogLevel::kWarning, e, f); }
inline void log_error(std::string_view e, std::initializer_list<LogField> f = {}) { log(LogLevel::kError, e, f); }

// Parses "debug|info|warning|error" / "json|console"; false on unknown text.
bool parse_log_level(std::string_view text, LogLevel* out);
bool parse_log_format(std::string_view text, LogFormat* out);

}  // namespace genkit
