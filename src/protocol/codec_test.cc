// Round trips and malformed input for every message the generator knows, at
// every version it declares valid.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "protocol/generated/api_table.h"
#include "protocol/generated/error_codes.h"
#include "protocol/generated/random_messages.h"

namespace floe::protocol {
namespace {

using testing::Rng;

constexpr int kSeedsPerVersion = 40;

template <typename T>
Bytes encode(const T& msg, int16_t version) {
  Bytes out;
  Writer w(out);
  msg.encode(w, version);
  return out;
}

template <typename T>
T decode_all(const Bytes& b, int16_t version) {
  Reader r(b);
  T msg;
  msg.decode(r, version);
  if (!r.empty()) throw DecodeError("trailing bytes");
  return msg;
}

// Encode -> decode -> equal, and encode(decode(x)) == x byte for byte.
template <typename T>
void check_round_trips(int16_t version, uint64_t seed_base) {
  for (int s = 0; s < kSeedsPerVersion; ++s) {
    Rng rng(seed_base * 1000003 + static_cast<uint64_t>(version) * 101 + static_cast<uint64_t>(s));
    T original;
    randomize(original, version, rng);
    Bytes bytes = encode(original, version);
    T decoded;
    ASSERT_NO_THROW(decoded = decode_all<T>(bytes, version)) << T::kName << " v" << version << " seed " << s;
    ASSERT_TRUE(decoded == original) << T::kName << " v" << version << " seed " << s;
    ASSERT_EQ(encode(decoded, version), bytes) << T::kName << " v" << version << " seed " << s;
  }
}

// Every strict prefix of a valid encoding must fail to decode, and random
// corruption must either decode or fail cleanly (ASan runs watch the rest).
template <typename T>
void check_malformed(int16_t version, uint64_t seed_base) {
  for (int s = 0; s < 8; ++s) {
    Rng rng(seed_base * 7919 + static_cast<uint64_t>(version) * 31 + static_cast<uint64_t>(s));
    T original;
    randomize(original, version, rng);
    Bytes bytes = encode(original, version);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
      EXPECT_THROW(decode_all<T>(prefix, version), DecodeError) << T::kName << " v" << version << " cut at " << cut;
    }
    for (int flips = 0; flips < 20 && !bytes.empty(); ++flips) {
      Bytes corrupt = bytes;
      corrupt[rng.below(corrupt.size())] = static_cast<uint8_t>(rng.next());
      try {
        (void)decode_all<T>(corrupt, version);
      } catch (const DecodeError&) {
        // Rejected cleanly: that is the point.
      }
    }
  }
}

template <typename T>
void check_all_versions(uint64_t seed_base) {
  for (int16_t v = T::kMinVersion; v <= T::kMaxVersion; ++v) {
    check_round_trips<T>(v, seed_base);
    check_malformed<T>(v, seed_base);
  }
}

class EveryApi : public ::testing::TestWithParam<int16_t> {};

TEST_P(EveryApi, RequestAndResponseRoundTripAtEveryVersion) {
  int16_t key = GetParam();
  bool known = visit_api(key, [&](auto req, auto resp) {
    using Req = typename decltype(req)::type;
    using Resp = typename decltype(resp)::type;
    const ApiInfo* info = find_api(key);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(Req::kMinVersion, info->min_version);
    EXPECT_EQ(Req::kMaxVersion, info->max_version);
    EXPECT_EQ(Resp::kMaxVersion, info->max_version);
    check_all_versions<Req>(static_cast<uint64_t>(key) * 2);
    check_all_versions<Resp>(static_cast<uint64_t>(key) * 2 + 1);
  });
  EXPECT_TRUE(known);
}

std::vector<int16_t> all_keys() {
  std::vector<int16_t> keys;
  for (const auto& a : all_apis()) keys.push_back(a.key);
  return keys;
}

INSTANTIATE_TEST_SUITE_P(Codec, EveryApi, ::testing::ValuesIn(all_keys()),
                         [](const ::testing::TestParamInfo<int16_t>& p) {
                           return std::string(find_api(p.param)->name);
                         });

TEST(Codec, HeadersAndDataMessagesRoundTrip) {
  check_all_versions<RequestHeader>(1);
  check_all_versions<ResponseHeader>(2);
  check_all_versions<ConsumerProtocolSubscription>(3);
  check_all_versions<ConsumerProtocolAssignment>(4);
  check_all_versions<DefaultPrincipalData>(5);
  check_all_versions<LeaderChangeMessage>(6);
  check_all_versions<KRaftVersionRecord>(7);
  check_all_versions<SnapshotHeaderRecord>(8);
  check_all_versions<SnapshotFooterRecord>(9);
  check_all_versions<VotersRecord>(10);
}

TEST(Codec, ApiTableCoversEverySpec) {
  EXPECT_GE(all_apis().size(), 80u);
  EXPECT_EQ(find_api(18)->max_version, ApiVersionsRequest::kMaxVersion);
  EXPECT_EQ(find_api(12345), nullptr);
  for (const auto& a : all_apis()) {
    EXPECT_TRUE(visit_api(a.key, [](auto, auto) {})) << a.name;
  }
}

TEST(Codec, HeaderVersions) {
  // ApiVersions answers with a v0 header even when the request is flexible.
  EXPECT_EQ(request_header_version(18, 3), 2);
  EXPECT_EQ(response_header_version(18, 3), 0);
  EXPECT_EQ(request_header_version(3, 8), 1);
  EXPECT_EQ(response_header_version(3, 8), 0);
  EXPECT_EQ(request_header_version(3, 9), 2);
  EXPECT_EQ(response_header_version(3, 9), 1);
  EXPECT_EQ(request_header_version(7, 0), 0);
  EXPECT_EQ(request_header_version(7, 1), 1);
}

TEST(Codec, ClientIdIsNeverCompact) {
  // RequestHeader v2 is flexible but its client id keeps the int16 length.
  RequestHeader h;
  h.request_api_key = 18;
  h.request_api_version = 3;
  h.correlation_id = 7;
  h.client_id = "abc";
  Bytes b = encode(h, 2);
  const Bytes expected = {0, 18, 0, 3, 0, 0, 0, 7, 0, 3, 'a', 'b', 'c', 0};
  EXPECT_EQ(b, expected);
}

TEST(Codec, HugeArrayCountIsAnErrorNotAnAllocation) {
  // Metadata v1 request: topics array claiming 2^31-1 elements in 100 bytes.
  Bytes b = {0x7f, 0xff, 0xff, 0xff};
  b.resize(100, 0);
  EXPECT_THROW(decode_all<MetadataRequest>(b, 1), DecodeError);
  // The same through a compact (flexible) count.
  Bytes c = {0xff, 0xff, 0xff, 0xff, 0x07};
  c.resize(100, 0);
  EXPECT_THROW(decode_all<MetadataRequest>(c, 9), DecodeError);
  // A string length beyond the frame.
  Bytes d = {0, 0, 0, 1, 0x7f, 0xff};
  EXPECT_THROW(decode_all<MetadataRequest>(d, 1), DecodeError);
}

TEST(Codec, NullWhereVersionForbidsItIsAnEncodeError) {
  MetadataRequest m;
  m.topics = std::nullopt;  // null topics exist only from v1
  EXPECT_THROW(encode(m, 0), EncodeError);
  EXPECT_NO_THROW(encode(m, 1));
}

TEST(Codec, UnknownTaggedFieldsSurviveAndKnownOnesDecode) {
  // ApiVersions v3 request with a known-free body plus an unknown tag 9.
  ApiVersionsRequest req;
  req.client_software_name = "floe-test";
  req.client_software_version = "1.0";
  req.unknown_tagged_fields.push_back({9, {1, 2, 3}});
  Bytes b = encode(req, 3);
  auto back = decode_all<ApiVersionsRequest>(b, 3);
  ASSERT_EQ(back.unknown_tagged_fields.size(), 1u);
  EXPECT_EQ(back.unknown_tagged_fields[0].tag, 9u);
  EXPECT_EQ(back.unknown_tagged_fields[0].data, (Bytes{1, 2, 3}));

  // ApiVersions response v3: SupportedFeatures (tag 0) is written only when
  // not empty, and decodes back.
  ApiVersionsResponse resp;
  Bytes empty = encode(resp, 3);
  ApiVersionsResponse::SupportedFeatureKey f;
  f.name = "x";
  f.min_version = 1;
  f.max_version = 2;
  resp.supported_features.push_back(f);
  Bytes with = encode(resp, 3);
  EXPECT_GT(with.size(), empty.size());
  EXPECT_TRUE(decode_all<ApiVersionsResponse>(with, 3) == resp);
}

TEST(Codec, ErrorCodes) {
  EXPECT_STREQ(error_name(ErrorCode::unsupported_version), "UNSUPPORTED_VERSION");
  EXPECT_EQ(code(ErrorCode::unsupported_version), 35);
  EXPECT_EQ(code(ErrorCode::unknown_server_error), -1);
}

TEST(Codec, UuidText) {
  Uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(i * 17);
  std::string s = u.to_string();
  EXPECT_EQ(s.size(), 22u);
  auto back = Uuid::parse(s);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, u);
  EXPECT_FALSE(Uuid::parse("not-a-uuid").has_value());
  EXPECT_TRUE(Uuid{}.is_zero());
}

}  // namespace
}  // namespace floe::protocol
