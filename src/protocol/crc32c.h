// CRC-32C (Castagnoli), the checksum of Kafka record batches (magic 2).
//
// crc32c() picks the SSE4.2 instruction when the CPU has it and a portable
// slicing-by-8 table otherwise; the choice is made once, at first use, from
// what the CPU reports, so one binary runs on every x86-64 machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace floe::protocol {

// Extends `crc` (the value a previous call returned, 0 to start) over n bytes,
// so crc32c(b, nb, crc32c(a, na)) == crc32c(a followed by b).
uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc = 0);

inline uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0) {
  return crc32c(data.data(), data.size(), crc);
}

// The two implementations behind crc32c(), exposed so tests can check each on
// any machine. crc32c_hardware() may only be called when
// crc32c_hardware_available() is true.
uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc = 0);
uint32_t crc32c_hardware(const uint8_t* data, size_t n, uint32_t crc = 0);
bool crc32c_hardware_available();

}  // namespace floe::protocol
