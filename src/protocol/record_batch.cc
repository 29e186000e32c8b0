#include "protocol/record_batch.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "protocol/crc32c.h"

namespace floe::protocol {

namespace {

namespace L = batch_layout;

// The smallest record: one byte each for length, attributes, timestamp
// delta, offset delta, key length, value length and header count. Bounds how
// many records a section can hold, so a declared count can be checked
// before anything is read or allocated.
constexpr size_t kMinRecordSize = 7;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint32_t load_be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

uint64_t load_be64(const uint8_t* p) {
  return static_cast<uint64_t>(load_be32(p)) << 32 | load_be32(p + 4);
}

void store_be(uint8_t* p, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) p[i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
}

// Signed arithmetic on values from the wire must not overflow (undefined
// behaviour); Kafka's Java code wraps, so do the same.
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

void require_header(std::span<const uint8_t> batch) {
  if (batch.size() < L::kHeaderSize) {
    throw std::invalid_argument("a record batch needs at least " + std::to_string(L::kHeaderSize) +
                                " bytes, got " + std::to_string(batch.size()));
  }
}

struct Check {
  BatchStatus status = BatchStatus::ok;
  std::string reason;
  BatchHeader header;
};

Check failed(BatchStatus s, std::string reason) {
  Check c;
  c.status = s;
  c.reason = std::move(reason);
  return c;
}

// Checks the batch at the start of `data`, which may continue with more
// batches. Never looks past data.size() nor past the batch's own length.
Check check_batch(std::span<const uint8_t> data, const BatchOptions& options) {
  // The magic byte sits at the same offset in every format, so it can be read
  // before knowing how to interpret anything else.
  if (data.size() <= L::kMagic) {
    return failed(BatchStatus::corrupt, "truncated batch: " + std::to_string(data.size()) +
                                            " bytes, too few for a batch header");
  }
  auto length = static_cast<int32_t>(load_be32(data.data() + L::kBatchLength));
  size_t after_length = data.size() - L::kLogOverhead;
  if (length < 0)
    return failed(BatchStatus::corrupt, "negative batch length " + std::to_string(length));
  if (static_cast<size_t>(length) > after_length) {
    return failed(BatchStatus::corrupt, "batch length " + std::to_string(length) + " exceeds the " +
                                            std::to_string(after_length) + " bytes that follow");
  }
  if (static_cast<size_t>(length) + L::kLogOverhead <= L::kMagic) {
    return failed(BatchStatus::corrupt,
                  "batch length " + std::to_string(length) + " is too short to hold a magic byte");
  }
  auto magic = static_cast<int8_t>(data[L::kMagic]);
  if (magic == 0 || magic == 1) {
    return failed(BatchStatus::old_magic, "message format v" + std::to_string(magic) + " (magic " +
                                              std::to_string(magic) +
                                              ") is not supported; only record batch v2");
  }
  if (magic != kMagicV2)
    return failed(BatchStatus::corrupt, "unknown magic " + std::to_string(magic));
  if (length < L::kMinBatchLength) {
    return failed(BatchStatus::corrupt,
                  "batch length " + std::to_string(length) + " is shorter than the v2 header");
  }
  Check c;
  c.header = *parse_batch_header(data);
  const BatchHeader& h = c.header;
  auto batch = data.first(h.size());
  if (options.verify_crc) {
    uint32_t actual = compute_batch_crc(batch);
    if (actual != h.crc) {
      return failed(BatchStatus::corrupt, "CRC mismatch: batch says " + std::to_string(h.crc) +
                                              ", data gives " + std::to_string(actual));
    }
  }
  if (!compression_from_id(h.compression_id())) {
    return failed(BatchStatus::unsupported_compression,
                  "unknown compression codec " + std::to_string(h.compression_id()));
  }
  if (h.record_count < 0) {
    return failed(BatchStatus::invalid_record,
                  "negative record count " + std::to_string(h.record_count));
  }
  int64_t span = static_cast<int64_t>(h.last_offset_delta) + 1;  // offsets the batch covers
  if (options.dense_offsets) {
    if (h.record_count == 0) return failed(BatchStatus::invalid_record, "batch has no records");
    if (span != h.record_count) {
      return failed(BatchStatus::invalid_record, "record count " + std::to_string(h.record_count) +
                                                     " disagrees with last offset delta " +
                                                     std::to_string(h.last_offset_delta));
    }
  } else if (h.record_count > span) {
    return failed(BatchStatus::invalid_record, "record count " + std::to_string(h.record_count) +
                                                   " exceeds the offsets up to last offset delta " +
                                                   std::to_string(h.last_offset_delta));
  }
  size_t section = h.size() - L::kHeaderSize;
  size_t room = h.compression() == Compression::none ? section : options.max_decompressed_bytes;
  if (static_cast<uint64_t>(h.record_count) > room / kMinRecordSize) {
    return failed(BatchStatus::invalid_record, "record count " + std::to_string(h.record_count) +
                                                   " cannot fit in " + std::to_string(room) +
                                                   " bytes");
  }
  return c;
}

std::optional<std::span<const uint8_t>> read_var_bytes(Reader& r, const char* what) {
  int32_t n = r.read_varint();
  if (n == -1) return std::nullopt;
  if (n < -1) throw DecodeError(std::string("negative ") + what + " length " + std::to_string(n));
  const uint8_t* p = r.take(static_cast<size_t>(n));
  return std::span<const uint8_t>(p, static_cast<size_t>(n));
}

// Throws DecodeError on any malformation; the caller turns that into a status.
void read_record(Reader& r, RecordView& out) {
  int32_t length = r.read_varint();
  if (length < 0) throw DecodeError("negative record length " + std::to_string(length));
  Reader body = r.sub_reader(static_cast<size_t>(length));
  out.attributes = body.read_int8();
  out.timestamp_delta = body.read_varlong();
  out.offset_delta = body.read_varint();
  out.key = read_var_bytes(body, "key");
  out.value = read_var_bytes(body, "value");
  int32_t count = body.read_varint();
  if (count < 0) throw DecodeError("negative header count " + std::to_string(count));
  // Each header takes at least two bytes (key length and value length).
  if (static_cast<size_t>(count) > body.remaining() / 2) {
    throw DecodeError(std::to_string(count) + " headers cannot fit in the " +
                      std::to_string(body.remaining()) + " bytes left of the record");
  }
  out.headers.clear();
  out.headers.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    int32_t key_length = body.read_varint();
    if (key_length < 0) throw DecodeError("header key length " + std::to_string(key_length));
    const uint8_t* key = body.take(static_cast<size_t>(key_length));
    RecordHeaderView h;
    h.key = std::string_view(reinterpret_cast<const char*>(key), static_cast<size_t>(key_length));
    h.value = read_var_bytes(body, "header value");
    out.headers.push_back(h);
  }
  if (!body.empty()) {
    throw DecodeError("record length " + std::to_string(length) + " leaves " +
                      std::to_string(body.remaining()) + " bytes unread");
  }
}

std::optional<Bytes> copy_bytes(const std::optional<std::span<const uint8_t>>& s) {
  if (!s) return std::nullopt;
  return Bytes(s->begin(), s->end());
}

void write_var_bytes(Writer& w, const std::optional<Bytes>& b, const char* what) {
  if (!b) {
    w.write_varint(-1);
    return;
  }
  if (b->size() > static_cast<size_t>(kInt32Max))
    throw EncodeError(std::string(what) + " too long");
  w.write_varint(static_cast<int32_t>(b->size()));
  w.write_raw(b->data(), b->size());
}

void write_header(Bytes& out, const BatchHeader& h) {
  Writer w(out);
  w.write_int64(h.base_offset);
  w.write_int32(h.batch_length);
  w.write_int32(h.partition_leader_epoch);
  w.write_int8(h.magic);
  w.write_uint32(h.crc);
  w.write_int16(h.attributes);
  w.write_int32(h.last_offset_delta);
  w.write_int64(h.base_timestamp);
  w.write_int64(h.max_timestamp);
  w.write_int64(h.producer_id);
  w.write_int16(h.producer_epoch);
  w.write_int32(h.base_sequence);
  w.write_int32(h.record_count);
}

int32_t batch_length_for(size_t payload) {
  size_t length = L::kHeaderSize - L::kLogOverhead + payload;
  if (length > static_cast<size_t>(kInt32Max)) throw EncodeError("record batch longer than 2 GiB");
  return static_cast<int32_t>(length);
}

Bytes build(std::span<const Record> records, const BuildOptions& o, int16_t extra_attributes) {
  if (records.size() > static_cast<size_t>(kInt32Max))
    throw EncodeError("too many records for one batch");
  BatchHeader h;
  h.base_offset = o.base_offset;
  h.partition_leader_epoch = o.partition_leader_epoch;
  h.producer_id = o.producer_id;
  h.producer_epoch = o.producer_epoch;
  h.base_sequence = o.base_sequence;
  h.record_count = static_cast<int32_t>(records.size());
  h.last_offset_delta = h.record_count - 1;
  h.attributes =
      static_cast<int16_t>(static_cast<int16_t>(o.compression) | extra_attributes |
                           (o.transactional ? batch_attributes::kTransactional : 0) |
                           (o.log_append_time_ms ? batch_attributes::kLogAppendTime : 0));
  h.base_timestamp = records.empty() ? kNoTimestamp : records.front().timestamp;
  h.max_timestamp = kNoTimestamp;
  for (const Record& r : records) h.max_timestamp = std::max(h.max_timestamp, r.timestamp);
  if (o.log_append_time_ms) h.max_timestamp = *o.log_append_time_ms;

  Bytes section;
  Writer w(section);
  Bytes body;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    body.clear();
    Writer b(body);
    b.write_int8(0);
    b.write_varlong(wrapping_sub(r.timestamp, h.base_timestamp));
    b.write_varint(static_cast<int32_t>(i));
    write_var_bytes(b, r.key, "record key");
    write_var_bytes(b, r.value, "record value");
    if (r.headers.size() > static_cast<size_t>(kInt32Max))
      throw EncodeError("too many record headers");
    b.write_varint(static_cast<int32_t>(r.headers.size()));
    for (const RecordHeader& hd : r.headers) {
      if (hd.key.size() > static_cast<size_t>(kInt32Max)) throw EncodeError("header key too long");
      b.write_varint(static_cast<int32_t>(hd.key.size()));
      b.write_raw(hd.key.data(), hd.key.size());
      write_var_bytes(b, hd.value, "header value");
    }
    if (body.size() > static_cast<size_t>(kInt32Max)) throw EncodeError("record longer than 2 GiB");
    w.write_varint(static_cast<int32_t>(body.size()));
    w.write_raw(body.data(), body.size());
  }

