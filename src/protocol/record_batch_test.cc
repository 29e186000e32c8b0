#include "protocol/record_batch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "protocol/crc32c.h"

namespace floe::protocol {
namespace {

namespace L = batch_layout;

constexpr Compression kCodecs[] = {Compression::none, Compression::gzip, Compression::snappy,
                                   Compression::lz4, Compression::zstd};

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::vector<Record> sample_records() {
  std::vector<Record> rs;
  rs.push_back({1700000000000,
                text("key-1"),
                text("value one, value one, value one"),
                {{"trace", text("abc")}, {"empty", Bytes{}}}});
  rs.push_back({1700000000007, std::nullopt, text("no key"), {}});
  rs.push_back({1700000000003, text("tombstone"), std::nullopt, {{"null-value", std::nullopt}}});
  rs.push_back({1699999990000, Bytes{}, Bytes{}, {{"", text("empty key")}}});  // negative delta
  Bytes big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 % 251);
  rs.push_back({1700000000010, text("big"), big, {}});
  return rs;
}

uint64_t load_be(const Bytes& b, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v = v << 8 | b[at + i];
  return v;
}

void store_be(Bytes& b, size_t at, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
}

// A batch around an arbitrary records section, with a correct CRC, so tests
// can reach the record-level checks with any bytes they like.
Bytes raw_batch(const Bytes& section, int32_t count, int16_t attributes = 0,
                std::optional<int32_t> last_offset_delta = std::nullopt) {
  Bytes out;
  Writer w(out);
  w.write_int64(0);
  w.write_int32(static_cast<int32_t>(L::kHeaderSize - L::kLogOverhead + section.size()));
  w.write_int32(-1);
  w.write_int8(kMagicV2);
  w.write_uint32(0);
  w.write_int16(attributes);
  w.write_int32(last_offset_delta.value_or(count - 1));
  w.write_int64(1000);
  w.write_int64(1000);
  w.write_int64(-1);
  w.write_int16(-1);
  w.write_int32(-1);
  w.write_int32(count);
  w.write_raw(section.data(), section.size());
  update_batch_crc(out);
  return out;
}

// One record body, as a builder that can also write malformed ones.
struct RawRecord {
  int32_t offset_delta = 0;
  std::optional<int32_t> length;  // nullopt: the true length
  int32_t key_length = -1;
  Bytes key;
  int32_t value_length = -1;
  Bytes value;
  int32_t header_count = 0;
  Bytes headers;
  Bytes trailing;
};

Bytes encode(const RawRecord& r) {
  Bytes body;
  Writer b(body);
  b.write_int8(0);
  b.write_varlong(0);
  b.write_varint(r.offset_delta);
  b.write_varint(r.key_length);
  b.write_raw(r.key.data(), r.key.size());
  b.write_varint(r.value_length);
  b.write_raw(r.value.data(), r.value.size());
  b.write_varint(r.header_count);
  b.write_raw(r.headers.data(), r.headers.size());
  b.write_raw(r.trailing.data(), r.trailing.size());
  Bytes out;
  Writer w(out);
  w.write_varint(r.length.value_or(static_cast<int32_t>(body.size())));
  w.write_raw(body.data(), body.size());
  return out;
}

Bytes concat_records(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Option sets the tests use. Built field by field: GCC 12 warns about
// designated initializers that leave members to their defaults.
BuildOptions with_codec(Compression c) {
  BuildOptions o;
  o.compression = c;
  return o;
}

RewriteOptions recompress(Compression c) {
  RewriteOptions o;
  o.compression = c;
  return o;
}

RewriteOptions append_time(int64_t time_ms) {
  RewriteOptions o;
  o.log_append_time_ms = time_ms;
  return o;
}

BatchOptions checking_records() {
  BatchOptions o;
  o.check_records = true;
  return o;
}

BatchOptions with_limit(size_t max_decompressed_bytes) {
  BatchOptions o;
  o.max_decompressed_bytes = max_decompressed_bytes;
  return o;
}

BatchOptions compacted() {
  BatchOptions o;
  o.dense_offsets = false;
  return o;
}

DecodedBatch decode(const Bytes& batch, BatchOptions options = {}) {
  return decode_batch(batch, options);
}

TEST(RecordBatch, HeaderLayoutMatchesTheFormat) {
  EXPECT_EQ(L::kHeaderSize, 61u);
  EXPECT_EQ(L::kMinBatchLength, 49);
  BuildOptions o;
  o.base_offset = 0x0102030405060708;
  o.partition_leader_epoch = 0x11223344;
  o.producer_id = 0x2122232425262728;
  o.producer_epoch = 0x3132;
  o.base_sequence = 0x41424344;
  o.transactional = true;
  o.compression = Compression::lz4;
  Bytes b = build_batch(sample_records(), o);
  EXPECT_EQ(load_be(b, L::kBaseOffset, 8), 0x0102030405060708u);
  EXPECT_EQ(load_be(b, L::kBatchLength, 4), b.size() - 12);
  EXPECT_EQ(load_be(b, L::kPartitionLeaderEpoch, 4), 0x11223344u);
  EXPECT_EQ(b[L::kMagic], 2);
  EXPECT_EQ(load_be(b, L::kCrc, 4), crc32c(b.data() + 21, b.size() - 21));
  EXPECT_EQ(load_be(b, L::kAttributes, 2), 0x10u | 3u);
  EXPECT_EQ(load_be(b, L::kLastOffsetDelta, 4), 4u);
  EXPECT_EQ(load_be(b, L::kBaseTimestamp, 8), 1700000000000u);
  EXPECT_EQ(load_be(b, L::kMaxTimestamp, 8), 1700000000010u);
  EXPECT_EQ(load_be(b, L::kProducerId, 8), 0x2122232425262728u);
  EXPECT_EQ(load_be(b, L::kProducerEpoch, 2), 0x3132u);
  EXPECT_EQ(load_be(b, L::kBaseSequence, 4), 0x41424344u);
  EXPECT_EQ(load_be(b, L::kRecordCount, 4), 5u);

  auto h = parse_batch_header(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->base_offset, 0x0102030405060708);
  EXPECT_EQ(h->partition_leader_epoch, 0x11223344);
  EXPECT_EQ(h->producer_id, 0x2122232425262728);
  EXPECT_EQ(h->producer_epoch, 0x3132);
  EXPECT_EQ(h->base_sequence, 0x41424344);
  EXPECT_EQ(h->compression(), Compression::lz4);
  EXPECT_TRUE(h->is_transactional());
  EXPECT_FALSE(h->is_control());
  EXPECT_FALSE(h->has_delete_horizon());
  EXPECT_EQ(h->timestamp_type(), TimestampType::create_time);
  EXPECT_EQ(h->size(), b.size());
  EXPECT_EQ(h->last_offset(), 0x0102030405060708 + 4);
  EXPECT_FALSE(parse_batch_header(std::span<const uint8_t>(b).first(60)));

  // The whole batch, or nothing: cut short by a byte, or a length below a
  // header's, gives no header; bytes after the batch do not matter.
  EXPECT_TRUE(parse_whole_batch_header(b));
  EXPECT_FALSE(parse_whole_batch_header(std::span<const uint8_t>(b).first(b.size() - 1)));
  Bytes longer = b;
  longer.push_back(0);
  EXPECT_EQ(parse_whole_batch_header(longer)->size(), b.size());
  Bytes short_length = b;
  short_length[L::kBatchLength + 3] = static_cast<uint8_t>(L::kMinBatchLength - 1);
  short_length[L::kBatchLength + 2] = short_length[L::kBatchLength + 1] = short_length[L::kBatchLength] = 0;
  EXPECT_FALSE(parse_whole_batch_header(short_length));
}

TEST(RecordBatch, BuildThenDecodeEveryCodec) {
  auto records = sample_records();
  for (Compression c : kCodecs) {
    SCOPED_TRACE(std::string(compression_name(c)));
    BuildOptions o;
    o.base_offset = 42;
    o.compression = c;
    Bytes b = build_batch(records, o);
    ValidationResult v = validate_batches(b);
    ASSERT_TRUE(v.ok()) << v.reason;
    ASSERT_EQ(v.batches.size(), 1u);
    EXPECT_EQ(v.batches[0].position, 0u);
    EXPECT_EQ(v.batches[0].bytes.size(), b.size());
    EXPECT_EQ(v.batches[0].header.compression(), c);
    EXPECT_EQ(v.batches[0].header.record_count, 5);
    if (c != Compression::none) {
      EXPECT_LT(b.size(), 100000u);
    }

    DecodedBatch d = decode(b);
    ASSERT_TRUE(d.ok()) << d.reason;
    EXPECT_EQ(d.records, records);
    EXPECT_EQ(d.header.base_offset, 42);
  }
}

TEST(RecordBatch, ReaderExposesRecordsAsStored) {
  Bytes b = build_batch(sample_records());
  RecordReader reader(b);
  RecordView r;
  std::vector<int32_t> deltas;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.offset_delta, 0);
  EXPECT_EQ(r.timestamp_delta, 0);
  ASSERT_TRUE(r.key);
  EXPECT_EQ(Bytes(r.key->begin(), r.key->end()), text("key-1"));
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].key, "trace");
  EXPECT_EQ(r.headers[1].key, "empty");
  ASSERT_TRUE(r.headers[1].value);
  EXPECT_TRUE(r.headers[1].value->empty());
  ASSERT_TRUE(reader.next(r));
  EXPECT_FALSE(r.key);
  EXPECT_EQ(r.timestamp_delta, 7);
  ASSERT_TRUE(reader.next(r));
  EXPECT_FALSE(r.value);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_FALSE(r.headers[0].value);
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.timestamp_delta, -10000);
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.offset_delta, 4);
  EXPECT_FALSE(reader.next(r));
  EXPECT_TRUE(reader.ok()) << reader.reason();
  EXPECT_EQ(reader.records_read(), 5);
  EXPECT_FALSE(reader.next(r));  // stays at the end
}

