// Kafka record batches, format v2 (magic 2): the bytes a Produce request
// carries in `records`, that the log stores, and that Fetch returns.
//
// Everything that reads a batch treats it as hostile: no function here reads
// outside the span it is given, trusts a declared length or count, or
// allocates more than the input (or, for compressed batches, the configured
// decompression limit) justifies. Bad input is reported through a status,
// never an exception; exceptions are kept for caller bugs (EncodeError for a
// field too long to write, CompressionError for a bad compression level,
// std::invalid_argument for a span too short to patch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/compression.h"
#include "protocol/wire.h"

namespace floe::protocol {

// Byte offsets of the batch header fields. Brokers patch some fields in
// place (base offset, partition leader epoch) and must know which of them the
// CRC covers: everything from kAttributes to the end of the batch.
namespace batch_layout {
inline constexpr size_t kBaseOffset = 0;             // int64
inline constexpr size_t kBatchLength = 8;            // int32, bytes after this field
inline constexpr size_t kPartitionLeaderEpoch = 12;  // int32
inline constexpr size_t kMagic = 16;                 // int8; at the same place in every format
inline constexpr size_t kCrc = 17;                   // uint32
inline constexpr size_t kAttributes = 21;            // int16
inline constexpr size_t kLastOffsetDelta = 23;       // int32
inline constexpr size_t kBaseTimestamp = 27;         // int64
inline constexpr size_t kMaxTimestamp = 35;          // int64
inline constexpr size_t kProducerId = 43;            // int64
inline constexpr size_t kProducerEpoch = 51;         // int16
inline constexpr size_t kBaseSequence = 53;          // int32
inline constexpr size_t kRecordCount = 57;           // int32
inline constexpr size_t kRecords = 61;               // start of the (maybe compressed) records
inline constexpr size_t kHeaderSize = kRecords;
// Base offset and batch length precede what batchLength counts: a batch
// occupies kLogOverhead + batchLength bytes.
inline constexpr size_t kLogOverhead = 12;
inline constexpr size_t kCrcStart = kAttributes;
inline constexpr int32_t kMinBatchLength = static_cast<int32_t>(kHeaderSize - kLogOverhead);
}  // namespace batch_layout

inline constexpr int8_t kMagicV2 = 2;

// Bits of the attributes field.
namespace batch_attributes {
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kLogAppendTime = 0x08;
inline constexpr int16_t kTransactional = 0x10;
inline constexpr int16_t kControl = 0x20;
inline constexpr int16_t kDeleteHorizon = 0x40;
}  // namespace batch_attributes

// Producer id, epoch and sequence when a batch has no idempotent producer.
inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;
inline constexpr int64_t kNoTimestamp = -1;

enum class TimestampType : uint8_t { create_time = 0, log_append_time = 1 };

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = -1;
  int8_t magic = kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;

  int compression_id() const { return attributes & batch_attributes::kCompressionMask; }
  // REQUIRES: compression_id() is 0-4, which validate_batches() guarantees.
  Compression compression() const { return static_cast<Compression>(compression_id()); }
  TimestampType timestamp_type() const {
    return (attributes & batch_attributes::kLogAppendTime) ? TimestampType::log_append_time
                                                           : TimestampType::create_time;
  }
  bool is_transactional() const { return attributes & batch_attributes::kTransactional; }
  bool is_control() const { return attributes & batch_attributes::kControl; }
  bool has_delete_horizon() const { return attributes & batch_attributes::kDeleteHorizon; }
  // Whole batch including base offset and length; batch_length is >= 0 once
  // validated.
  size_t size() const { return batch_layout::kLogOverhead + static_cast<size_t>(batch_length); }
  // Wrapping arithmetic: on a hostile batch these must not be undefined.
  int64_t last_offset() const {
    return static_cast<int64_t>(static_cast<uint64_t>(base_offset) +
                                static_cast<uint64_t>(static_cast<int64_t>(last_offset_delta)));
  }
};

// Reads the 61 header bytes without judging them; nullopt when fewer are
// given. The magic may be anything: check it before trusting other fields.
std::optional<BatchHeader> parse_batch_header(std::span<const uint8_t> batch);

// The header of the batch at the start of `bytes` when that whole batch is
// there by its own length (at least a header, no more than `bytes` holds);
// nullopt otherwise. Judges nothing else (magic, CRC): it walks batches
// stored back to back, which were validated when they were produced.
std::optional<BatchHeader> parse_whole_batch_header(std::span<const uint8_t> bytes);

