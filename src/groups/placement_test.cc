#include "groups/placement.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace floe::groups {
namespace {

TEST(Placement, NoBrokersNoCoordinator) { EXPECT_EQ(coordinator_for("g", {}), std::nullopt); }

TEST(Placement, OneBrokerCoordinatesEverything) {
  std::vector<int32_t> one{7};
  for (const char* key : {"", "g", "connect-cluster", "schema-registry"}) EXPECT_EQ(coordinator_for(key, one), 7);
}

TEST(Placement, IndependentOfListOrder) {
  std::vector<int32_t> a{1, 2, 3, 4}, b{4, 2, 1, 3};
  for (int i = 0; i < 200; ++i) {
    std::string key = "group-" + std::to_string(i);
    EXPECT_EQ(coordinator_for(key, a), coordinator_for(key, b)) << key;
  }
}

// Rendezvous hashing: removing a broker moves only the keys it had, and keys
// spread over all brokers.
TEST(Placement, RemovingABrokerMovesOnlyItsKeys) {
  std::vector<int32_t> four{1, 2, 3, 4}, three{1, 2, 4};
  std::map<int32_t, int> load;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "group-" + std::to_string(i);
    int32_t before = *coordinator_for(key, four);
    int32_t after = *coordinator_for(key, three);
    ++load[before];
    if (before != 3) {
      EXPECT_EQ(before, after) << key;
    }
  }
  for (int32_t node : four) EXPECT_GT(load[node], 350) << "node " << node;
}

// The function is part of the cluster's contract: brokers of different
// versions must agree. These values pin it; a change here breaks clusters
// that upgrade one broker at a time.
TEST(Placement, FixedAnswers) {
  std::vector<int32_t> brokers{0, 1, 2};
  std::vector<int32_t> got;
  for (const char* key : {"a", "b", "c", "d", "e", "f"}) got.push_back(*coordinator_for(key, brokers));
  EXPECT_EQ(got, (std::vector<int32_t>{1, 2, 0, 2, 0, 0}));
}

}  // namespace
}  // namespace floe::groups