TEST(RecordBatch, EmptyBufferHasNoBatches) {
  ValidationResult v = validate_batches({});
  EXPECT_TRUE(v.ok());
  EXPECT_TRUE(v.batches.empty());
}

TEST(RecordBatch, SplitsConcatenatedBatches) {
  auto records = sample_records();
  Bytes all;
  std::vector<size_t> starts;
  for (Compression c : kCodecs) {
    BuildOptions o;
    o.compression = c;
    o.base_offset = static_cast<int64_t>(starts.size()) * 10;
    starts.push_back(all.size());
    Bytes b = build_batch(records, o);
    all.insert(all.end(), b.begin(), b.end());
  }
  ValidationResult v = validate_batches(all, checking_records());
  ASSERT_TRUE(v.ok()) << v.reason;
  ASSERT_EQ(v.batches.size(), starts.size());
  for (size_t i = 0; i < starts.size(); ++i) {
    EXPECT_EQ(v.batches[i].position, starts[i]);
    EXPECT_EQ(v.batches[i].header.base_offset, static_cast<int64_t>(i) * 10);
    EXPECT_EQ(v.batches[i].bytes.data(), all.data() + starts[i]);
    DecodedBatch d = decode_batch(v.batches[i].bytes);
    ASSERT_TRUE(d.ok()) << d.reason;
    EXPECT_EQ(d.records, records);
  }
  // A reader takes exactly one batch.
  RecordReader two(all);
  EXPECT_EQ(two.status(), BatchStatus::corrupt);
}

