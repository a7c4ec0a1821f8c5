#include "common/shm/cache_zone.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/shm/align.h"
#include "common/shm/counters.h"

namespace genkit::shm {

namespace {

constexpr uint32_t kNone = 0xFFFFFFFFu;

uint32_t index_size_for(uint32_t capacity) {
  uint32_t n = 1;
  while (n < capacity) n <<= 1;
  return n;
}

struct Offsets {
  std::size_t index, entries, values, total;
};

Offsets offsets(uint32_t capacity, uint32_t max_value_bytes) {
  Offsets o{};
  o.index = align64(sizeof(CacheZoneHeader));
  o.entries = o.index + align64(sizeof(uint32_t) * index_size_for(capacity));
  o.values = o.entries + align64(sizeof(CacheEntry) * capacity);
  o.total = o.values + align64(static_cast<std::size_t>(capacity) * max_value_bytes);
  return o;
}

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool lru_member(uint32_t state) {
  return state == CacheZone::kReady || state == CacheZone::kFailed || state == CacheZone::kUncached;
}

}  // namespace

bool CacheKey::operator==(const CacheKey& o) const { return std::memcmp(bytes, o.bytes, sizeof bytes) == 0; }

void set_waiter(WaiterSet& set, int slot) {
  if (slot >= 0 && slot < kMaxProcesses) set[slot / 64] |= uint64_t{1} << (slot % 64);
}

void clear_waiter(WaiterSet& set, int slot) {
  if (slot >= 0 && slot < kMaxProcesses) set[slot / 64] &= ~(uint64_t{1} << (slot % 64));
}

bool any_waiter(const WaiterSet& set) {
  return std::any_of(set.begin(), set.end(), [](uint64_t w) { return w != 0; });
}

std::size_t CacheZone::bytes(uint32_t capacity, uint32_t max_value_bytes) {
  return offsets(capacity, max_value_bytes).total;
}

Status CacheZone::init(void* at, uint32_t capacity, uint32_t max_value_bytes, uint64_t seed) {
  Offsets o = offsets(capacity, max_value_bytes);
  std::memset(at, 0, o.entries);  // header + index; entries and values are zero already (fresh segment)
  auto* h = new (at) CacheZoneHeader{};
  Status s = init_robust_mutex(&h->mu);
  if (!s.is_ok()) return s;
  h->capacity = capacity;
  h->index_size = index_size_for(capacity);
  h->max_value_bytes = max_value_bytes;
  h->seed = seed;
  CacheZone zone(at);
  zone.rebuild();
  return Status::ok();
}

CacheZone::CacheZone(void* at) : header_(static_cast<CacheZoneHeader*>(at)) {
  Offsets o = offsets(header_->capacity, header_->max_value_bytes);
  char* base = static_cast<char*>(at);
  index_ = reinterpret_cast<uint32_t*>(base + o.index);
  entries_ = reinterpret_cast<CacheEntry*>(base + o.entries);
  values_ = base + o.values;
}

char* CacheZone::value_of(uint32_t idx) const {
  return values_ + static_cast<std::size_t>(idx) * header_->max_value_bytes;
}

uint32_t CacheZone::bucket_of(const CacheKey& key) const {
  uint64_t k;
  std::memcpy(&k, key.bytes, sizeof k);
  return static_cast<uint32_t>(mix64(k ^ header_->seed)) & (header_->index_size - 1);
}

uint32_t CacheZone::find(const CacheKey& key) const {
  uint32_t idx = index_[bucket_of(key)];
  // Bounded walk: a chain is never longer than the table.
  for (uint32_t steps = 0; idx != kNone && steps < header_->capacity; ++steps) {
    if (idx >= header_->capacity) return kNone;
    if (entries_[idx].key == key) return idx;
    idx = entries_[idx].chain_next;
  }
  return kNone;
}

void CacheZone::link_chain(uint32_t idx) {
  uint32_t b = bucket_of(entries_[idx].key);
  entries_[idx].chain_next = index_[b];
  index_[b] = idx;
}

void CacheZone::unlink_chain(uint32_t idx) {
  uint32_t* link = &index_[bucket_of(entries_[idx].key)];
  for (uint32_t steps = 0; *link != kNone && steps < header_->capacity; ++steps) {
    if (*link == idx) {
      *link = entries_[idx].chain_next;
      return;
    }
    link = &entries_[*link].chain_next;
  }
}

void CacheZone::lru_remove(uint32_t idx) {
  CacheEntry& e = entries_[idx];
  if (e.lru_prev != kNone) entries_[e.lru_prev].lru_next = e.lru_next;
  else if (header_->lru_head == idx) header_->lru_head = e.lru_next;
  if (e.lru_next != kNone) entries_[e.lru_next].lru_prev = e.lru_prev;
  else if (header_->lru_tail == idx) header_->lru_tail = e.lru_prev;
  e.lru_prev = e.lru_next = kNone;
}

void CacheZone::lru_push_front(uint32_t idx) {
  CacheEntry& e = entries_[idx];
  e.lru_prev = kNone;
  e.lru_next = header_->lru_head;
  if (header_->lru_head != kNone) entries_[header_->lru_head].lru_prev = idx;
  header_->lru_head = idx;
  if (header_->lru_tail == kNone) header_->lru_tail = idx;
}

void CacheZone::lru_push_back(uint32_t idx) {
  CacheEntry& e = entries_[idx];
  e.lru_next = kNone;
  e.lru_prev = header_->lru_tail;
  if (header_->lru_tail != kNone) entries_[header_->lru_tail].lru_next = idx;
  header_->lru_tail = idx;
  if (header_->lru_head == kNone) header_->lru_head = idx;
}

void CacheZone::set_state(CacheEntry& e, uint32_t state) {
  if (e.state == kReady) write_relaxed(header_->ready, header_->ready - 1);
  if (state == kReady) write_relaxed(header_->ready, header_->ready + 1);
  e.state = state;
}

void CacheZone::release_entry(uint32_t idx) {
  CacheEntry& e = entries_[idx];
  if (lru_member(e.state)) lru_remove(idx);
  unlink_chain(idx);
  set_state(e, kFree);
  e.chain_next = header_->free_head;
  header_->free_head = idx;
  --header_->used;
}

// A free entry, else the least recently used finished one. The entry comes
// back unchained, in state kFree, with its key set.
uint32_t CacheZone::acquire_entry(const CacheKey& key, int64_t now_ns) {
  uint32_t idx = header_->free_head;
  if (idx != kNone) {
    header_->free_head = entries_[idx].chain_next;
  } else {
    idx = header_->lru_tail;
    if (idx == kNone) return kNone;  // every entry is in flight
    CacheEntry& victim = entries_[idx];
    if (victim.state == kReady && victim.expires_ns > now_ns) bump_shared(header_->evictions);
    lru_remove(idx);
    unlink_chain(idx);
    set_state(victim, kFree);
    fault_point("cache.evict");
    --header_->used;
  }
  CacheEntry& e = entries_[idx];
  e.key = key;
  e.chain_next = e.lru_prev = e.lru_next = kNone;
  ++header_->used;
  return idx;
}

void CacheZone::begin_flight(uint32_t idx, Caller me, int64_t now_ns, uint64_t* flight) {
  CacheEntry& e = entries_[idx];
  bool chained = e.state != kFree;
  if (lru_member(e.state)) lru_remove(idx);
  e.flight_id = ++header_->next_flight_id;
  e.leader_pid = me.pid;
  e.flight_started_ns = now_ns;
  e.waiters = WaiterSet{};
  e.value_len = 0;
  e.error_len = 0;
  set_state(e, kInFlight);
  fault_point("cache.begin_flight");
  if (!chained) link_chain(idx);
  *flight = e.flight_id;
}

WaiterSet CacheZone::take_waiters(CacheEntry& e) {
  WaiterSet w = e.waiters;
  e.waiters = WaiterSet{};
  return w;
}

CacheZone::Lookup CacheZone::lookup(const CacheKey& key, uint64_t joined_flight, Caller me, int64_t now_ns,
                                    std::span<char> out) {
  Lookup r;
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  if (!lock.held()) return r;
  uint32_t idx = find(key);
  if (idx == kNone) {
    idx = acquire_entry(key, now_ns);
    if (idx == kNone) return r;
    begin_flight(idx, me, now_ns, &r.flight_id);
    r.kind = Lookup::kLead;
    return r;
  }
  CacheEntry& e = entries_[idx];
  bool mine = joined_flight != 0 && e.flight_id == joined_flight;
  switch (e.state) {
    case kReady:
      if (take_fresh_value(idx, now_ns, out)) {
        r.kind = Lookup::kHit;
        r.value_len = e.value_len;
        return r;
      }
      break;
    case kInFlight:
      r.flight_id = e.flight_id;
      r.leader_pid = e.leader_pid;
      r.flight_started_ns = e.flight_started_ns;
      if (mine) {
        r.kind = Lookup::kWait;
      } else {
        set_waiter(e.waiters, me.slot);
        r.kind = Lookup::kJoin;
      }
      return r;
    case kFailed:
      if (mine) {
        r.kind = Lookup::kFailed;
        r.error_code = e.error_code;
        r.retry_after_s = e.retry_after_s;
        r.value_len = static_cast<uint32_t>(std::min<std::size_t>({e.error_len, kMaxErrorBytes, out.size()}));
        std::memcpy(out.data(), e.error, r.value_len);
        return r;
      }
      break;
    case kUncached:
      if (mine) {
        r.kind = Lookup::kUncached;
        return r;
      }
      break;
    default: break;
  }
  // Expired, or another flight's failure: this request starts a new flight.
  begin_flight(idx, me, now_ns, &r.flight_id);
  r.kind = Lookup::kLead;
  return r;
}

// A ready, unexpired value is copied out and becomes the most recently used.
bool CacheZone::take_fresh_value(uint32_t idx, int64_t now_ns, std::span<char> out) {
  const CacheEntry& e = entries_[idx];
  if (e.state != kReady || e.expires_ns <= now_ns || e.value_len > out.size()) return false;
  std::memcpy(out.data(), value_of(idx), e.value_len);
  lru_remove(idx);
  lru_push_front(idx);
  return true;
}

int64_t CacheZone::peek(const CacheKey& key, int64_t now_ns, std::span<char> out) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find(key) : kNone;
  if (idx == kNone || !take_fresh_value(idx, now_ns, out)) return -1;
  return entries_[idx].value_len;
}

