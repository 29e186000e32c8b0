// The codecs of Kafka record batches: gzip, snappy, lz4 and zstd, in the exact
// stream formats Kafka clients write.
//
// Decompression is the part that faces hostile input: every call takes the
// largest output it may produce, and malformed input or output beyond that
// bound ends in CompressionError, never in a crash or an unbounded allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>

#include "protocol/wire.h"

namespace floe::protocol {

// Values are the codec bits (0-2) of a batch's attributes.
enum class Compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

class CompressionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown (a CompressionError too) when the output would pass max_output, so a
// caller can tell a decompression bomb from damaged data if it wants to.
class DecompressedTooLarge : public CompressionError {
 public:
  using CompressionError::CompressionError;
};

std::string_view compression_name(Compression c);
// Maps the attribute codec bits; nullopt for the unused values 5-7.
std::optional<Compression> compression_from_id(int id);
// Accepts the names used by the compression.type setting: none, gzip, snappy,
// lz4, zstd.
std::optional<Compression> compression_from_name(std::string_view name);

// Compresses in the format Kafka clients expect to read:
//   gzip   - a gzip member (RFC 1952)
//   snappy - one raw snappy block, as librdkafka writes it (Java clients read
//            it too: their reader falls back to raw when the framing is absent)
//   lz4    - an LZ4 frame with independent 64 KiB blocks
//   zstd   - one zstd frame
// level: nullopt for the codec's default; otherwise gzip 1-9, lz4 0-17 (the
// range of Kafka's compression.lz4.level; 0 is lz4's fast mode, above 12 acts
// as 12), zstd whatever libzstd takes (up to 22; 0 is its default, negative
// levels are its fast modes). A level the codec cannot take throws
// CompressionError; snappy ignores the level, having none.
Bytes compress(Compression c, std::span<const uint8_t> input,
               std::optional<int> level = std::nullopt);

// Decompresses input written by any Kafka client: for gzip any number of
// concatenated members, for snappy raw blocks and the xerial framing that Java
// and kafka-python write, for lz4 and zstd one or more concatenated frames.
// Throws CompressionError on malformed input and DecompressedTooLarge when the
// result would be longer than max_output bytes.
Bytes decompress(Compression c, std::span<const uint8_t> input, size_t max_output);

}  // namespace floe::protocol