TEST(RecordBatch, BadRecordInALaterBatchIsFoundByCheckRecords) {
  Bytes good = build_batch(sample_records());
  RawRecord r;
  r.trailing = {1, 2};  // body longer than its fields
  Bytes bad = raw_batch(encode(r), 1);
  Bytes all = good;
  all.insert(all.end(), bad.begin(), bad.end());
  EXPECT_TRUE(validate_batches(all).ok());  // framing and CRC are fine
  ValidationResult v = validate_batches(all, checking_records());
  EXPECT_EQ(v.status, BatchStatus::invalid_record);
  EXPECT_EQ(v.error_position, good.size());
  EXPECT_EQ(v.batches.size(), 1u);
  EXPECT_NE(v.reason.find("unread"), std::string::npos) << v.reason;
}

TEST(RecordBatch, EveryFlippedBitInTheCrcRangeIsCaught) {
  Bytes b = build_batch(sample_records(), with_codec(Compression::gzip));
  for (size_t i = L::kCrcStart; i < b.size(); i += 1 + i / 64) {
    Bytes damaged = b;
    damaged[i] ^= 0x10;
    ValidationResult v = validate_batches(damaged);
    EXPECT_EQ(v.status, BatchStatus::corrupt) << "byte " << i;
  }
  Bytes bad_crc = b;
  bad_crc[L::kCrc] ^= 1;
  ValidationResult v = validate_batches(bad_crc);
  EXPECT_EQ(v.status, BatchStatus::corrupt);
  EXPECT_NE(v.reason.find("CRC"), std::string::npos);
  EXPECT_EQ(RecordReader(bad_crc).status(), BatchStatus::corrupt);
  // Skipping the check is the caller's call.
  BatchOptions no_crc;
  no_crc.verify_crc = false;
  EXPECT_TRUE(validate_batches(bad_crc, no_crc).ok());
}

TEST(RecordBatch, BaseOffsetAndLeaderEpochLieOutsideTheCrc) {
  Bytes b = build_batch(sample_records());
  set_base_offset(b, 123456789);
  set_partition_leader_epoch(b, 77);
  ValidationResult v = validate_batches(b);
  ASSERT_TRUE(v.ok()) << v.reason;
  EXPECT_EQ(v.batches[0].header.base_offset, 123456789);
  EXPECT_EQ(v.batches[0].header.partition_leader_epoch, 77);
  Bytes small(10);
  EXPECT_THROW(set_base_offset(small, 1), std::invalid_argument);
}

TEST(RecordBatch, TruncationAtEveryLengthIsAnError) {
  for (Compression c : {Compression::none, Compression::zstd}) {
    Bytes b = build_batch(sample_records(), with_codec(c));
    for (size_t n = 1; n < b.size(); n += (c == Compression::none && n > 200) ? 97 : 1) {
      std::span<const uint8_t> prefix(b.data(), n);
      ValidationResult v = validate_batches(prefix);
      EXPECT_EQ(v.status, BatchStatus::corrupt) << n;
      RecordReader reader(prefix);
      RecordView r;
      EXPECT_FALSE(reader.next(r));
      EXPECT_FALSE(reader.ok()) << n;
    }
  }
}