  Bytes compressed;
  std::span<const uint8_t> payload = section;
  if (o.compression != Compression::none) {
    compressed = compress(o.compression, section, o.compression_level);
    payload = compressed;
  }
  h.batch_length = batch_length_for(payload.size());
  Bytes out;
  out.reserve(L::kHeaderSize + payload.size());
  write_header(out, h);
  out.insert(out.end(), payload.begin(), payload.end());
  update_batch_crc(out);
  return out;
}

}  // namespace

std::optional<BatchHeader> parse_batch_header(std::span<const uint8_t> batch) {
  if (batch.size() < L::kHeaderSize) return std::nullopt;
  const uint8_t* p = batch.data();
  BatchHeader h;
  h.base_offset = static_cast<int64_t>(load_be64(p + L::kBaseOffset));
  h.batch_length = static_cast<int32_t>(load_be32(p + L::kBatchLength));
  h.partition_leader_epoch = static_cast<int32_t>(load_be32(p + L::kPartitionLeaderEpoch));
  h.magic = static_cast<int8_t>(p[L::kMagic]);
  h.crc = load_be32(p + L::kCrc);
  h.attributes = static_cast<int16_t>(load_be16(p + L::kAttributes));
  h.last_offset_delta = static_cast<int32_t>(load_be32(p + L::kLastOffsetDelta));
  h.base_timestamp = static_cast<int64_t>(load_be64(p + L::kBaseTimestamp));
  h.max_timestamp = static_cast<int64_t>(load_be64(p + L::kMaxTimestamp));
  h.producer_id = static_cast<int64_t>(load_be64(p + L::kProducerId));
  h.producer_epoch = static_cast<int16_t>(load_be16(p + L::kProducerEpoch));
  h.base_sequence = static_cast<int32_t>(load_be32(p + L::kBaseSequence));
  h.record_count = static_cast<int32_t>(load_be32(p + L::kRecordCount));
  return h;
}

