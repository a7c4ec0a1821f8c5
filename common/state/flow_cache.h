// The response cache as flows see it: fetch(key) answers from the shared
// cache, or runs `compute` once for every identical request of every
// process, or waits for the process that runs it — all on this process's
// loop, never blocking it.
//
// A flight is one computation of a key. Requests of this process for a key
// share one local flight (its listeners). The cache zone records which
// process leads the key's flight and which processes wait; when the leader
// finishes it stores the result (or its error, for the waiters only) and
// wakes the waiting processes. A waiter polls the zone too, and takes the
// flight over when its leader's process is gone or silent for too long.
// A leader whose own requests all went away keeps computing while another
// process waits, and cancels the computation otherwise. With a second level
// (FleetCache, Redis) the leader asks it first: the result may come from
// another machine.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/json.h"
#include "common/runtime/loop.h"
#include "common/shm/cache_zone.h"
#include "common/shm/metrics.h"
#include "common/state/wakeup_channel.h"
#include "common/status.h"

namespace genkit {

class FleetCache;

struct CacheKeyHash {
  std::size_t operator()(const shm::CacheKey& k) const;
};

class FlowCache {
 public:
  struct Options {
    std::chrono::seconds ttl{300};
    std::chrono::milliseconds stale_flight{240000};  // a leader silent this long is replaced
    std::chrono::milliseconds poll{50};              // waiters re-check the zone this often
    uint64_t instance_id = 0;                        // names the wake-up sockets
    FleetCache* fleet = nullptr;                     // STATE_BACKEND=redis: the second level
  };
  using Finish = std::function<void(Result<Json>)>;
  // Runs the flow; `cancel` fires when nobody wants the result any more.
  using Compute = std::function<void(CancelToken cancel, Finish finish)>;
  // How a request takes its result: `done`, or for a success `text` when
  // set — the compact JSON text, which a hit has without parsing and which
  // every request sharing a computation gets from one serialisation.
  struct Delivery {
    Finish done;
    std::function<void(std::string_view json)> text;  // may be empty; `json` lives for the call only
  };

  FlowCache(Loop& loop, shm::CacheZone& zone, shm::CacheZone::Caller me, shm::ProcessMetrics& metrics,
            Options options);
  ~FlowCache();
  FlowCache(const FlowCache&) = delete;
  FlowCache& operator=(const FlowCache&) = delete;

  // SHA-256 of the flow name and the canonical JSON of its validated input.
  static shm::CacheKey key_for(std::string_view flow, JsonView input);

  // The delivery runs once, on the loop, unless `cancel` fires first.
  void fetch(const shm::CacheKey& key, const CancelToken& cancel, Compute compute, Delivery delivery);
  void fetch(const shm::CacheKey& key, const CancelToken& cancel, Compute compute, Finish done) {
    fetch(key, cancel, std::move(compute), Delivery{std::move(done), nullptr});
  }

  // A held result for `key` as JSON text (valid until the next call into
  // this cache), counted as a hit; nullopt when it must be fetched.
  std::optional<std::string_view> peek_text(const shm::CacheKey& key);

  std::size_t flights() const { return flights_.size(); }

 private:
  struct Listener {
    uint64_t id;
    Delivery delivery;
  };
  struct Flight {
    shm::CacheKey key;
    uint64_t flight_id = 0;  // 0: not recorded in the zone
    bool leading = false;
    CancelToken compute_cancel;
    Compute compute;
    std::vector<Listener> listeners;
  };
  using FlightPtr = std::shared_ptr<Flight>;

  FlightPtr add_flight(const shm::CacheKey& key, Compute compute);
  void listen(const FlightPtr& flight, const CancelToken& cancel, Delivery delivery);
  void on_listener_gone(const std::weak_ptr<Flight>& weak, uint64_t id);
  void start_compute(const FlightPtr& flight);
  void on_computed(const std::weak_ptr<Flight>& weak, Result<Json> result);
  // The flight's outcome; `text`, a success's JSON text.
  void complete(const std::weak_ptr<Flight>& weak, Result<Json> result, const std::string& text);
  // A success known only as (checked) JSON text: the second level's hit.
  void complete_text(const std::weak_ptr<Flight>& weak, const std::string& text);
  void publish(const Flight& flight, const Status& outcome, const std::string& text);
  void resolve(const FlightPtr& flight);
  void on_wake(const shm::CacheKey& key);
  void on_poll();
  void arm_poll();
  // Hands the outcome to every listener; `text` is the success's JSON text.
  void finish_flight(const FlightPtr& flight, Result<Json> result, std::string_view text);
  Result<Json> parse_value(std::string_view text);
  bool is_current(const FlightPtr& flight) const;

  Loop& loop_;
  shm::CacheZone& zone_;
  shm::CacheZone::Caller me_;
  shm::ProcessMetrics& metrics_;
  Options options_;
  std::vector<char> scratch_;  // a value copied out of the zone (sized once: nothing allocates under its lock)
  std::unordered_map<shm::CacheKey, FlightPtr, CacheKeyHash> flights_;
  WakeupChannel wakeups_;
  std::unique_ptr<Timer> poll_;
  uint64_t next_listener_ = 1;
};

}  // namespace genkit