TEST(RecordBatch, BadBatchLengths) {
  Bytes b = build_batch(sample_records());
  auto status_with_length = [&](int64_t length) {
    Bytes copy = b;
    store_be(copy, L::kBatchLength, static_cast<uint64_t>(length), 4);
    return validate_batches(copy).status;
  };
  EXPECT_EQ(status_with_length(-1), BatchStatus::corrupt);
  EXPECT_EQ(status_with_length(INT32_MIN), BatchStatus::corrupt);
  EXPECT_EQ(status_with_length(INT32_MAX), BatchStatus::corrupt);
  EXPECT_EQ(status_with_length(static_cast<int64_t>(b.size()) - 11),
            BatchStatus::corrupt);  // 1 too long
  EXPECT_EQ(status_with_length(0), BatchStatus::corrupt);
  EXPECT_EQ(status_with_length(4), BatchStatus::corrupt);
  EXPECT_EQ(status_with_length(48), BatchStatus::corrupt);
  // Shorter than the data: the batch ends early (CRC fails) and the rest is
  // read as another batch.
  EXPECT_EQ(status_with_length(static_cast<int64_t>(b.size()) - 13), BatchStatus::corrupt);
}

TEST(RecordBatch, HugeDeclaredCountsAreRejectedWithoutAllocating) {
  RawRecord r;
  Bytes one = encode(r);
  for (Compression c : kCodecs) {
    SCOPED_TRACE(std::string(compression_name(c)));
    Bytes section = c == Compression::none ? one : compress(c, one);
    auto attributes = static_cast<int16_t>(c);
    for (int32_t count : {INT32_MAX, 1 << 24, 2}) {
      Bytes b = raw_batch(section, count, attributes);
      ValidationResult v = validate_batches(b, checking_records());
      EXPECT_EQ(v.status, BatchStatus::invalid_record) << count << " " << v.reason;
      DecodedBatch d = decode(b);
      EXPECT_EQ(d.status, BatchStatus::invalid_record) << count;
      EXPECT_TRUE(d.records.empty());
    }
    EXPECT_EQ(validate_batches(raw_batch(section, -1, attributes)).status,
              BatchStatus::invalid_record);
  }
  // A header count far beyond what the record holds.
  RawRecord many_headers;
  many_headers.header_count = INT32_MAX;
  EXPECT_EQ(decode(raw_batch(encode(many_headers), 1)).status, BatchStatus::invalid_record);
  RawRecord huge_key;
  huge_key.key_length = INT32_MAX;
  EXPECT_EQ(decode(raw_batch(encode(huge_key), 1)).status, BatchStatus::invalid_record);
}

TEST(RecordBatch, CountMustAgreeWithLastOffsetDelta) {
  RawRecord r0, r1;
  r1.offset_delta = 1;
  Bytes two = concat_records({encode(r0), encode(r1)});
  EXPECT_TRUE(decode(raw_batch(two, 2)).ok());
  EXPECT_EQ(validate_batches(raw_batch(two, 2, 0, 5)).status, BatchStatus::invalid_record);
  EXPECT_EQ(validate_batches(raw_batch(two, 2, 0, 0)).status, BatchStatus::invalid_record);
  EXPECT_EQ(validate_batches(raw_batch({}, 0, 0, -1)).status, BatchStatus::invalid_record);
}

TEST(RecordBatch, RecordCountMustMatchTheRecords) {
  RawRecord r0;
  r0.value_length = 20;
  r0.value = Bytes(20, 'v');  // room for a third record, as far as size goes
  RawRecord r1 = r0;
  r1.offset_delta = 1;
  Bytes two = concat_records({encode(r0), encode(r1)});
  DecodedBatch fewer = decode(raw_batch(two, 1));  // one record left over
  EXPECT_EQ(fewer.status, BatchStatus::invalid_record);
  EXPECT_NE(fewer.reason.find("follow the last"), std::string::npos) << fewer.reason;
  DecodedBatch more = decode(raw_batch(two, 3));
  EXPECT_EQ(more.status, BatchStatus::invalid_record);
  EXPECT_NE(more.reason.find("holds 2"), std::string::npos) << more.reason;
}

