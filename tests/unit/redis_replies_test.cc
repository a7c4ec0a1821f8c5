// Replies as hiredis's reader makes them of bytes (the client's reader, with
// its bounds): what the state backend's decoders accept, and what they and
// the reader refuse.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "common/redis/reply_limits.h"
#include "common/state/redis_replies.h"

namespace genkit {
namespace {

namespace rr = redis_replies;

struct Read {
  int status = REDIS_ERR;
  int reader_error = 0;
  std::unique_ptr<redisReply, void (*)(void*)> reply{nullptr, &freeReplyObject};
};

Read read_reply(const std::string& bytes) {
  redisReader* reader = redisReaderCreate();
  bound_replies(reader);
  Read out;
  void* reply = nullptr;
  redisReaderFeed(reader, bytes.data(), bytes.size());
  out.status = redisReaderGetReply(reader, &reply);
  out.reader_error = reader->err;
  out.reply.reset(static_cast<redisReply*>(reply));
  redisReaderFree(reader);
  return out;
}

// Found by tests/fuzz/fuzz_redis_reply: hiredis allocated the declared
// count up front (16 GB here) before a single element arrived.
TEST(RedisReplyLimitsTest, AnArrayDeclaringMoreElementsThanTheBoundFailsTheReaderWithoutAllocating) {
  Read r = read_reply("*2000000000\r\n");
  EXPECT_EQ(r.status, REDIS_ERR);
  EXPECT_EQ(r.reader_error, REDIS_ERR_OOM);
  EXPECT_EQ(r.reply, nullptr);
  EXPECT_EQ(read_reply("*" + std::to_string(kMaxReplyElements + 1) + "\r\n").status, REDIS_ERR);
}

TEST(RedisReplyLimitsTest, ArraysWithinTheBoundAreReadAsHiredisReadsThem) {
  std::string bytes = "*" + std::to_string(kMaxReplyElements) + "\r\n";
  for (std::size_t i = 0; i < kMaxReplyElements; ++i) bytes += ":7\r\n";
  Read r = read_reply(bytes);
  ASSERT_EQ(r.status, REDIS_OK);
  ASSERT_NE(r.reply, nullptr);
  EXPECT_EQ(r.reply->elements, kMaxReplyElements);
  EXPECT_EQ(r.reply->element[kMaxReplyElements - 1]->integer, 7);
  Read nested = read_reply("*2\r\n:1\r\n*1\r\n$2\r\nhi\r\n");
  ASSERT_EQ(nested.status, REDIS_OK);
  EXPECT_EQ(std::string(nested.reply->element[1]->element[0]->str), "hi");
}

TEST(RedisRepliesTest, TokenVerdictsAreOneIntegerPerDecisionAsked) {
  Read r = read_reply("*2\r\n:5\r\n:-1500\r\n");
  auto verdicts = rr::token_verdicts(r.reply.get(), 2);
  ASSERT_TRUE(verdicts);
  EXPECT_TRUE((*verdicts)[0].allowed);
  EXPECT_EQ((*verdicts)[0].remaining, 5);
  EXPECT_FALSE((*verdicts)[1].allowed);
  EXPECT_EQ((*verdicts)[1].retry_after_s, 2);  // 1.5 s: the next whole second
  auto edges = rr::token_verdicts(read_reply("*3\r\n:-1000\r\n:-1\r\n:-9223372036854775808\r\n").reply.get(), 3);
  ASSERT_TRUE(edges);
  EXPECT_EQ((*edges)[0].retry_after_s, 1);
  EXPECT_EQ((*edges)[1].retry_after_s, 1);
  EXPECT_EQ((*edges)[2].retry_after_s, 9223372036854776);  // no overflow
  EXPECT_FALSE(rr::token_verdicts(r.reply.get(), 3));
  EXPECT_FALSE(rr::token_verdicts(read_reply("*2\r\n:5\r\n$1\r\n5\r\n").reply.get(), 2));
  EXPECT_FALSE(rr::token_verdicts(nullptr, 0));
}

TEST(RedisRepliesTest, BreakerAdmissionNeedsFourIntegersEndingInAState) {
  auto open = rr::breaker_admission(read_reply("*4\r\n:0\r\n:0\r\n:0\r\n:1\r\n").reply.get());
  ASSERT_TRUE(open);
  EXPECT_FALSE(open->allowed);
  EXPECT_EQ(open->retry_after_s, 1);  // a refusal never says "retry after 0 s"
  EXPECT_EQ(open->state, shm::CircuitState::kOpen);
  auto probe = rr::breaker_admission(read_reply("*4\r\n:1\r\n:1\r\n:0\r\n:2\r\n").reply.get());
  ASSERT_TRUE(probe);
  EXPECT_TRUE(probe->allowed && probe->probe);
  EXPECT_FALSE(rr::breaker_admission(read_reply("*4\r\n:1\r\n:1\r\n:0\r\n:3\r\n").reply.get()));
  EXPECT_FALSE(rr::breaker_admission(read_reply("*3\r\n:1\r\n:1\r\n:0\r\n").reply.get()));
}

TEST(RedisRepliesTest, BreakerStateFieldAndRecordAcceptOnlyTheThreeStates) {
  EXPECT_EQ(rr::breaker_field(read_reply("$-1\r\n").reply.get()), shm::CircuitState::kClosed);
  EXPECT_EQ(rr::breaker_field(read_reply("$1\r\n2\r\n").reply.get()), shm::CircuitState::kHalfOpen);
  EXPECT_FALSE(rr::breaker_field(read_reply("$1\r\n7\r\n").reply.get()));
  EXPECT_FALSE(rr::breaker_field(read_reply("$2\r\n10\r\n").reply.get()));
  EXPECT_EQ(rr::breaker_recorded(read_reply(":1\r\n").reply.get()), shm::CircuitState::kOpen);
  EXPECT_FALSE(rr::breaker_recorded(read_reply(":-1\r\n").reply.get()));
}

TEST(RedisRepliesTest, CacheRepliesAreAMissAValueOrAVerdict) {
  auto miss = rr::cached_value(read_reply("$-1\r\n").reply.get());
  ASSERT_TRUE(miss);
  EXPECT_FALSE(miss->hit);
  Read value = read_reply("$7\r\n{\"a\":1}\r\n");
  auto hit = rr::cached_value(value.reply.get());
  ASSERT_TRUE(hit && hit->hit);
  EXPECT_EQ(hit->text, "{\"a\":1}");
  EXPECT_FALSE(rr::cached_value(read_reply(":1\r\n").reply.get()));

  using Verdict = rr::CacheLookup::Verdict;
  Read found = read_reply("*2\r\n:1\r\n$2\r\n{}\r\n");
  auto lookup = rr::cache_lookup(found.reply.get());
  ASSERT_TRUE(lookup);
  EXPECT_EQ(lookup->verdict, Verdict::kHit);
  EXPECT_EQ(lookup->text, "{}");
  EXPECT_EQ(rr::cache_lookup(read_reply("*1\r\n:2\r\n").reply.get())->verdict, Verdict::kLead);
  EXPECT_EQ(rr::cache_lookup(read_reply("*1\r\n:3\r\n").reply.get())->verdict, Verdict::kWait);
  EXPECT_FALSE(rr::cache_lookup(read_reply("*1\r\n:1\r\n").reply.get()));      // a hit without its value
  EXPECT_FALSE(rr::cache_lookup(read_reply("*2\r\n:1\r\n:5\r\n").reply.get()));  // a value that is not a string
  EXPECT_FALSE(rr::cache_lookup(read_reply("*1\r\n:4\r\n").reply.get()));
}

}  // namespace
}  // namespace genkit