uint32_t CacheZone::find_flight(const CacheKey& key, uint64_t flight_id) const {
  uint32_t idx = find(key);
  if (idx == kNone || entries_[idx].state != kInFlight || entries_[idx].flight_id != flight_id) return kNone;
  return idx;
}

bool CacheZone::take_over(const CacheKey& key, uint64_t flight_id, Caller me, int64_t now_ns, uint64_t* new_flight) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find_flight(key, flight_id) : kNone;
  if (idx == kNone) return false;
  CacheEntry& e = entries_[idx];
  e.flight_id = ++header_->next_flight_id;
  e.leader_pid = me.pid;
  e.flight_started_ns = now_ns;
  clear_waiter(e.waiters, me.slot);
  *new_flight = e.flight_id;
  return true;
}

WaiterSet CacheZone::store(const CacheKey& key, std::string_view value, int64_t now_ns, int64_t expires_ns) {
  WaiterSet woken{};
  if (value.size() > header_->max_value_bytes) return woken;
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  if (!lock.held()) return woken;
  uint32_t idx = find(key);
  bool chained = idx != kNone;
  if (!chained) {
    idx = acquire_entry(key, now_ns);
    if (idx == kNone) return woken;
  }
  CacheEntry& e = entries_[idx];
  if (e.state == kInFlight) woken = take_waiters(e);
  if (lru_member(e.state)) lru_remove(idx);
  // kWriting until the value is whole: a dead writer's entry is dropped by repair.
  set_state(e, kWriting);
  std::memcpy(value_of(idx), value.data(), value.size());
  fault_point("cache.store.copy");
  e.value_len = static_cast<uint32_t>(value.size());
  e.expires_ns = expires_ns;
  set_state(e, kReady);
  if (!chained) link_chain(idx);
  lru_push_front(idx);
  return woken;
}

