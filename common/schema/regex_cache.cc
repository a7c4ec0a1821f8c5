#include "common/schema/regex_cache.h"

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <regex>

namespace genkit {

namespace {

// Bounds memory when schemas come from outside (prompt files, tests): a
// compiled pattern holds up to _GLIBCXX_REGEX_STATE_LIMIT states
// (CMakeLists.txt: ~2 MB), so the cache stays under ~128 MB. Real schemas
// hold a handful of patterns.
constexpr std::size_t kMaxCachedPatterns = 64;

// Numbers past this in a pattern's syntax are refused: libstdc++'s regex
// compiler reads a repetition count ("a{7777777777777777777}") or a
// back-reference ("\\4444444444444444444") into a long that overflows
// (undefined behaviour, found by tests/fuzz/fuzz_json_schema), and a count
// anywhere near that would unroll into an automaton no memory holds anyway.
constexpr long kMaxRegexNumber = 1000;

// Whether the digits from `at` on make a number past kMaxRegexNumber.
bool number_too_large(const std::string& pattern, std::size_t at) {
  long value = 0;
  for (; at < pattern.size() && pattern[at] >= '0' && pattern[at] <= '9'; ++at) {
    if ((value = value * 10 + (pattern[at] - '0')) > kMaxRegexNumber) return true;
  }
  return false;
}

// Whether a quantifier's count ("{n}", "{n,}", "{n,m}") or a back-reference
// of `pattern` is past kMaxRegexNumber. (Literal digits count nothing; a
// brace that is no quantifier is the compiler's to judge.)
bool numbers_too_large(const std::string& pattern) {
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (number_too_large(pattern, i + 1)) return true;
      ++i;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '{') {
      std::size_t comma = pattern.find_first_not_of("0123456789", i + 1);
      if (number_too_large(pattern, i + 1)) return true;
      if (comma != std::string::npos && pattern[comma] == ',' && number_too_large(pattern, comma + 1)) return true;
    }
  }
  return false;
}

// nullptr: the pattern does not compile.
std::shared_ptr<const std::regex> compile(const std::string& pattern) {
  if (numbers_too_large(pattern)) return nullptr;
  // libstdc++'s polynomial mode matches breadth-first (time linear in the
  // subject for a given pattern) instead of backtracking, which a pattern
  // like "(a*)*b" takes exponential time to do (a fuzzer's timeout). It
  // refuses back-references: they would need the backtracking matcher, which
  // a client's string can then keep busy for good ("^(a*)*\\1b$", another
  // timeout), so a pattern with one is unsupported.
  try {
    return std::make_shared<const std::regex>(pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);
  } catch (const std::regex_error&) {
    return nullptr;
  }
}

// The least recently used pattern makes room for a new one.
std::shared_ptr<const std::regex> cached(const std::string& pattern, bool* valid) {
  using Entry = std::pair<std::string, std::shared_ptr<const std::regex>>;
  static std::mutex mu;
  static std::list<Entry> recent;  // most recently used first
  static std::map<std::string_view, std::list<Entry>::iterator, std::less<>> index;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = index.find(pattern);
    if (it != index.end()) {
      recent.splice(recent.begin(), recent, it->second);
      *valid = it->second->second != nullptr;
      return it->second->second;
    }
  }
  std::shared_ptr<const std::regex> re = compile(pattern);
  *valid = re != nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (index.count(pattern)) return re;  // another thread compiled it meanwhile
  if (index.size() == kMaxCachedPatterns) {
    index.erase(recent.back().first);
    recent.pop_back();
  }
  recent.emplace_front(pattern, re);
  index.emplace(recent.front().first, recent.begin());
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
