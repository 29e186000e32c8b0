#include "ingest/buffer_pool.h"

#include <gtest/gtest.h>

namespace floe::ingest {
namespace {

TEST(BufferPoolTest, ABufferComesBackWhenItsLastReferenceGoesAndIsTakenAgain) {
  auto pool = BufferPool::create(1000, 2);
  protocol::Bytes b = pool->take();
  EXPECT_EQ(b.capacity(), 1000u);
  EXPECT_TRUE(b.empty());
  b.assign(900, 'x');
  const uint8_t* memory = b.data();
  auto shared = pool->share(std::move(b));
  EXPECT_EQ(shared->data(), memory) << "full enough: shared in place, not copied";
  auto second_ref = shared;
  shared.reset();
  EXPECT_EQ(pool->stats().kept, 0u) << "still referenced";
  second_ref.reset();
  EXPECT_EQ(pool->stats().kept, 1u);
  protocol::Bytes again = pool->take();
  EXPECT_EQ(again.data(), memory) << "the same memory, reused";
  EXPECT_TRUE(again.empty()) << "handed out empty";
  EXPECT_EQ(pool->stats().taken_new, 1u);
  EXPECT_EQ(pool->stats().taken_reused, 1u);
}

TEST(BufferPoolTest, ASmallFillMovesToItsOwnBufferAndTheBigOneReturnsAtOnce) {
  auto pool = BufferPool::create(1000, 2);
  EXPECT_FALSE(pool->worth_a_buffer(249));
  EXPECT_TRUE(pool->worth_a_buffer(250));
  protocol::Bytes b = pool->take();
  b.assign(10, 'y');
  auto shared = pool->share(std::move(b));
  EXPECT_EQ(*shared, protocol::Bytes(10, 'y'));
  EXPECT_EQ(shared->capacity(), 10u) << "a small object does not hold a whole buffer";
  EXPECT_EQ(pool->stats().kept, 1u) << "the big buffer is back already";
}

// Bytes something still reads where they are (an object being written as it
// filled) stay in their buffer, however small.
TEST(BufferPoolTest, BytesSharedInPlaceStayWhereTheyAre) {
  auto pool = BufferPool::create(1000, 2);
  protocol::Bytes b = pool->take();
  b.assign(10, 'z');
  const uint8_t* where = b.data();
  auto shared = pool->share(std::move(b), /*in_place=*/true);
  EXPECT_EQ(shared->data(), where);
  EXPECT_EQ(*shared, protocol::Bytes(10, 'z'));
  EXPECT_EQ(pool->stats().kept, 0u);
  shared.reset();
  EXPECT_EQ(pool->stats().kept, 1u) << "back when the last reference goes";
}

TEST(BufferPoolTest, KeepsOnlyItsOwnSizeAndAtMostItsLimit) {
  auto pool = BufferPool::create(1000, 2);
  std::vector<std::shared_ptr<const protocol::Bytes>> out;
  for (int i = 0; i < 4; ++i) {
    protocol::Bytes b = pool->take();
    b.assign(1000, 'z');
    out.push_back(pool->share(std::move(b)));
  }
  protocol::Bytes grown = pool->take();
  grown.assign(1500, 'g');  // outgrew the pool's size (an oversized request)
  out.push_back(pool->share(std::move(grown)));
  out.clear();
  EXPECT_EQ(pool->stats().kept, 2u) << "two kept, the other two and the grown one freed";
}

TEST(BufferPoolTest, ASharedBufferOutlivesThePoolsOwner) {
  auto pool = BufferPool::create(100, 1);
  protocol::Bytes b = pool->take();
  b.assign(100, 'q');
  auto shared = pool->share(std::move(b));
  std::weak_ptr<BufferPool> weak = pool;
  pool.reset();
  EXPECT_FALSE(weak.expired()) << "the deleter holds the pool";
  EXPECT_EQ(*shared, protocol::Bytes(100, 'q'));
  shared.reset();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace floe::ingest