enum class BatchStatus : uint8_t {
  ok,
  // The bytes are damaged: a length that does not fit, a CRC that does not
  // match, an unknown magic. Could be the network; Kafka clients retry.
  corrupt,
  // Magic 0 or 1: a legacy message set, which this broker does not accept.
  old_magic,
  // Codec bits 5-7, which no Kafka version defines.
  unsupported_compression,
  // Intact (CRC matches) but not acceptable: counts that disagree, records
  // that do not parse, compressed data that does not decompress or is over the
  // decompression limit. The client wrote it so; retrying cannot help.
  invalid_record,
};

std::string_view batch_status_name(BatchStatus s);

// The Kafka error code a Produce (v3+) response gives a partition whose
// records failed with this status:
//   corrupt                 -> CORRUPT_MESSAGE (2), retriable like Kafka's
//   old_magic               -> INVALID_RECORD (87): what Kafka 3.x brokers
//                              answer to a non-v2 batch in Produce v3+
//                              (UNSUPPORTED_FOR_MESSAGE_FORMAT is about a
//                              topic's configured format, not the request's)
//   unsupported_compression -> UNSUPPORTED_COMPRESSION_TYPE (76)
//   invalid_record          -> INVALID_RECORD (87)
//   ok                      -> NONE (0)
int16_t produce_error_code(BatchStatus s);

struct BatchOptions {
  // Upper bound on the uncompressed records section of one batch. A compressed
  // batch that inflates beyond it is an invalid_record, so a small request
  // cannot make the broker allocate an unbounded amount of memory.
  size_t max_decompressed_bytes = 64 * 1024 * 1024;
  // Batches from producers are dense: record_count >= 1, lastOffsetDelta ==
  // record_count - 1, and record i has offset delta i (Kafka rejects anything
  // else on produce). Batches the broker kept after compaction may have gaps
  // and may even be empty; set false to read those.
  bool dense_offsets = true;
  // False skips the CRC check, for callers that verified it already.
  bool verify_crc = true;
  // validate_batches() only: also decode every record of every batch (and so
  // decompress it), which is what a broker must do before it appends.
  bool check_records = false;
};

struct BatchInfo {
  size_t position = 0;             // where the batch starts in the buffer
  std::span<const uint8_t> bytes;  // the whole batch, inside the buffer
  BatchHeader header;
};

struct [[nodiscard]] ValidationResult {
  BatchStatus status = BatchStatus::ok;
  std::string reason;              // empty when ok
  size_t error_position = 0;       // start of the failing batch
  std::vector<BatchInfo> batches;  // all of them when ok; those before the failure otherwise

  bool ok() const { return status == BatchStatus::ok; }
};

// Splits a buffer of concatenated batches (a Produce request's records) and
// checks each: lengths, magic, CRC, codec, counts; with check_records, the
// records too. Stops at the first bad batch. An empty buffer is ok with no
// batches (Produce v3+ requires exactly one; that is the handler's rule).
ValidationResult validate_batches(std::span<const uint8_t> buffer,
                                  const BatchOptions& options = {});

// One record as stored, pointing into the batch (uncompressed batches) or
// into the RecordReader's decompressed copy; valid while both live.
struct RecordHeaderView {
  std::string_view key;
  std::optional<std::span<const uint8_t>> value;
};

struct RecordView {
  int8_t attributes = 0;  // unused by every Kafka version so far
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::span<const uint8_t>> key;
  std::optional<std::span<const uint8_t>> value;
  std::vector<RecordHeaderView> headers;
};

// Walks the records of one batch, decompressing first if the batch is
// compressed. The batch is checked as validate_batches() would check it
// (set verify_crc false if that was done already) and every record is
// checked as it is read:
//
//   RecordReader reader(batch);
//   RecordView r;
//   while (reader.next(r)) use(r);
//   if (!reader.ok()) reject(reader.status(), reader.reason());
//
// next() returns false at the end and at the first error; only when ok() is
// still true after that were all records present, well formed, and exactly as
// many as the header says.
class RecordReader {
 public:
  explicit RecordReader(std::span<const uint8_t> batch, const BatchOptions& options = {});

  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  [[nodiscard]] bool next(RecordView& out);

  bool ok() const { return status_ == BatchStatus::ok; }
  BatchStatus status() const { return status_; }
  const std::string& reason() const { return reason_; }
  const BatchHeader& header() const { return header_; }
  // The uncompressed records section (after the 61-byte header); empty when
  // the batch was rejected before it could be decompressed.
  std::span<const uint8_t> records_section() const { return section_; }
  int64_t records_read() const { return index_; }

