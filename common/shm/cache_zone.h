// The response cache's zone: a fixed table of entries (TTL + LRU) keyed by a
// SHA-256, with the in-flight marks that coalesce identical misses across
// processes. One robust mutex guards it; every operation is O(1) plus, for a
// hit or a store, one copy of the value (no allocation, no I/O under it).
//
// An entry is free, in flight (a leader process computes it; the bitmap
// names the processes that wait), ready (a value until it expires), failed
// (the leader's error, for its waiters only) or uncached (the leader's value
// was too big to keep; its waiters compute their own). The hash chains, the
// LRU list and the free list are derived from the entries' states, so a
// dead lock owner is repaired by rebuilding them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/shm/process_table.h"
#include "common/shm/robust_mutex.h"

namespace genkit::shm {

struct CacheKey {
  uint8_t bytes[32];
  bool operator==(const CacheKey& o) const;
};

using WaiterSet = std::array<uint64_t, kProcessWords>;  // one bit per process slot

constexpr std::size_t kMaxErrorBytes = 240;

struct CacheEntry {
  CacheKey key;
  uint32_t state;      // CacheZone::State
  uint32_t chain_next; // next entry of the same hash bucket (or of the free list)
  uint32_t lru_prev;
  uint32_t lru_next;
  uint32_t value_len;
  int32_t leader_pid;
  uint64_t flight_id;
  int64_t flight_started_ns;
  int64_t expires_ns;  // ready / failed / uncached: monotonic deadline
  WaiterSet waiters;
  int32_t error_code;
  int32_t retry_after_s;
  uint32_t error_len;
  char error[kMaxErrorBytes];
};

struct CacheZoneHeader {
  RobustMutex mu;
  uint32_t capacity;
  uint32_t index_size;        // power of two
  uint32_t max_value_bytes;
  uint32_t used;
  uint32_t lru_head;          // most recently used
  uint32_t lru_tail;
  uint32_t free_head;
  uint32_t ready;             // entries holding a value (read without the lock)
  uint64_t next_flight_id;
  uint64_t seed;
  uint64_t evictions;         // read without the lock (relaxed)
};

class CacheZone {
 public:
  enum State : uint32_t { kFree = 0, kWriting, kInFlight, kReady, kFailed, kUncached };

  static std::size_t bytes(uint32_t capacity, uint32_t max_value_bytes);
  static Status init(void* at, uint32_t capacity, uint32_t max_value_bytes, uint64_t seed);
  explicit CacheZone(void* at);

  uint32_t capacity() const { return header_->capacity; }
  uint32_t max_value_bytes() const { return header_->max_value_bytes; }

  struct Caller {
    int32_t pid;
    int slot;  // process slot (for the waiters bitmap)
  };

  struct Lookup {
    enum Kind {
      kHit,          // value copied into `out` (value_len bytes)
      kLead,         // you compute it: flight_id is yours
      kJoin,         // another process computes it; you wait on flight_id
      kWait,         // (re-check) the flight you joined is still running
      kFailed,       // (re-check) your flight failed: error copied into `out`
      kUncached,     // (re-check) your flight's value was not kept: compute it yourself
      kUnavailable,  // no entry could be had (all in flight, or the zone is broken): compute uncached
    } kind = kUnavailable;
    uint32_t value_len = 0;   // kHit, kFailed (message bytes in `out`)
    uint64_t flight_id = 0;   // kLead, kJoin, kWait
    int32_t leader_pid = 0;   // kJoin, kWait
    int64_t flight_started_ns = 0;
    int32_t error_code = 0;   // kFailed
    int32_t retry_after_s = -1;
  };

  // A new request passes joined_flight 0; a process re-checking the flight it
  // joined passes its id. `out` must hold max_value_bytes().
  Lookup lookup(const CacheKey& key, uint64_t joined_flight, Caller me, int64_t now_ns, std::span<char> out);

  // The key's value if one is held and fresh (copied into `out`, its length
  // returned), else -1. Unlike lookup, a miss starts nothing.
  int64_t peek(const CacheKey& key, int64_t now_ns, std::span<char> out);

  // Makes `me` the leader of a flight whose leader is gone (dead or stale).
  // False when the flight is no longer the one the caller saw.
  bool take_over(const CacheKey& key, uint64_t flight_id, Caller me, int64_t now_ns, uint64_t* new_flight);

  // The leader's outcomes. Each returns the processes to wake.
  WaiterSet store(const CacheKey& key, std::string_view value, int64_t now_ns, int64_t expires_ns);
  WaiterSet fail(const CacheKey& key, uint64_t flight_id, int32_t code, int32_t retry_after_s,
                 std::string_view message, int64_t expires_ns);
  WaiterSet uncached(const CacheKey& key, uint64_t flight_id, int64_t expires_ns);
  WaiterSet abandon(const CacheKey& key, uint64_t flight_id);

  // Whether a process other than `me` waits on the flight.
  bool others_wait(const CacheKey& key, uint64_t flight_id, Caller me);
  // `me` no longer waits on the flight (its requests went away).
  void leave(const CacheKey& key, uint64_t flight_id, Caller me);

  struct Stats {
    uint32_t entries = 0;      // values held (expired ones included until reused)
    uint64_t evictions = 0;
  };
  Stats stats() const;
  uint64_t evictions() const;

  // Rebuilds the chains, LRU and free lists from the entries (a dead owner).
  static void repair(void* zone);

 private:
  uint32_t find(const CacheKey& key) const;
  uint32_t find_flight(const CacheKey& key, uint64_t flight_id) const;  // the key's entry while that flight runs
  WaiterSet end_flight(uint32_t idx, uint32_t state, int64_t expires_ns);
  bool take_fresh_value(uint32_t idx, int64_t now_ns, std::span<char> out);
  uint32_t bucket_of(const CacheKey& key) const;
  uint32_t acquire_entry(const CacheKey& key, int64_t now_ns);  // free list, else evict the LRU tail
  void begin_flight(uint32_t idx, Caller me, int64_t now_ns, uint64_t* flight);
  void unlink_chain(uint32_t idx);
  void link_chain(uint32_t idx);
  void lru_remove(uint32_t idx);
  void lru_push_front(uint32_t idx);
  void lru_push_back(uint32_t idx);
  void release_entry(uint32_t idx);
  void set_state(CacheEntry& e, uint32_t state);  // keeps the ready count
  char* value_of(uint32_t idx) const;
  WaiterSet take_waiters(CacheEntry& e);
  void rebuild();

  CacheZoneHeader* header_;
  uint32_t* index_;
  CacheEntry* entries_;
  char* values_;
};

void set_waiter(WaiterSet& set, int slot);
void clear_waiter(WaiterSet& set, int slot);
bool any_waiter(const WaiterSet& set);

}  // namespace genkit::shm