// A failed or uncached outcome only serves the flight's waiters: it goes to
// the LRU tail, the first to be reused.
WaiterSet CacheZone::end_flight(uint32_t idx, uint32_t state, int64_t expires_ns) {
  CacheEntry& e = entries_[idx];
  WaiterSet woken = take_waiters(e);
  e.expires_ns = expires_ns;
  set_state(e, state);
  lru_push_back(idx);
  return woken;
}

WaiterSet CacheZone::fail(const CacheKey& key, uint64_t flight_id, int32_t code, int32_t retry_after_s,
                          std::string_view message, int64_t expires_ns) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find_flight(key, flight_id) : kNone;
  if (idx == kNone) return {};
  CacheEntry& e = entries_[idx];
  e.error_code = code;
  e.retry_after_s = retry_after_s;
  e.error_len = static_cast<uint32_t>(std::min(message.size(), kMaxErrorBytes));
  std::memcpy(e.error, message.data(), e.error_len);
  return end_flight(idx, kFailed, expires_ns);
}

WaiterSet CacheZone::uncached(const CacheKey& key, uint64_t flight_id, int64_t expires_ns) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find_flight(key, flight_id) : kNone;
  if (idx == kNone) return {};
  return end_flight(idx, kUncached, expires_ns);
}

WaiterSet CacheZone::abandon(const CacheKey& key, uint64_t flight_id) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find_flight(key, flight_id) : kNone;
  if (idx == kNone) return {};
  WaiterSet woken = take_waiters(entries_[idx]);
  release_entry(idx);
  return woken;
}