std::optional<BatchHeader> parse_whole_batch_header(std::span<const uint8_t> bytes) {
  auto h = parse_batch_header(bytes);
  if (!h || h->batch_length < L::kMinBatchLength || h->size() > bytes.size()) return std::nullopt;
  return h;
}

std::string_view batch_status_name(BatchStatus s) {
  switch (s) {
    case BatchStatus::ok:
      return "ok";
    case BatchStatus::corrupt:
      return "corrupt";
    case BatchStatus::old_magic:
      return "old_magic";
    case BatchStatus::unsupported_compression:
      return "unsupported_compression";
    case BatchStatus::invalid_record:
      return "invalid_record";
  }
  return "unknown";
}

int16_t produce_error_code(BatchStatus s) {
  constexpr int16_t kNone = 0;
  constexpr int16_t kCorruptMessage = 2;
  constexpr int16_t kUnsupportedCompressionType = 76;
  constexpr int16_t kInvalidRecord = 87;
  switch (s) {
    case BatchStatus::ok:
      return kNone;
    case BatchStatus::corrupt:
      return kCorruptMessage;
    case BatchStatus::old_magic:
    case BatchStatus::invalid_record:
      return kInvalidRecord;
    case BatchStatus::unsupported_compression:
      return kUnsupportedCompressionType;
  }
  return kCorruptMessage;
}

