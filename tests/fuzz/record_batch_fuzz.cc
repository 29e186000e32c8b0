// libFuzzer entry for the record batch layer: arbitrary bytes through the
// paths a Produce request's records take (split, validate, decompress, walk
// every record), plus each codec's decoder on its own. Anything but a status
// or a CompressionError - a crash, a sanitizer report, an escaped exception -
// is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace {

using floe::protocol::BatchOptions;
using floe::protocol::Compression;

// Small enough that a fuzzer-made bomb costs little, large enough for the
// interesting inputs.
constexpr size_t kLimit = 1 << 20;

void walk(std::span<const uint8_t> batch, const BatchOptions& options) {
  floe::protocol::RecordReader reader(batch, options);
  floe::protocol::RecordView record;
  while (reader.next(record)) {
    for (const auto& h : record.headers) (void)h.key.size();
    if (record.key && !record.key->empty()) (void)record.key->front();
    if (record.value && !record.value->empty()) (void)record.value->back();
  }
  (void)reader.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);

  BatchOptions strict;
  strict.max_decompressed_bytes = kLimit;
  strict.check_records = true;
  floe::protocol::ValidationResult v = floe::protocol::validate_batches(input, strict);
  for (const auto& batch : v.batches) (void)floe::protocol::decode_batch(batch.bytes, strict);

  // Without the CRC and with gaps allowed, mutated inputs reach the record
  // parser instead of stopping at the checksum.
  BatchOptions lenient;
  lenient.max_decompressed_bytes = kLimit;
  lenient.verify_crc = false;
  lenient.dense_offsets = false;
  floe::protocol::ValidationResult all = floe::protocol::validate_batches(input, lenient);
  for (const auto& batch : all.batches) walk(batch.bytes, lenient);
  walk(input, lenient);

  if (size > 0) {
    int codec = data[0] % 5;
    try {
      (void)floe::protocol::decompress(static_cast<Compression>(codec), input.subspan(1), kLimit);
    } catch (const floe::protocol::CompressionError&) {
    }
  }
  return 0;
}