bool CacheZone::others_wait(const CacheKey& key, uint64_t flight_id, Caller me) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find_flight(key, flight_id) : kNone;
  if (idx == kNone) return false;
  WaiterSet w = entries_[idx].waiters;
  clear_waiter(w, me.slot);
  return any_waiter(w);
}

void CacheZone::leave(const CacheKey& key, uint64_t flight_id, Caller me) {
  ShmLock lock(&header_->mu, &CacheZone::repair, this);
  uint32_t idx = lock.held() ? find_flight(key, flight_id) : kNone;
  if (idx != kNone) clear_waiter(entries_[idx].waiters, me.slot);
}

// Read without the lock: a scrape must not hold it for a scan of the table.
CacheZone::Stats CacheZone::stats() const {
  Stats s;
  s.evictions = evictions();
  s.entries = read_relaxed(header_->ready);
  return s;
}

uint64_t CacheZone::evictions() const { return read_relaxed(header_->evictions); }

void CacheZone::rebuild() {
  std::fill(index_, index_ + header_->index_size, kNone);
  header_->lru_head = header_->lru_tail = header_->free_head = kNone;
  header_->used = 0;
  uint32_t ready = 0;
  // Backwards, so the free list hands out low indexes first.
  for (uint32_t i = header_->capacity; i-- > 0;) {
    CacheEntry& e = entries_[i];
    e.chain_next = e.lru_prev = e.lru_next = kNone;
    bool sane = e.state <= kUncached && e.state != kWriting && e.value_len <= header_->max_value_bytes &&
                e.error_len <= kMaxErrorBytes;
    if (!sane || e.state == kFree) {
      e.state = kFree;
      e.chain_next = header_->free_head;
      header_->free_head = i;
      continue;
    }
    ++header_->used;
    link_chain(i);
    if (e.state == kReady) ++ready;
    if (e.state == kReady) lru_push_front(i);
    else if (lru_member(e.state)) lru_push_back(i);
  }
  write_relaxed(header_->ready, ready);
}

void CacheZone::repair(void* zone) { static_cast<CacheZone*>(zone)->rebuild(); }

}  // namespace genkit::shm