TEST(RecordBatch, OffsetDeltasMustBeDenseForProducers) {
  RawRecord r0, r1;
  r1.offset_delta = 2;  // a gap
  Bytes gap = concat_records({encode(r0), encode(r1)});
  EXPECT_EQ(decode(raw_batch(gap, 2, 0, 1)).status, BatchStatus::invalid_record);
  // A compacted batch may have gaps and may be empty.
  EXPECT_TRUE(decode(raw_batch(gap, 2, 0, 2), compacted()).ok());
  EXPECT_TRUE(decode(raw_batch(gap, 2, 0, 7), compacted()).ok());
  EXPECT_EQ(decode(raw_batch(gap, 2, 0, 1), compacted()).status, BatchStatus::invalid_record);
  EXPECT_TRUE(decode(raw_batch({}, 0, 0, 5), compacted()).ok());
  EXPECT_EQ(decode(raw_batch({}, 0, 0, 5)).status, BatchStatus::invalid_record);
  RawRecord backwards0, backwards1;
  backwards0.offset_delta = 3;
  backwards1.offset_delta = 1;
  Bytes back = concat_records({encode(backwards0), encode(backwards1)});
  EXPECT_EQ(decode(raw_batch(back, 2, 0, 3), compacted()).status, BatchStatus::invalid_record);
}

TEST(RecordBatch, MalformedRecordsAreInvalid) {
  auto status_of = [](RawRecord r) { return decode(raw_batch(encode(r), 1)).status; };
  EXPECT_EQ(status_of({}), BatchStatus::ok);
  RawRecord negative_length;
  negative_length.length = -2;
  EXPECT_EQ(status_of(negative_length), BatchStatus::invalid_record);
  RawRecord long_length;
  long_length.length = 1000;
  EXPECT_EQ(status_of(long_length), BatchStatus::invalid_record);
  RawRecord short_length;
  short_length.length = 3;
  EXPECT_EQ(status_of(short_length), BatchStatus::invalid_record);
  RawRecord bad_key;
  bad_key.key_length = -2;
  EXPECT_EQ(status_of(bad_key), BatchStatus::invalid_record);
  RawRecord bad_value;
  bad_value.value_length = -7;
  EXPECT_EQ(status_of(bad_value), BatchStatus::invalid_record);
  RawRecord negative_headers;
  negative_headers.header_count = -1;
  EXPECT_EQ(status_of(negative_headers), BatchStatus::invalid_record);
  RawRecord null_header_key;
  null_header_key.header_count = 1;
  null_header_key.headers = {0x01, 0x01};  // key length -1, value length -1
  EXPECT_EQ(status_of(null_header_key), BatchStatus::invalid_record);
  RawRecord good_header;
  good_header.header_count = 1;
  good_header.headers = {0x02, 'k', 0x01};  // key "k", null value
  EXPECT_EQ(status_of(good_header), BatchStatus::ok);
  RawRecord overlong_varint;
  overlong_varint.header_count = 1;
  overlong_varint.headers = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  EXPECT_EQ(status_of(overlong_varint), BatchStatus::invalid_record);
}

TEST(RecordBatch, OldMagicIsReportedApart) {
  // A legacy v0 message set: offset, size, then crc, magic 0, attributes,
  // null key, 3-byte value.
  Bytes v0;
  Writer w(v0);
  w.write_int64(0);
  w.write_int32(4 + 1 + 1 + 4 + 4 + 3);
  w.write_uint32(0xdeadbeef);
  w.write_int8(0);
  w.write_int8(0);
  w.write_int32(-1);
  w.write_int32(3);
  w.write_raw("abc", 3);
  ValidationResult v = validate_batches(v0);
  EXPECT_EQ(v.status, BatchStatus::old_magic);
  EXPECT_EQ(produce_error_code(v.status), 87);  // INVALID_RECORD
  Bytes v1 = v0;
  v1[L::kMagic] = 1;
  EXPECT_EQ(validate_batches(v1).status, BatchStatus::old_magic);
  EXPECT_EQ(RecordReader(v1).status(), BatchStatus::old_magic);
  // After a good batch, it is the second one that fails.
  Bytes mixed = build_batch(sample_records());
  size_t first = mixed.size();
  mixed.insert(mixed.end(), v0.begin(), v0.end());
  ValidationResult m = validate_batches(mixed);
  EXPECT_EQ(m.status, BatchStatus::old_magic);
  EXPECT_EQ(m.error_position, first);
  ASSERT_EQ(m.batches.size(), 1u);

  Bytes future = build_batch(sample_records());
  future[L::kMagic] = 3;
  EXPECT_EQ(validate_batches(future).status, BatchStatus::corrupt);
  future[L::kMagic] = 0xff;
  EXPECT_EQ(validate_batches(future).status, BatchStatus::corrupt);
}

TEST(RecordBatch, UnknownCodecBits) {
  RawRecord r;
  for (int16_t codec : {5, 6, 7}) {
    ValidationResult v = validate_batches(raw_batch(encode(r), 1, codec));
    EXPECT_EQ(v.status, BatchStatus::unsupported_compression) << codec;
    EXPECT_EQ(produce_error_code(v.status), 76);
  }
  // Unused high attribute bits are ignored, as Kafka does.
  EXPECT_TRUE(decode(raw_batch(encode(r), 1, static_cast<int16_t>(0x0780))).ok());
}

