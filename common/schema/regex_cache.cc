#include "common/schema/regex_cache.h"

#include <map>
#include <memory>
#include <mutex>
#include <regex>

namespace genkit {

namespace {

// Bounds memory when schemas come from outside (prompt files, tests): past the
// cap, patterns are compiled per use rather than cached.
constexpr std::size_t kMaxCachedPatterns = 512;

// nullptr: the pattern does not compile.
std::shared_ptr<const std::regex> compile(const std::string& pattern) {
  try {
    return std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return nullptr;
  }
}

std::shared_ptr<const std::regex> cached(const std::string& pattern, bool* valid) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const std::regex>, std::less<>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(pattern);
    if (it != cache.end()) {
      *valid = it->second != nullptr;
      return it->second;
    }
  }
  std::shared_ptr<const std::regex> re = compile(pattern);
  *valid = re != nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() < kMaxCachedPatterns) cache.emplace(pattern, re);
  return re;
}

}  // namespace

PatternMatch search_pattern(const std::string& pattern, std::string_view subject) {
  bool valid = false;
  std::shared_ptr<const std::regex> re = cached(pattern, &valid);
  if (!valid) return PatternMatch::kInvalidPattern;
  if (subject.size() > kMaxPatternSubjectBytes) return PatternMatch::kSubjectTooLong;
  try {
    return std::regex_search(subject.begin(), subject.end(), *re) ? PatternMatch::kMatch : PatternMatch::kNoMatch;
  } catch (const std::regex_error&) {
    return PatternMatch::kInvalidPattern;  // error_complexity / error_stack while matching
  }
}

}  // namespace genkit
