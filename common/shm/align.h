// Every zone of the segment, and every part of a zone, starts on its own
// cache line: a lock or a hot counter never shares one with its neighbour.
#pragma once

#include <cstddef>

namespace genkit::shm {

constexpr std::size_t align64(std::size_t n) { return (n + 63) / 64 * 64; }

}  // namespace genkit::shm
