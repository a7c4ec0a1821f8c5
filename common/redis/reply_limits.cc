#include "common/redis/reply_limits.h"

#include <hiredis/hiredis.h>

namespace genkit {

namespace {

// hiredis's default functions are static in its library: a reader made
// without functions points at them, and they live as long as the library.
const redisReplyObjectFunctions* hiredis_functions() {
  static const redisReplyObjectFunctions* fn = [] {
    redisReader* reader = redisReaderCreate();
    const redisReplyObjectFunctions* defaults = reader->fn;
    redisReaderFree(reader);
    return defaults;
  }();
  return fn;
}

void* create_bounded_array(const redisReadTask* task, int elements) {
  if (elements < 0 || static_cast<std::size_t>(elements) > kMaxReplyElements) return nullptr;  // hiredis: an error
  return hiredis_functions()->createArray(task, elements);
}

redisReplyObjectFunctions make_bounded_functions() {
  redisReplyObjectFunctions fn = *hiredis_functions();
  fn.createArray = &create_bounded_array;
  return fn;
}

}  // namespace

void bound_replies(redisReader* reader) {
  static redisReplyObjectFunctions bounded = make_bounded_functions();
  reader->fn = &bounded;
}

}  // namespace genkit
