#include "groups/consumer_protocol.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace floe::groups {
namespace {

using protocol::Bytes;
using Topics = std::vector<std::string>;

// Subscriptions written by hand, field by field, as Kafka's ConsumerProtocol
// lays them out (not with the generated encoder, which is what is tested).
class Sub {
 public:
  explicit Sub(int16_t version) {
    out_.reserve(256);  // also keeps GCC 12's -Wstringop-overflow false positive quiet
    w_.write_int16(version);
  }
  Sub& topics(const Topics& ts) {
    w_.write_int32(static_cast<int32_t>(ts.size()));
    for (const auto& t : ts) string(t);
    return *this;
  }
  Sub& user_data(std::optional<std::string> d) {
    if (!d) {
      w_.write_int32(-1);
    } else {
      w_.write_int32(static_cast<int32_t>(d->size()));
      w_.write_raw(d->data(), d->size());
    }
    return *this;
  }
  Sub& owned(const std::vector<std::pair<std::string, std::vector<int32_t>>>& tps) {
    w_.write_int32(static_cast<int32_t>(tps.size()));
    for (const auto& [t, ps] : tps) {
      string(t);
      w_.write_int32(static_cast<int32_t>(ps.size()));
      for (int32_t p : ps) w_.write_int32(p);
    }
    return *this;
  }
  Sub& int32(int32_t v) {
    w_.write_int32(v);
    return *this;
  }
  Sub& int16(int16_t v) {
    w_.write_int16(v);
    return *this;
  }
  Sub& string(const std::string& s) {
    w_.write_int16(static_cast<int16_t>(s.size()));
    w_.write_raw(s.data(), s.size());
    return *this;
  }
  Bytes bytes() const { return out_; }

 private:
  Bytes out_;
  protocol::Writer w_{out_};
};

TEST(ConsumerProtocol, Version0) {
  EXPECT_EQ(subscription_topics(Sub(0).topics({"a", "b"}).user_data(std::nullopt).bytes()), (Topics{"a", "b"}));
  EXPECT_EQ(subscription_topics(Sub(0).topics({"orders"}).user_data("opaque").bytes()), (Topics{"orders"}));
  EXPECT_EQ(subscription_topics(Sub(0).topics({}).user_data(std::nullopt).bytes()), (Topics{}));
}

TEST(ConsumerProtocol, Version1WithOwnedPartitions) {
  Bytes b = Sub(1).topics({"a", "c"}).user_data("u").owned({{"a", {0, 1}}, {"c", {3}}}).bytes();
  EXPECT_EQ(subscription_topics(b), (Topics{"a", "c"}));
}

TEST(ConsumerProtocol, Versions2And3) {
  Bytes v2 = Sub(2).topics({"a"}).user_data(std::nullopt).owned({}).int32(7).bytes();
  EXPECT_EQ(subscription_topics(v2), (Topics{"a"}));
  Bytes v3 = Sub(3).topics({"a", "b"}).user_data(std::nullopt).owned({{"b", {2}}}).int32(7).string("rack-1").bytes();
  EXPECT_EQ(subscription_topics(v3), (Topics{"a", "b"}));
}

// A newer client's subscription is read as the newest known version; fields
// it adds after those are ignored, as Kafka's ConsumerProtocol does.
TEST(ConsumerProtocol, AHigherVersionIsReadAsTheNewestKnown) {
  Bytes b = Sub(9).topics({"x", "y"}).user_data(std::nullopt).owned({}).int32(-1).int16(-1).int32(12345).bytes();
  EXPECT_EQ(subscription_topics(b), (Topics{"x", "y"}));
}

TEST(ConsumerProtocol, GarbageIsNotASubscription) {
  EXPECT_EQ(subscription_topics({}), std::nullopt);
  EXPECT_EQ(subscription_topics({0x00}), std::nullopt);
  EXPECT_EQ(subscription_topics(Sub(-1).topics({"a"}).user_data(std::nullopt).bytes()), std::nullopt);
  EXPECT_EQ(subscription_topics(Sub(0).int32(1000).bytes()), std::nullopt) << "count larger than the bytes";
  EXPECT_EQ(subscription_topics(Sub(0).int32(-1).user_data(std::nullopt).bytes()), std::nullopt) << "null topics";
  EXPECT_EQ(subscription_topics(Sub(0).int32(1).int16(10).bytes()), std::nullopt) << "truncated name";
  EXPECT_EQ(subscription_topics(Sub(0).topics({"a"}).bytes()), std::nullopt) << "no user data";
  EXPECT_EQ(subscription_topics(Sub(1).topics({"a"}).user_data(std::nullopt).bytes()), std::nullopt)
      << "v1 without owned partitions";
  const std::string text = "not a subscription at all";
  EXPECT_EQ(subscription_topics(Bytes(text.begin(), text.end())), std::nullopt);
}

}  // namespace
}  // namespace floe::groups