TEST(RecordBatch, CompressedSectionsThatDoNotDecompressAreInvalid) {
  RawRecord r;
  Bytes good = compress(Compression::gzip, encode(r));
  Bytes damaged = good;
  damaged[damaged.size() / 2] ^= 0xff;
  for (const Bytes& section : {damaged, Bytes{1, 2, 3}, Bytes{}}) {
    DecodedBatch d = decode(raw_batch(section, 1, 1));
    EXPECT_EQ(d.status, BatchStatus::invalid_record);
    EXPECT_NE(d.reason.find("gzip"), std::string::npos) << d.reason;
  }
}

TEST(RecordBatch, DecompressionBombsAreBounded) {
  // 4 MiB of one repeated record compresses to a few KiB.
  RawRecord r;
  r.value_length = 1000;
  r.value = Bytes(1000, 'x');
  Bytes one = encode(r);
  Bytes section;
  int32_t count = 0;
  while (section.size() < (4u << 20)) {
    RawRecord ri = r;
    ri.offset_delta = count++;
    Bytes e = encode(ri);
    section.insert(section.end(), e.begin(), e.end());
  }
  for (Compression c :
       {Compression::gzip, Compression::snappy, Compression::lz4, Compression::zstd}) {
    SCOPED_TRACE(std::string(compression_name(c)));
    Bytes packed = compress(c, section);
    Bytes b = raw_batch(packed, count, static_cast<int16_t>(c));
    ASSERT_LT(b.size(), section.size() / 10);
    EXPECT_TRUE(decode(b).ok());
    BatchOptions small = with_limit(1 << 20);
    DecodedBatch d = decode(b, small);
    EXPECT_EQ(d.status, BatchStatus::invalid_record);
    EXPECT_NE(d.reason.find("limit"), std::string::npos) << d.reason;
    RewriteOptions to_none = recompress(Compression::none);
    to_none.limits = small;
    RewriteResult rw = rewrite_batch(b, to_none);
    EXPECT_EQ(rw.status, BatchStatus::invalid_record);
  }
}

TEST(RecordBatch, RewriteChangesCodecAndKeepsRecords) {
  auto records = sample_records();
  for (Compression from : kCodecs) {
    BuildOptions o;
    o.compression = from;
    o.base_offset = 9;
    o.producer_id = 5;
    o.producer_epoch = 2;
    o.base_sequence = 100;
    Bytes b = build_batch(records, o);
    for (Compression to : kCodecs) {
      SCOPED_TRACE(std::string(compression_name(from)) + " -> " +
                   std::string(compression_name(to)));
      RewriteResult rw = rewrite_batch(b, recompress(to));
      ASSERT_TRUE(rw.ok()) << rw.reason;
      ValidationResult v = validate_batches(rw.batch);
      ASSERT_TRUE(v.ok()) << v.reason;
      const BatchHeader& h = v.batches[0].header;
      EXPECT_EQ(h.compression(), to);
      EXPECT_EQ(h.base_offset, 9);
      EXPECT_EQ(h.producer_id, 5);
      EXPECT_EQ(h.producer_epoch, 2);
      EXPECT_EQ(h.base_sequence, 100);
      EXPECT_EQ(h.record_count, 5);
      DecodedBatch d = decode(rw.batch);
      ASSERT_TRUE(d.ok()) << d.reason;
      EXPECT_EQ(d.records, records);
      if (from == to) {
        EXPECT_EQ(rw.batch, b);
      }
    }
  }
}

TEST(RecordBatch, LogAppendTime) {
  auto records = sample_records();
  Bytes b = build_batch(records, with_codec(Compression::snappy));
  RewriteResult rw = rewrite_batch(b, append_time(1800000000000));
  ASSERT_TRUE(rw.ok()) << rw.reason;
  DecodedBatch d = decode(rw.batch);
  ASSERT_TRUE(d.ok()) << d.reason;
  EXPECT_EQ(d.header.timestamp_type(), TimestampType::log_append_time);
  EXPECT_EQ(d.header.max_timestamp, 1800000000000);
  EXPECT_EQ(d.records, records);  // records keep their create times

  RewriteOptions zstd_and_time = recompress(Compression::zstd);
  zstd_and_time.log_append_time_ms = 5;
  RewriteResult both = rewrite_batch(b, zstd_and_time);
  ASSERT_TRUE(both.ok());
  DecodedBatch d2 = decode(both.batch);
  ASSERT_TRUE(d2.ok()) << d2.reason;
  EXPECT_EQ(d2.header.compression(), Compression::zstd);
  EXPECT_EQ(d2.header.max_timestamp, 5);
  EXPECT_EQ(d2.header.timestamp_type(), TimestampType::log_append_time);

  Bytes in_place = b;
  set_log_append_time(in_place, 77);
  EXPECT_EQ(in_place, rewrite_batch(b, append_time(77)).batch);
  EXPECT_TRUE(validate_batches(in_place).ok());

  BuildOptions stamped;
  stamped.log_append_time_ms = 99;
  Bytes built = build_batch(records, stamped);
  auto h = parse_batch_header(built);
  EXPECT_EQ(h->timestamp_type(), TimestampType::log_append_time);
  EXPECT_EQ(h->max_timestamp, 99);
  EXPECT_EQ(h->base_timestamp, records[0].timestamp);
}

