// The authorized-operations bit sets that Metadata, DescribeCluster and
// DescribeGroups report. floe has no authorizer yet, so every operation that
// applies to a resource type is allowed.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace floe::broker {

// Kafka's AclOperation codes.
enum class AclOperation : int {
  read = 3, write = 4, create = 5, remove = 6, alter = 7, describe = 8, cluster_action = 9,
  describe_configs = 10, alter_configs = 11, idempotent_write = 12, create_tokens = 13, describe_tokens = 14,
};

constexpr int32_t operation_bits(std::initializer_list<AclOperation> ops) {
  int32_t bits = 0;
  for (auto op : ops) bits |= int32_t{1} << static_cast<int>(op);
  return bits;
}

constexpr int32_t kAllTopicOperations =
    operation_bits({AclOperation::read, AclOperation::write, AclOperation::create, AclOperation::remove,
                    AclOperation::alter, AclOperation::describe, AclOperation::describe_configs,
                    AclOperation::alter_configs});

constexpr int32_t kAllClusterOperations =
    operation_bits({AclOperation::create, AclOperation::alter, AclOperation::describe, AclOperation::cluster_action,
                    AclOperation::describe_configs, AclOperation::alter_configs, AclOperation::idempotent_write,
                    AclOperation::create_tokens, AclOperation::describe_tokens});

constexpr int32_t kAllGroupOperations =
    operation_bits({AclOperation::read, AclOperation::remove, AclOperation::describe});

}  // namespace floe::broker