ValidationResult validate_batches(std::span<const uint8_t> buffer, const BatchOptions& options) {
  ValidationResult result;
  size_t pos = 0;
  while (pos < buffer.size()) {
    Check c = check_batch(buffer.subspan(pos), options);
    std::span<const uint8_t> bytes;
    if (c.status == BatchStatus::ok) {
      bytes = buffer.subspan(pos, c.header.size());
      if (options.check_records) {
        BatchOptions again = options;
        again.verify_crc = false;  // just done
        RecordReader reader(bytes, again);
        RecordView record;
        while (reader.next(record)) {
        }
        if (!reader.ok()) c = failed(reader.status(), reader.reason());
      }
    }
    if (c.status != BatchStatus::ok) {
      result.status = c.status;
      result.reason = "batch at byte " + std::to_string(pos) + ": " + c.reason;
      result.error_position = pos;
      return result;
    }
    result.batches.push_back(BatchInfo{pos, bytes, c.header});
    pos += bytes.size();
  }
  return result;
}

RecordReader::RecordReader(std::span<const uint8_t> batch, const BatchOptions& options)
    : options_(options) {
  Check c = check_batch(batch, options);
  if (c.status != BatchStatus::ok) {
    fail(c.status, std::move(c.reason));
    return;
  }
  header_ = c.header;
  if (batch.size() != header_.size()) {
    fail(BatchStatus::corrupt, std::to_string(batch.size() - header_.size()) +
                                   " bytes follow the batch; a reader takes exactly one");
    return;
  }
  auto stored = batch.subspan(L::kHeaderSize);
  if (header_.compression() == Compression::none) {
    section_ = stored;
  } else {
    try {
      decompressed_ = decompress(header_.compression(), stored, options.max_decompressed_bytes);
    } catch (const CompressionError& e) {
      fail(BatchStatus::invalid_record,
           std::string(compression_name(header_.compression())) + " records section: " + e.what());
      return;
    }
    section_ = decompressed_;
    if (static_cast<uint64_t>(header_.record_count) > section_.size() / kMinRecordSize) {
      fail(BatchStatus::invalid_record, "record count " + std::to_string(header_.record_count) +
                                            " cannot fit in " + std::to_string(section_.size()) +
                                            " decompressed bytes");
      return;
    }
  }
  reader_ = Reader(section_.data(), section_.size());
}

void RecordReader::fail(BatchStatus s, std::string reason) {
  status_ = s;
  reason_ = std::move(reason);
  done_ = true;
}

bool RecordReader::next(RecordView& out) {
  if (done_) return false;
  if (index_ == header_.record_count) {
    done_ = true;
    if (!reader_.empty()) {
      fail(BatchStatus::invalid_record, std::to_string(reader_.remaining()) +
                                            " bytes follow the last of " +
                                            std::to_string(header_.record_count) + " records");
    }
    return false;
  }
  if (reader_.empty()) {
    fail(BatchStatus::invalid_record, "batch says " + std::to_string(header_.record_count) +
                                          " records but holds " + std::to_string(index_));
    return false;
  }
  try {
    read_record(reader_, out);
  } catch (const DecodeError& e) {
    fail(BatchStatus::invalid_record, "record " + std::to_string(index_) + ": " + e.what());
    return false;
  }
  if (options_.dense_offsets
          ? out.offset_delta != index_
          : (out.offset_delta <= previous_delta_ || out.offset_delta > header_.last_offset_delta)) {
    fail(BatchStatus::invalid_record, "record " + std::to_string(index_) + " has offset delta " +
                                          std::to_string(out.offset_delta) + " out of order");
    return false;
  }
  previous_delta_ = out.offset_delta;
  ++index_;
  return true;
}