TEST(RecordBatch, RewriteRejectsBadInput) {
  Bytes b = build_batch(sample_records());
  b[b.size() - 1] ^= 1;
  RewriteResult rw = rewrite_batch(b, recompress(Compression::gzip));
  EXPECT_EQ(rw.status, BatchStatus::corrupt);
  EXPECT_TRUE(rw.batch.empty());
}

TEST(RecordBatch, ControlBatches) {
  for (ControlRecordType type : {ControlRecordType::abort, ControlRecordType::commit}) {
    ControlBatchOptions o;
    o.base_offset = 50;
    o.producer_id = 1234;
    o.producer_epoch = 3;
    o.type = type;
    o.coordinator_epoch = 17;
    o.timestamp_ms = 1000;
    Bytes b = build_control_batch(o);
    DecodedBatch d = decode(b);
    ASSERT_TRUE(d.ok()) << d.reason;
    EXPECT_TRUE(d.header.is_control());
    EXPECT_TRUE(d.header.is_transactional());
    EXPECT_EQ(d.header.producer_id, 1234);
    EXPECT_EQ(d.header.producer_epoch, 3);
    EXPECT_EQ(d.header.base_offset, 50);
    ASSERT_EQ(d.records.size(), 1u);
    ASSERT_TRUE(d.records[0].key);
    auto key = parse_control_record_key(*d.records[0].key);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->version, 0);
    EXPECT_EQ(key->type(), type);
    EXPECT_EQ(*d.records[0].value, (Bytes{0, 0, 0, 0, 0, 17}));
  }
  EXPECT_FALSE(parse_control_record_key(Bytes{0, 0, 0}));
  EXPECT_FALSE(parse_control_record_key(Bytes{0x80, 0, 0, 1}));    // negative version
  auto newer = parse_control_record_key(Bytes{0, 1, 0, 1, 9, 9});  // newer versions may add fields
  ASSERT_TRUE(newer);
  EXPECT_EQ(newer->type(), ControlRecordType::commit);
  auto kraft = parse_control_record_key(Bytes{0, 0, 0, 2});
  ASSERT_TRUE(kraft);
  EXPECT_EQ(kraft->type(), ControlRecordType::unknown);
  ControlBatchOptions unknown;
  unknown.type = ControlRecordType::unknown;
  EXPECT_THROW((void)build_control_batch(unknown), std::invalid_argument);
}

TEST(RecordBatch, ErrorCodesAndNames) {
  EXPECT_EQ(produce_error_code(BatchStatus::ok), 0);
  EXPECT_EQ(produce_error_code(BatchStatus::corrupt), 2);
  EXPECT_EQ(produce_error_code(BatchStatus::old_magic), 87);
  EXPECT_EQ(produce_error_code(BatchStatus::unsupported_compression), 76);
  EXPECT_EQ(produce_error_code(BatchStatus::invalid_record), 87);
  EXPECT_EQ(batch_status_name(BatchStatus::old_magic), "old_magic");
}

TEST(RecordBatch, RandomDamageNeverCrashes) {
  std::mt19937 rng(4242);
  std::vector<Bytes> seeds;
  const std::vector<Record> all = sample_records();
  for (Compression c : kCodecs) {
    std::vector<Record> few(all.begin(), all.begin() + 4);
    seeds.push_back(build_batch(few, with_codec(c)));
  }
  for (int i = 0; i < 3000; ++i) {
    Bytes b = seeds[static_cast<size_t>(i) % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    if (rng() % 2) update_batch_crc(b);  // reach past the CRC check
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    BatchOptions bounded_check = checking_records();
    bounded_check.max_decompressed_bytes = 1 << 20;
    BatchOptions bounded_lenient = compacted();
    bounded_lenient.max_decompressed_bytes = 1 << 20;
    ValidationResult v = validate_batches(b, bounded_check);
    DecodedBatch d = decode(b, bounded_lenient);
    if (v.ok()) {
      EXPECT_FALSE(v.batches.empty() && !b.empty());
    }
    if (!d.ok()) {
      EXPECT_TRUE(d.records.empty());
    }
  }
}

// Batches captured from real clients by tools/capture_client_batches.py.
struct Capture {
  std::string file;
  std::string client;
  std::string codec;
  std::string record_set;
};

struct Manifest {
  std::map<std::string, std::vector<Record>> record_sets;
  std::vector<Capture> captures;
};

std::filesystem::path testdata_dir() {
#ifdef FLOE_SOURCE_DIR
  return std::filesystem::path(FLOE_SOURCE_DIR) / "src" / "protocol" / "testdata";
#else
  return std::filesystem::path(__FILE__).parent_path() / "testdata";
#endif
}

Bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    throw std::runtime_error(std::string("bad hex digit ") + c);
  };
  if (hex.size() % 2) throw std::runtime_error("odd number of hex digits");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