 private:
  void fail(BatchStatus s, std::string reason);

  BatchOptions options_;
  BatchHeader header_;
  BatchStatus status_ = BatchStatus::ok;
  std::string reason_;
  Bytes decompressed_;
  std::span<const uint8_t> section_;
  Reader reader_{nullptr, 0};
  int64_t index_ = 0;
  int64_t previous_delta_ = -1;
  bool done_ = false;
};

// Owning forms, for building batches and for callers that want a copy.
struct RecordHeader {
  std::string key;
  std::optional<Bytes> value;
  bool operator==(const RecordHeader&) const = default;
};

struct Record {
  // Absolute CreateTime as stored (base timestamp + delta). For a
  // LogAppendTime batch Kafka consumers show header.max_timestamp instead.
  int64_t timestamp = 0;
  std::optional<Bytes> key;
  std::optional<Bytes> value;
  std::vector<RecordHeader> headers;
  bool operator==(const Record&) const = default;
};

struct [[nodiscard]] DecodedBatch {
  BatchStatus status = BatchStatus::ok;
  std::string reason;
  BatchHeader header;
  std::vector<Record> records;  // in order; record i has offset delta i when dense

  bool ok() const { return status == BatchStatus::ok; }
};

// Checks and copies out every record of one batch.
DecodedBatch decode_batch(std::span<const uint8_t> batch, const BatchOptions& options = {});

struct BuildOptions {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  bool transactional = false;
  Compression compression = Compression::none;
  std::optional<int> compression_level;
  // When set, the batch is marked LogAppendTime with this max timestamp;
  // records keep their own timestamps, as Kafka's brokers do.
  std::optional<int64_t> log_append_time_ms;
};

// A batch holding `records` with offset deltas 0..n-1, base timestamp taken
// from the first record, lengths and CRC filled in. Throws EncodeError for a
// field too long for the format, CompressionError for a bad level.
Bytes build_batch(std::span<const Record> records, const BuildOptions& options = {});

struct RewriteOptions {
  // Re-encode the records section with this codec (topic compression.type).
  std::optional<Compression> compression;
  std::optional<int> compression_level;
  // Mark the batch LogAppendTime with this time (message.timestamp.type).
  std::optional<int64_t> log_append_time_ms;
  BatchOptions limits;
};

struct [[nodiscard]] RewriteResult {
  BatchStatus status = BatchStatus::ok;
  std::string reason;
  Bytes batch;

  bool ok() const { return status == BatchStatus::ok; }
};

// Checks a batch (records included) and returns a copy changed as asked,
// with length and CRC recomputed. Records are carried over byte for byte; only
// their container changes. A codec equal to the current one is not re-encoded.
RewriteResult rewrite_batch(std::span<const uint8_t> batch, const RewriteOptions& options);

// In-place edits of a batch the caller owns. Each REQUIRES batch.size() >=
// kHeaderSize (throws std::invalid_argument otherwise). The base offset and
// leader epoch lie outside the CRC; the others recompute it.
void set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);
// Kafka's in-place LogAppendTime: sets the timestamp type bit and the max
// timestamp; records are untouched.
void set_log_append_time(std::span<uint8_t> batch, int64_t time_ms);
// The CRC the batch should carry (over kCrcStart to the end of the span).
uint32_t compute_batch_crc(std::span<const uint8_t> batch);
void update_batch_crc(std::span<uint8_t> batch);

// Control batches (isControl) hold one record whose key names a
// transaction marker. Kafka's KRaft types (2 and up) read as `unknown`.
enum class ControlRecordType : int16_t { abort = 0, commit = 1, unknown = -1 };

struct ControlRecordKey {
  int16_t version = 0;
  int16_t type_id = 0;
  ControlRecordType type() const {
    return type_id == 0   ? ControlRecordType::abort
           : type_id == 1 ? ControlRecordType::commit
                          : ControlRecordType::unknown;
  }
};

// Parses a control record's key: version int16 (>= 0; newer versions may add
// fields after these) and type int16. nullopt if too short or the version is
// negative.
std::optional<ControlRecordKey> parse_control_record_key(std::span<const uint8_t> key);

struct ControlBatchOptions {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  ControlRecordType type = ControlRecordType::commit;
  int32_t coordinator_epoch = 0;
  int64_t timestamp_ms = 0;
};

// The transaction marker batch a broker writes on commit or abort: one
// control record, key {version 0, type}, value {version 0, coordinator epoch}.
Bytes build_control_batch(const ControlBatchOptions& options);

}  // namespace floe::protocol