DecodedBatch decode_batch(std::span<const uint8_t> batch, const BatchOptions& options) {
  DecodedBatch result;
  RecordReader reader(batch, options);
  result.header = reader.header();
  if (reader.ok()) {
    result.records.reserve(std::min(static_cast<size_t>(reader.header().record_count),
                                    reader.records_section().size() / kMinRecordSize));
  }
  RecordView v;
  while (reader.next(v)) {
    Record r;
    r.timestamp = wrapping_add(result.header.base_timestamp, v.timestamp_delta);
    r.key = copy_bytes(v.key);
    r.value = copy_bytes(v.value);
    r.headers.reserve(v.headers.size());
    for (const RecordHeaderView& h : v.headers)
      r.headers.push_back({std::string(h.key), copy_bytes(h.value)});
    result.records.push_back(std::move(r));
  }
  if (!reader.ok()) {
    result.status = reader.status();
    result.reason = reader.reason();
    result.records.clear();
  }
  return result;
}

Bytes build_batch(std::span<const Record> records, const BuildOptions& options) {
  return build(records, options, 0);
}

RewriteResult rewrite_batch(std::span<const uint8_t> batch, const RewriteOptions& options) {
  RewriteResult result;
  RecordReader reader(batch, options.limits);
  RecordView v;
  while (reader.next(v)) {
  }
  if (!reader.ok()) {
    result.status = reader.status();
    result.reason = reader.reason();
    return result;
  }
  BatchHeader h = reader.header();
  Compression target = options.compression.value_or(h.compression());
  if (target == h.compression()) {
    result.batch.assign(batch.begin(), batch.end());
  } else {
    Bytes payload = compress(target, reader.records_section(), options.compression_level);
    h.batch_length = batch_length_for(payload.size());
    h.attributes = static_cast<int16_t>((h.attributes & ~batch_attributes::kCompressionMask) |
                                        static_cast<int16_t>(target));
    result.batch.reserve(L::kHeaderSize + payload.size());
    write_header(result.batch, h);
    result.batch.insert(result.batch.end(), payload.begin(), payload.end());
  }
  if (options.log_append_time_ms) {
    set_log_append_time(result.batch, *options.log_append_time_ms);
  } else {
    update_batch_crc(result.batch);
  }
  return result;
}

void set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
  require_header(batch);
  store_be(batch.data() + L::kBaseOffset, static_cast<uint64_t>(base_offset), 8);
}

void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
  require_header(batch);
  store_be(batch.data() + L::kPartitionLeaderEpoch, static_cast<uint32_t>(epoch), 4);
}

void set_log_append_time(std::span<uint8_t> batch, int64_t time_ms) {
  require_header(batch);
  uint16_t attributes = load_be16(batch.data() + L::kAttributes);
  attributes |= static_cast<uint16_t>(batch_attributes::kLogAppendTime);
  store_be(batch.data() + L::kAttributes, attributes, 2);
  store_be(batch.data() + L::kMaxTimestamp, static_cast<uint64_t>(time_ms), 8);
  update_batch_crc(batch);
}

uint32_t compute_batch_crc(std::span<const uint8_t> batch) {
  require_header(batch);
  return crc32c(batch.data() + L::kCrcStart, batch.size() - L::kCrcStart);
}

void update_batch_crc(std::span<uint8_t> batch) {
  store_be(batch.data() + L::kCrc, compute_batch_crc(batch), 4);
}

std::optional<ControlRecordKey> parse_control_record_key(std::span<const uint8_t> key) {
  if (key.size() < 4) return std::nullopt;
  ControlRecordKey k;
  k.version = static_cast<int16_t>(load_be16(key.data()));
  k.type_id = static_cast<int16_t>(load_be16(key.data() + 2));
  if (k.version < 0) return std::nullopt;
  return k;
}

Bytes build_control_batch(const ControlBatchOptions& o) {
  if (o.type != ControlRecordType::abort && o.type != ControlRecordType::commit) {
    throw std::invalid_argument("a control batch is either an abort or a commit marker");
  }
  auto type = static_cast<uint16_t>(o.type);
  Record marker;
  marker.timestamp = o.timestamp_ms;
  marker.key = Bytes{0, 0, static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)};
  Bytes value(6, 0);  // version 0, then the coordinator epoch
  store_be(value.data() + 2, static_cast<uint32_t>(o.coordinator_epoch), 4);
  marker.value = std::move(value);
  BuildOptions b;
  b.base_offset = o.base_offset;
  b.partition_leader_epoch = o.partition_leader_epoch;
  b.producer_id = o.producer_id;
  b.producer_epoch = o.producer_epoch;
  b.transactional = true;
  return build(std::span<const Record>(&marker, 1), b, batch_attributes::kControl);
}

}  // namespace floe::protocol