Bytes read_hex_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string all, line;
  while (std::getline(in, line)) all += line;
  return from_hex(all);
}

std::optional<Bytes> parse_field(const std::string& f) {
  if (f == "null") return std::nullopt;
  if (f.rfind("hex:", 0) == 0) return from_hex(std::string_view(f).substr(4));
  if (f.rfind("rep:", 0) == 0) {
    size_t colon = f.find(':', 4);
    size_t length = std::stoul(f.substr(4, colon - 4));
    Bytes unit = from_hex(std::string_view(f).substr(colon + 1));
    Bytes out(length);
    for (size_t i = 0; i < length; ++i) out[i] = unit[i % unit.size()];
    return out;
  }
  throw std::runtime_error("bad manifest field " + f);
}

Manifest read_manifest() {
  std::ifstream in(testdata_dir() / "manifest.txt");
  if (!in) throw std::runtime_error("cannot open manifest.txt");
  Manifest m;
  std::vector<Record>* current = nullptr;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "records") {
      std::string name;
      words >> name;
      current = &m.record_sets[name];
    } else if (kind == "record") {
      if (current == nullptr) throw std::runtime_error("record before records");
      Record r;
      std::string key, value;
      size_t headers = 0;
      words >> r.timestamp >> key >> value >> headers;
      r.key = parse_field(key);
      r.value = parse_field(value);
      for (size_t i = 0; i < headers; ++i) {
        std::string hk, hv;
        words >> hk >> hv;
        Bytes k = parse_field(hk).value();
        r.headers.push_back({std::string(k.begin(), k.end()), parse_field(hv)});
      }
      if (!words) throw std::runtime_error("short manifest line: " + line);
      current->push_back(std::move(r));
    } else if (kind == "capture") {
      Capture c;
      words >> c.file >> c.client >> c.codec >> c.record_set;
      m.captures.push_back(c);
    }
  }
  return m;
}

TEST(ClientBatches, EveryCaptureDecodesToTheExpectedRecords) {
  Manifest m = read_manifest();
  ASSERT_GE(m.captures.size(), 9u);
  std::map<std::string, int> codecs_seen;
  for (const Capture& c : m.captures) {
    SCOPED_TRACE(c.file);
    Bytes data = read_hex_file(testdata_dir() / c.file);
    const std::vector<Record>& expected = m.record_sets.at(c.record_set);
    ValidationResult v = validate_batches(data, checking_records());
    ASSERT_TRUE(v.ok()) << v.reason;
    ASSERT_FALSE(v.batches.empty());
    std::vector<Record> got;
    for (const BatchInfo& info : v.batches) {
      EXPECT_EQ(compute_batch_crc(info.bytes), info.header.crc);
      EXPECT_EQ(compression_name(info.header.compression()), c.codec);
      EXPECT_EQ(info.header.timestamp_type(), TimestampType::create_time);
      DecodedBatch d = decode_batch(info.bytes);
      ASSERT_TRUE(d.ok()) << d.reason;
      got.insert(got.end(), d.records.begin(), d.records.end());

      // Our encoder's output of the same records must read back the same.
      for (Compression to : kCodecs) {
        RewriteResult rw = rewrite_batch(info.bytes, recompress(to));
        ASSERT_TRUE(rw.ok()) << rw.reason;
        DecodedBatch again = decode_batch(rw.batch);
        ASSERT_TRUE(again.ok()) << again.reason;
        EXPECT_EQ(again.records, d.records) << compression_name(to);
        EXPECT_EQ(again.header.base_timestamp, d.header.base_timestamp);
        EXPECT_EQ(again.header.max_timestamp, d.header.max_timestamp);
      }
    }
    EXPECT_EQ(got, expected);
    ++codecs_seen[c.codec];
  }
  EXPECT_EQ(codecs_seen.size(), 5u);
}

TEST(ClientBatches, KafkaPythonSnappyUsesXerialFraming) {
  Bytes data = read_hex_file(testdata_dir() / "kafka_python_snappy.hex");
  ASSERT_GT(data.size(), L::kHeaderSize + 8);
  const uint8_t magic[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
  EXPECT_TRUE(std::equal(std::begin(magic), std::end(magic), data.begin() + L::kHeaderSize));
}

}  // namespace
}  // namespace floe::protocol
