#include "objstore/object_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "objstore/fault_injection.h"
#include "objstore/file_store.h"
#include "objstore/memory_store.h"

namespace floe::objstore {
namespace {

namespace fs = std::filesystem;

// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "floe_objstore_test_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Deterministic, position-dependent content, so a range read from the wrong
// offset cannot pass.
Bytes pattern(size_t size, uint8_t seed = 0) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>((i * 31 + seed) ^ (i >> 8));
  return out;
}

Bytes slice(const Bytes& b, size_t offset, size_t length) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(offset),
               b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), offset + length)));
}

// Runs `fn`, expects an ObjectStoreError, and returns its kind (nullopt if
// nothing was thrown).
template <typename Fn>
std::optional<ErrorKind> error_kind(Fn fn) {
  try {
    fn();
  } catch (const ObjectStoreError& e) {
    return e.kind();
  }
  return std::nullopt;
}

template <typename Fn>
std::string error_message(Fn fn) {
  try {
    fn();
  } catch (const ObjectStoreError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ObjectStoreError";
  return {};
}

std::vector<std::string> keys_of(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> keys;
  for (const ObjectInfo& info : infos) keys.push_back(info.key);
  return keys;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- the same behaviour from every backend ------------------------------------

struct FileBackend {
  static std::unique_ptr<ObjectStore> open(const fs::path& folder) {
    return std::make_unique<FileObjectStore>(folder / "objects");
  }
};

// Every non-empty object written with O_DIRECT (where the file system
// allows it), so the whole suite runs through the direct path too.
struct FileDirectBackend {
  static std::unique_ptr<ObjectStore> open(const fs::path& folder) {
    return std::make_unique<FileObjectStore>(folder / "objects", FileStoreOptions{.direct_io = true, .direct_io_min_bytes = 1});
  }
};

struct MemoryBackend {
  static std::unique_ptr<ObjectStore> open(const fs::path&) { return std::make_unique<MemoryObjectStore>(); }
};

template <typename Backend>
class ObjectStoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::unique_ptr<ObjectStore> store_ = Backend::open(dir_.path());
};

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, FileBackend>) return "File";
    if (std::is_same_v<T, FileDirectBackend>) return "FileDirect";
    return "Memory";
  }
};

using Backends = ::testing::Types<FileBackend, FileDirectBackend, MemoryBackend>;
TYPED_TEST_SUITE(ObjectStoreTest, Backends, BackendNames);

TYPED_TEST(ObjectStoreTest, PutThenGetReturnsTheBytes) {
  ObjectStore& store = *this->store_;
  Bytes binary = pattern(100'000);
  binary[7] = 0;
  store.put("wal/3fa2/1732600000000-1-9c1e", binary);
  store.put("top-level", bytes_of("x"));
  store.put("empty", {});
  EXPECT_EQ(store.get("wal/3fa2/1732600000000-1-9c1e"), binary);
  EXPECT_EQ(store.get("top-level"), bytes_of("x"));
  EXPECT_EQ(store.get("empty"), Bytes{});
}

TYPED_TEST(ObjectStoreTest, MissingObjectIsNotFound) {
  ObjectStore& store = *this->store_;
  EXPECT_EQ(error_kind([&] { store.get("nope"); }), ErrorKind::not_found);
  EXPECT_EQ(error_kind([&] { store.get("no/such/folder"); }), ErrorKind::not_found);
  EXPECT_EQ(error_kind([&] { store.get("nope", ByteRange{0, 1}); }), ErrorKind::not_found);
  store.put("a/b", bytes_of("x"));
  EXPECT_EQ(error_kind([&] { store.get("a"); }), ErrorKind::not_found) << "a folder is not an object";
  EXPECT_EQ(error_kind([&] { store.get("a/b/c"); }), ErrorKind::not_found) << "below an object";
}

TYPED_TEST(ObjectStoreTest, RangeGets) {
  ObjectStore& store = *this->store_;
  const Bytes object = pattern(1000);
  store.put("obj", object);
  EXPECT_EQ(store.get("obj", ByteRange{0, 1000}), object);
  EXPECT_EQ(store.get("obj", ByteRange{0, 10}), slice(object, 0, 10));
  EXPECT_EQ(store.get("obj", ByteRange{123, 456}), slice(object, 123, 456));
  EXPECT_EQ(store.get("obj", ByteRange{999, 1}), slice(object, 999, 1));
}

TYPED_TEST(ObjectStoreTest, RangePastTheEnd) {
  ObjectStore& store = *this->store_;
  const Bytes object = pattern(1000);
  store.put("obj", object);
  // Reaching past the end returns what exists, like an HTTP Range.
  EXPECT_EQ(store.get("obj", ByteRange{900, 500}), slice(object, 900, 100));
  EXPECT_EQ(store.get("obj", ByteRange{0, 5000}), object);
  EXPECT_EQ(store.get("obj", ByteRange{10, std::numeric_limits<uint64_t>::max()}), slice(object, 10, 990));
  // Starting at or past the end, or asking for nothing, is an error.
  EXPECT_EQ(error_kind([&] { store.get("obj", ByteRange{1000, 1}); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store.get("obj", ByteRange{5000, 1}); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] {
              store.get("obj", ByteRange{std::numeric_limits<uint64_t>::max(), 1});
            }),
            ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store.get("obj", ByteRange{10, 0}); }), ErrorKind::other);
  store.put("empty", {});
  EXPECT_EQ(error_kind([&] { store.get("empty", ByteRange{0, 1}); }), ErrorKind::other);
}

TYPED_TEST(ObjectStoreTest, OverwriteReplacesTheWholeObject) {
  ObjectStore& store = *this->store_;
  store.put("k", pattern(5000, 1));
  store.put("k", pattern(10, 2));
  EXPECT_EQ(store.get("k"), pattern(10, 2));
  store.put("k", pattern(7000, 3));
  EXPECT_EQ(store.get("k"), pattern(7000, 3));
  ASSERT_EQ(store.list("").size(), 1u);
  EXPECT_EQ(store.list("")[0].size, 7000u);
}

TYPED_TEST(ObjectStoreTest, RemoveManyIncludingMissing) {
  ObjectStore& store = *this->store_;
  for (std::string key : {"a/1", "a/2", "a/3", "b/1", "c"}) store.put(key, bytes_of(key));
  const std::vector<std::string> doomed = {"a/1", "a/3", "missing", "no/such/folder/x", "c"};
  store.remove(doomed);
  EXPECT_EQ(keys_of(store.list("")), (std::vector<std::string>{"a/2", "b/1"}));
  EXPECT_EQ(error_kind([&] { store.get("a/1"); }), ErrorKind::not_found);
  // Removing again, or nothing, is fine; a folder is not an object.
  store.remove(doomed);
  store.remove({});
  const std::vector<std::string> folder = {"a"};
  store.remove(folder);
  EXPECT_EQ(store.get("a/2"), bytes_of("a/2"));
  // A removed key can be put again.
  store.put("a/1", bytes_of("again"));
  EXPECT_EQ(store.get("a/1"), bytes_of("again"));
}

TYPED_TEST(ObjectStoreTest, ListByPrefixIsSorted) {
  ObjectStore& store = *this->store_;
  // Inserted out of order; '-' (0x2d) sorts before '/' (0x2f), so "wal-x"
  // comes between "wal" keys only by byte order, not by folder.
  const std::vector<std::string> keys = {
      "wal/3fa2/200", "segments/t-1/0", "wal/3fa2/100", "wal/0001/5", "wal-x", "wal/3fb0/1", "z", "a"};
  int64_t before = now_ms();
  for (size_t i = 0; i < keys.size(); ++i) store.put(keys[i], pattern(i + 1));
  int64_t after = now_ms();

  std::vector<ObjectInfo> all = store.list("");
  EXPECT_EQ(keys_of(all), (std::vector<std::string>{"a", "segments/t-1/0", "wal-x", "wal/0001/5", "wal/3fa2/100",
                                                    "wal/3fa2/200", "wal/3fb0/1", "z"}));
  for (const ObjectInfo& info : all) {
    size_t index = static_cast<size_t>(std::find(keys.begin(), keys.end(), info.key) - keys.begin());
    EXPECT_EQ(info.size, index + 1) << info.key;
    // File systems keep coarse timestamps; this only checks the unit and epoch.
    EXPECT_GE(info.modified_ms, before - 2000) << info.key;
    EXPECT_LE(info.modified_ms, after + 2000) << info.key;
  }
  EXPECT_EQ(keys_of(store.list("wal/")),
            (std::vector<std::string>{"wal/0001/5", "wal/3fa2/100", "wal/3fa2/200", "wal/3fb0/1"}));
  EXPECT_EQ(keys_of(store.list("wal")),
            (std::vector<std::string>{"wal-x", "wal/0001/5", "wal/3fa2/100", "wal/3fa2/200", "wal/3fb0/1"}));
  EXPECT_EQ(keys_of(store.list("wal/3f")), (std::vector<std::string>{"wal/3fa2/100", "wal/3fa2/200", "wal/3fb0/1"}));
  EXPECT_EQ(keys_of(store.list("wal/3fa2/1")), (std::vector<std::string>{"wal/3fa2/100"}));
  EXPECT_EQ(keys_of(store.list("z")), (std::vector<std::string>{"z"}));
  EXPECT_TRUE(store.list("nothing").empty());
  // Prefixes no key can start with match nothing, and never escape the store.
  EXPECT_TRUE(store.list("../").empty());
  EXPECT_TRUE(store.list("/").empty());
  EXPECT_TRUE(store.list("wal//").empty());
}

TYPED_TEST(ObjectStoreTest, InvalidKeysAreRejected) {
  ObjectStore& store = *this->store_;
  store.put("ok", bytes_of("x"));
  const std::vector<std::string> invalid = {"",
                                            "/abs",
                                            "..",
                                            ".",
                                            "a/../b",
                                            "../escape",
                                            "a/..",
                                            "a/./b",
                                            "a//b",
                                            "a/",
                                            std::string("nul\0byte", 8),
                                            ".tmp-123",
                                            "wal/.tmp-abc",
                                            std::string(1025, 'k'),
                                            "a/" + std::string(256, 's')};
  for (const std::string& key : invalid) {
    SCOPED_TRACE(testing::PrintToString(key));
    EXPECT_EQ(error_kind([&] { store.put(key, bytes_of("x")); }), ErrorKind::other);
    EXPECT_EQ(error_kind([&] { store.get(key); }), ErrorKind::other);
    const std::vector<std::string> keys = {"ok", key};
    EXPECT_EQ(error_kind([&] { store.remove(keys); }), ErrorKind::other);
  }
  EXPECT_EQ(store.get("ok"), bytes_of("x")) << "a remove with an invalid key removes nothing";
  EXPECT_EQ(keys_of(store.list("")), std::vector<std::string>{"ok"});

  // Near misses are fine.
  for (const std::string& key :
       std::vector<std::string>{"...", "a.tmp-", "x/..y/.z", "tmp-1", std::string(255, 's'), "sp ace/ü"}) {
    SCOPED_TRACE(key);
    store.put(key, bytes_of(key));
    EXPECT_EQ(store.get(key), bytes_of(key));
  }
  std::string longest;
  while (longest.size() + 101 <= 1024) longest += std::string(100, 'l') + "/";
  longest += std::string(1024 - longest.size(), 'e');
  ASSERT_EQ(longest.size(), 1024u);
  store.put(longest, bytes_of("long"));
  EXPECT_EQ(store.get(longest), bytes_of("long"));
}

TYPED_TEST(ObjectStoreTest, ConcurrentPutsOfDistinctKeys) {
  ObjectStore& store = *this->store_;
  constexpr int threads = 8;
  constexpr int per_thread = 40;
  std::atomic<bool> writing{true};
  std::atomic<int> bad_listings{0};
  // Lists while the puts run: never a temporary, never a partial object.
  std::thread lister([&] {
    while (writing.load()) {
      for (const ObjectInfo& info : store.list("")) {
        if (info.key.find(".tmp-") != std::string::npos || info.size != 3000) bad_listings.fetch_add(1);
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&store, t] {
      for (int i = 0; i < per_thread; ++i) {
        // Threads share folders, so they race to create them.
        std::string key = "wal/" + std::to_string(i % 5) + "/t" + std::to_string(t) + "-" + std::to_string(i);
        store.put(key, pattern(3000, static_cast<uint8_t>(t * per_thread + i)));
      }
    });
  }
  for (std::thread& w : writers) w.join();
  writing = false;
  lister.join();
  EXPECT_EQ(bad_listings.load(), 0);

  std::vector<ObjectInfo> all = store.list("");
  ASSERT_EQ(all.size(), static_cast<size_t>(threads * per_thread));
  EXPECT_TRUE(
      std::is_sorted(all.begin(), all.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; }));
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < per_thread; ++i) {
      std::string key = "wal/" + std::to_string(i % 5) + "/t" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(store.get(key), pattern(3000, static_cast<uint8_t>(t * per_thread + i))) << key;
    }
  }
}

TYPED_TEST(ObjectStoreTest, CreateStoresOnlyWhenTheKeyIsFree) {
  ObjectStore& store = *this->store_;
  EXPECT_TRUE(store.create("dir/k", bytes_of("first")));
  EXPECT_FALSE(store.create("dir/k", bytes_of("second")));
  EXPECT_EQ(store.get("dir/k"), bytes_of("first"));
  store.put("dir/k", bytes_of("third"));
  EXPECT_FALSE(store.create("dir/k", bytes_of("fourth")));
  EXPECT_EQ(store.get("dir/k"), bytes_of("third"));
  ASSERT_EQ(store.list("").size(), 1u) << "a refused create leaves nothing behind";
  EXPECT_EQ(store.counters().put.requests, 4u);
  EXPECT_EQ(store.counters().put.bytes, 10u);
  EXPECT_EQ(error_kind([&] { store.create("../x", bytes_of("v")); }), ErrorKind::other);
}

TYPED_TEST(ObjectStoreTest, ConcurrentCreatesOfOneKeyHaveOneWinner) {
  ObjectStore& store = *this->store_;
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (store.create("race", pattern(1000, static_cast<uint8_t>(i)))) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(store.get("race").size(), 1000u);
}

TYPED_TEST(ObjectStoreTest, HeadGivesSizeAndTime) {
  ObjectStore& store = *this->store_;
  int64_t before = now_ms() - 2000;
  store.put("a/b", pattern(321));
  auto info = store.head("a/b");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->key, "a/b");
  EXPECT_EQ(info->size, 321u);
  EXPECT_GE(info->modified_ms, before);
  EXPECT_FALSE(store.head("a/missing"));
  EXPECT_FALSE(store.head("a")) << "a folder is not an object";
  EXPECT_EQ(store.counters().head.requests, 3u);
  EXPECT_EQ(error_kind([&] { store.head(""); }), ErrorKind::other);
}

TYPED_TEST(ObjectStoreTest, CountersTrackRequestsBytesAndErrors) {
  ObjectStore& store = *this->store_;
  Counters& c = store.counters();
  store.put("a", pattern(100));
  store.put("b", pattern(50));
  EXPECT_EQ(error_kind([&] { store.put("", pattern(7)); }), ErrorKind::other);
  EXPECT_EQ(c.put.requests, 3u);
  EXPECT_EQ(c.put.bytes, 150u);
  EXPECT_EQ(c.put.errors, 1u);

  store.get("a");
  store.get("b", ByteRange{10, 20});
  EXPECT_EQ(error_kind([&] { store.get("missing"); }), ErrorKind::not_found);
  EXPECT_EQ(c.get.requests, 3u);
  EXPECT_EQ(c.get.bytes, 120u);
  EXPECT_EQ(c.get.errors, 1u);

  const std::vector<std::string> keys = {"a", "missing"};
  store.remove(keys);
  EXPECT_EQ(c.remove.requests, 1u);
  EXPECT_EQ(c.remove.errors, 0u);

  store.list("");
  store.list("b");
  EXPECT_EQ(c.list.requests, 2u);
  EXPECT_EQ(c.list.errors, 0u);
}

// --- the file backend ----------------------------------------------------------

class ObjectStoreFileTest : public ::testing::Test {
 protected:
  fs::path root() const { return dir_.path() / "objects"; }

  static std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void write_file(const fs::path& path, std::string_view content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }
  // Every file below the root whose name starts with ".tmp-".
  std::vector<fs::path> temporaries() const {
    std::vector<fs::path> out;
    for (const auto& entry : fs::recursive_directory_iterator(root())) {
      if (entry.path().filename().string().starts_with(".tmp-")) out.push_back(entry.path());
    }
    return out;
  }

  TempDir dir_;
};

TEST_F(ObjectStoreFileTest, CreatesItsFolderAndDescribesIt) {
  fs::path nested = dir_.path() / "a" / "b" / "objects";
  FileObjectStore store(nested);
  EXPECT_TRUE(fs::is_directory(nested));
  EXPECT_EQ(store.describe(), "file://" + nested.string());
  FileObjectStore trailing_slash(nested.string() + "/");
  EXPECT_EQ(trailing_slash.root(), nested);
}

// Direct writes pad the last block and cut the file back: every size around
// the block and chunk boundaries reads back byte for byte, whole and in
// ranges, and the file is exactly the object's size.
TEST_F(ObjectStoreFileTest, DirectAndBufferedWritesStoreTheSameBytes) {
  const size_t sizes[] = {0, 1, 4095, 4096, 4097, (size_t{1} << 20) - 1, size_t{1} << 20, (size_t{1} << 20) + 1,
                          (size_t{3} << 20) + 123};
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct" : "buffered");
    fs::path folder = root() / (direct ? "direct" : "buffered");
    FileObjectStore store(folder, FileStoreOptions{.direct_io = direct, .direct_io_min_bytes = 1});
    uint64_t non_empty = 0;
    for (size_t size : sizes) {
      Bytes data(size);
      for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>((i * 131 + size) & 0xff);
      const std::string key = "wal/" + std::to_string(size);
      store.put(key, data);
      if (size > 0) ++non_empty;
      EXPECT_EQ(store.get(key), data) << size;
      EXPECT_EQ(fs::file_size(folder / key), size);
      if (size > 10) {
        EXPECT_EQ(store.get(key, ByteRange{size - 7, 7}), Bytes(data.end() - 7, data.end())) << size;
      }
    }
    EXPECT_TRUE(store.create("wal/created", Bytes(5000, 7)));
    EXPECT_EQ(store.get("wal/created"), Bytes(5000, 7));
    ++non_empty;
    if (!direct) {
      EXPECT_EQ(store.direct_writes(), 0u);
    } else if (store.direct_io_enabled()) {
      EXPECT_EQ(store.direct_writes(), non_empty);
    } else {
      // The test folder's file system refuses O_DIRECT (tmpfs): every write
      // went through the page cache, and the bytes above prove it worked.
      EXPECT_EQ(store.direct_writes(), 0u);
    }
  }
}

// A writer takes an object's bytes as they arrive: from aligned memory and
// not, direct and buffered, in pieces that end anywhere. Until finish() no
// reader sees the object; after it, the object is byte for byte what was
// written, the file is exactly its size, no temporary is left, and it
// counted as one put.
TEST_F(ObjectStoreFileTest, AWriterStoresItsBytesAsTheyArrive) {
  const size_t sizes[] = {0, 4095, 4096, 300'000, (size_t{1} << 20) + 1, (size_t{5} << 20) + 4096, (size_t{5} << 20) + 77};
  struct Freer {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Freer> memory(static_cast<uint8_t*>(std::aligned_alloc(4096, (size_t{6} << 20))));
  ASSERT_TRUE(memory);
  for (bool direct : {true, false}) {
    for (size_t shift : {size_t{0}, size_t{1}}) {  // 0: block-aligned memory
      SCOPED_TRACE(std::string(direct ? "direct" : "buffered") + (shift ? ", unaligned" : ", aligned"));
      fs::path folder = root() / (direct ? "direct" : "buffered") / std::to_string(shift);
      FileObjectStore store(folder, FileStoreOptions{.direct_io = direct, .direct_io_min_bytes = 256 << 10});
      for (size_t size : sizes) {
        SCOPED_TRACE(size);
        uint8_t* object = memory.get() + shift;
        for (size_t i = 0; i < size; ++i) object[i] = static_cast<uint8_t>((i * 131 + size) & 0xff);
        const std::string key = "wal/" + std::to_string(size);
        const uint64_t puts = store.counters().put.requests.load();
        const uint64_t direct_writes = store.direct_writes();
        auto writer = store.start_put(key);
        ASSERT_TRUE(writer);
        // Pieces of uneven length, as produce requests arrive.
        for (size_t arrived = std::min<size_t>(size, 70'001); arrived < size;
             arrived = std::min(size, arrived * 2 + 12'345)) {
          writer->write(std::span<const uint8_t>(object, arrived));
          EXPECT_FALSE(store.head(key));
          EXPECT_TRUE(store.list("wal/").empty() || store.list("wal/").back().key != key);
        }
        EXPECT_EQ(store.counters().put.requests.load(), puts);
        writer->finish(std::span<const uint8_t>(object, size));
        EXPECT_EQ(store.get(key), Bytes(object, object + size));
        EXPECT_EQ(fs::file_size(folder / key), size);
        EXPECT_EQ(store.counters().put.requests.load(), puts + 1);
        const bool went_direct = direct && store.direct_io_enabled() && size >= (256 << 10);
        EXPECT_EQ(store.direct_writes(), direct_writes + (went_direct ? 1 : 0));
      }
      for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
      }
    }
  }
}

// A writer replaces an existing object, as put does; one destroyed before
// finish() leaves the old object and no temporary; opening another store on
// the folder meanwhile does not take the temporary of one still writing.
TEST_F(ObjectStoreFileTest, AnUnfinishedWriterLeavesNothingBehind) {
  FileObjectStore store(root(), FileStoreOptions{.direct_io = true, .direct_io_min_bytes = 1});
  store.put("wal/k", bytes_of("old"));
  Bytes object(3 << 20, 9);
  {
    auto writer = store.start_put("wal/k");
    writer->write(std::span<const uint8_t>(object).first(2 << 20));
    EXPECT_FALSE(temporaries().empty());
  }
  EXPECT_TRUE(temporaries().empty());
  EXPECT_EQ(store.get("wal/k"), bytes_of("old"));

  auto writer = store.start_put("wal/k");
  writer->write(std::span<const uint8_t>(object).first(1 << 20));
  FileObjectStore second(root());
  EXPECT_EQ(second.stale_temporaries_removed(), 0u);
  writer->write(object);
  writer->finish(object);
  EXPECT_EQ(store.get("wal/k"), object);
  EXPECT_TRUE(temporaries().empty());
  EXPECT_THROW(writer->finish(object), std::logic_error);
  EXPECT_THROW(store.start_put("../outside"), ObjectStoreError);
}

// Stores that gain nothing from early bytes say so.
TEST(ObjectStoreWriterTest, OnlyTheFileStoreWritesEarly) {
  EXPECT_EQ(MemoryObjectStore().start_put("wal/k"), nullptr);
}

TEST_F(ObjectStoreFileTest, ObjectsAreFilesThatSurviveReopening) {
  {
    FileObjectStore store(root());
    store.put("wal/3fa2/1732600000000-1-9c1e", bytes_of("first"));
    store.put("segments/topic-0/00000000000000000042", bytes_of("second"));
    store.put("wal/3fa2/1732600000000-1-9c1e", bytes_of("first, overwritten"));
  }
  EXPECT_EQ(read_file(root() / "wal/3fa2/1732600000000-1-9c1e"), "first, overwritten");
  EXPECT_EQ(read_file(root() / "segments/topic-0/00000000000000000042"), "second");
  EXPECT_TRUE(temporaries().empty());

  FileObjectStore reopened(root());
  EXPECT_EQ(reopened.stale_temporaries_removed(), 0u);
  EXPECT_EQ(reopened.get("wal/3fa2/1732600000000-1-9c1e"), bytes_of("first, overwritten"));
  EXPECT_EQ(keys_of(reopened.list("")),
            (std::vector<std::string>{"segments/topic-0/00000000000000000042", "wal/3fa2/1732600000000-1-9c1e"}));
}

TEST_F(ObjectStoreFileTest, StaleTemporariesAreNeverListedAndRemovedAtOpen) {
  FileObjectStore store(root());
  store.put("wal/00/obj", bytes_of("kept"));
  // What a crash in the middle of puts leaves behind.
  write_file(root() / ".tmp-00000000deadbeef-0000000000000001", "partial");
  write_file(root() / "wal/00/.tmp-00000000deadbeef-0000000000000002", "partial");
  write_file(root() / "wal/new/.tmp-00000000deadbeef-0000000000000003", "partial");
  EXPECT_EQ(keys_of(store.list("")), std::vector<std::string>{"wal/00/obj"});
  EXPECT_EQ(keys_of(store.list("wal/00/")), std::vector<std::string>{"wal/00/obj"});

  FileObjectStore reopened(root());
  EXPECT_EQ(reopened.stale_temporaries_removed(), 3u);
  EXPECT_TRUE(temporaries().empty());
  EXPECT_EQ(reopened.get("wal/00/obj"), bytes_of("kept"));
}

TEST_F(ObjectStoreFileTest, OpeningDoesNotRemoveATemporaryALivePutIsWriting) {
  FileObjectStore store(root());
  // Another process's put in progress: it holds the lock on its temporary.
  fs::path live = root() / ".tmp-00000000cafef00d-0000000000000001";
  write_file(live, "being written");
  int fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);

  FileObjectStore second(root());
  EXPECT_EQ(second.stale_temporaries_removed(), 0u);
  EXPECT_TRUE(fs::exists(live));

  ::close(fd);  // the writer died
  FileObjectStore third(root());
  EXPECT_EQ(third.stale_temporaries_removed(), 1u);
  EXPECT_FALSE(fs::exists(live));
}

TEST_F(ObjectStoreFileTest, ReaderNeverSeesAPartialObject) {
  FileObjectStore store(root());
  constexpr size_t size = 4 << 20;
  constexpr int generations = 12;
  std::atomic<bool> done{false};
  std::atomic<int> whole{0};
  std::atomic<int> missing{0};
  std::atomic<int> partial{0};
  std::thread reader([&] {
    while (!done.load()) {
      try {
        Bytes b = store.get("wal/big/object");
        // Each generation is one repeated byte: a mix or a short read is partial.
        bool uniform = b.size() == size && std::all_of(b.begin(), b.end(), [&](uint8_t x) { return x == b[0]; });
        (uniform ? whole : partial).fetch_add(1);
      } catch (const ObjectStoreError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found) << e.what();
        missing.fetch_add(1);
      }
    }
  });
  for (int g = 1; g <= generations; ++g) {
    store.put("wal/big/object", Bytes(size, static_cast<uint8_t>(g)));
  }
  // Let the reader see the last generation at least once.
  while (whole.load() == 0) std::this_thread::yield();
  done = true;
  reader.join();
  EXPECT_EQ(partial.load(), 0);
  EXPECT_GT(whole.load(), 0);
  EXPECT_EQ(store.get("wal/big/object"), Bytes(size, static_cast<uint8_t>(generations)));
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(ObjectStoreFileTest, AKeyCannotBeBothAnObjectAndAFolder) {
  FileObjectStore store(root());
  store.put("a/b", bytes_of("x"));
  EXPECT_EQ(error_kind([&] { store.put("a", bytes_of("y")); }), ErrorKind::other);
  store.put("c", bytes_of("z"));
  EXPECT_EQ(error_kind([&] { store.put("c/d", bytes_of("w")); }), ErrorKind::other);
  EXPECT_EQ(keys_of(store.list("")), (std::vector<std::string>{"a/b", "c"}));
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(ObjectStoreFileTest, APutIntoAVanishedFolderFailsAsMisconfiguration) {
  FileObjectStore store(root());
  fs::remove_all(root());
  // Not "not found": the object store's folder itself is gone.
  EXPECT_EQ(error_kind([&] { store.put("top", bytes_of("x")); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store.put("wal/00/x", bytes_of("x")); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store.get("top"); }), ErrorKind::not_found);
}

TEST_F(ObjectStoreFileTest, ForeignFilesThatCannotBeKeysAreNotListed) {
  FileObjectStore store(root());
  store.put("wal/x", bytes_of("x"));
  write_file(root() / ".tmp-folder" / "inside", "not an object");
  fs::create_symlink(root() / "wal/x", root() / "link");
  EXPECT_EQ(keys_of(store.list("")), std::vector<std::string>{"wal/x"});
}

TEST_F(ObjectStoreFileTest, PermissionErrorsAreDenied) {
  FileObjectStore store(root());
  store.put("locked/obj", bytes_of("x"));
  fs::permissions(root() / "locked", fs::perms::none);
  auto check = [&] {
    return error_kind([&] { store.get("locked/obj"); }) == ErrorKind::denied &&
           error_kind([&] { store.put("locked/other", bytes_of("y")); }) == ErrorKind::denied &&
           error_kind([&] { store.list(""); }) == ErrorKind::denied;
  };
  if (::geteuid() != 0) {
    EXPECT_TRUE(check());
  } else {
    // Root ignores file permissions (and CI runs as root): check from a child
    // that has dropped to an unprivileged user.
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
      ::_exit(check() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: an error was not classified as denied; 2: could not drop privileges";
  }
  fs::permissions(root() / "locked", fs::perms::owner_all);
}

TEST_F(ObjectStoreFileTest, OpeningARegularFileFails) {
  write_file(dir_.path() / "file", "x");
  EXPECT_EQ(error_kind([&] { FileObjectStore store(dir_.path() / "file"); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { FileObjectStore store(dir_.path() / "file" / "below"); }), ErrorKind::other);
}

TEST(ObjectStoreErrnoTest, ErrnoMapsToErrorKinds) {
  EXPECT_EQ(error_kind_of_errno(ENOENT), ErrorKind::not_found);
  EXPECT_EQ(error_kind_of_errno(EACCES), ErrorKind::denied);
  EXPECT_EQ(error_kind_of_errno(EPERM), ErrorKind::denied);
  for (int err : {EINTR, EAGAIN, EIO, ENOSPC, EDQUOT}) {
    EXPECT_EQ(error_kind_of_errno(err), ErrorKind::retriable) << err;
  }
  for (int err : {EINVAL, ENOTDIR, EISDIR, EROFS, ENAMETOOLONG}) {
    EXPECT_EQ(error_kind_of_errno(err), ErrorKind::other) << err;
  }
}

// --- fault injection ---------------------------------------------------------------

TEST(ObjectStoreFaultTest, RatesAreRoughlyHonoured) {
  MemoryObjectStore inner;
  FaultInjectingStore store(inner, {.put_fail_before = 0.1, .put_fail_after = 0.2, .get_fail_before = 0.3}, 42);
  constexpr int puts = 5000;
  int failed = 0;
  for (int i = 0; i < puts; ++i) {
    if (error_kind([&] { store.put("k/" + std::to_string(i), bytes_of("v")); })) ++failed;
  }
  // 5 standard deviations either side: a seed that misses is a broken RNG.
  EXPECT_NEAR(static_cast<double>(store.failed_before()), 0.1 * puts, 110);
  EXPECT_NEAR(static_cast<double>(store.failed_after()), 0.2 * puts, 145);
  EXPECT_EQ(static_cast<uint64_t>(failed), store.failed_before() + store.failed_after());
  EXPECT_EQ(store.counters().put.errors, static_cast<uint64_t>(failed));
  EXPECT_EQ(inner.counters().put.requests, puts - store.failed_before()) << "failed-before never reaches the store";

  inner.put("stored", bytes_of("v"));
  uint64_t before = store.failed_before();
  int get_failures = 0;
  for (int i = 0; i < puts; ++i) {
    if (error_kind([&] { store.get("stored"); })) ++get_failures;
  }
  EXPECT_NEAR(static_cast<double>(get_failures), 0.3 * puts, 165);
  EXPECT_EQ(store.failed_before() - before, static_cast<uint64_t>(get_failures));
}

TEST(ObjectStoreFaultTest, LostResponsePutsAreStored) {
  MemoryObjectStore inner;
  FaultInjectingStore store(inner, {.put_fail_before = 0.25, .put_fail_after = 0.25}, 7);
  std::set<std::string> succeeded;
  std::set<std::string> failed;
  for (int i = 0; i < 400; ++i) {
    std::string key = "wal/" + std::to_string(i);
    try {
      store.put(key, bytes_of(key));
      succeeded.insert(key);
    } catch (const ObjectStoreError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::retriable);
      failed.insert(key);
    }
  }
  ASSERT_GT(store.failed_after(), 0u);
  // Every success is stored, and so is exactly one failure in each lost response.
  std::set<std::string> stored;
  for (const ObjectInfo& info : inner.list("")) stored.insert(info.key);
  EXPECT_EQ(stored.size(), succeeded.size() + store.failed_after());
  for (const std::string& key : succeeded) EXPECT_TRUE(stored.contains(key)) << key;
  for (const std::string& key : stored) {
    EXPECT_EQ(inner.get(key), bytes_of(key));
  }
}

TEST(ObjectStoreFaultTest, TheSameSeedInjectsTheSameFaults) {
  auto outcomes = [](uint64_t seed) {
    MemoryObjectStore inner;
    FaultInjectingStore store(inner, {.put_fail_before = 0.3, .put_fail_after = 0.3}, seed);
    std::string out;
    for (int i = 0; i < 200; ++i) {
      try {
        store.put("k", bytes_of("v"));
        out += '.';
      } catch (const ObjectStoreError& e) {
        out += std::string_view(e.what()).find("lost") != std::string_view::npos ? 'L' : 'F';
      }
    }
    return out;
  };
  EXPECT_EQ(outcomes(1), outcomes(1));
  EXPECT_NE(outcomes(1), outcomes(2));
}

// The drawn delays follow the profile: median and 99th percentile of many
// draws (a property of the distribution; nothing here waits or times).
TEST(ObjectStoreFaultTest, LatencyProfilesDrawTheirPercentiles) {
  for (const char* name : {"s3-standard", "s3-express"}) {
    SCOPED_TRACE(name);
    auto profile = latency_profile(name);
    ASSERT_TRUE(profile);
    MemoryObjectStore inner;
    FaultInjectingStore store(inner, {}, 11, *profile);
    auto percentiles = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return std::pair{v[v.size() / 2], v[v.size() * 99 / 100]};
    };
    std::vector<double> puts, gets;
    for (int i = 0; i < 20000; ++i) {
      puts.push_back(store.draw_put_delay().count() / 1000.0);
      gets.push_back(store.draw_get_delay().count() / 1000.0);
    }
    auto [put50, put99] = percentiles(puts);
    auto [get50, get99] = percentiles(gets);
    EXPECT_NEAR(put50, profile->put_p50_ms, profile->put_p50_ms * 0.05);
    EXPECT_NEAR(put99, profile->put_p99_ms, profile->put_p99_ms * 0.05);
    EXPECT_NEAR(get50, profile->get_p50_ms, profile->get_p50_ms * 0.05);
    EXPECT_NEAR(get99, profile->get_p99_ms, profile->get_p99_ms * 0.05);
  }
  EXPECT_EQ(latency_profile("s3-standard")->put_p99_ms, 400);
  EXPECT_EQ(latency_profile("s3-express")->get_p50_ms, 3);
  EXPECT_FALSE(latency_profile("gcs"));
  MemoryObjectStore inner;
  FaultInjectingStore none(inner, {}, 1, *latency_profile("none"));
  EXPECT_EQ(none.draw_put_delay().count(), 0);
  FaultInjectingStore s3(inner, {}, 1, *latency_profile("s3-standard"));
  EXPECT_EQ(s3.describe(), "faults+s3-standard(memory://)");
}

TEST(ObjectStoreFaultTest, PassesThroughWhenHealed) {
  MemoryObjectStore inner;
  FaultInjectingStore store(inner, {.put_fail_before = 1, .get_fail_before = 1}, 3);
  EXPECT_EQ(error_kind([&] { store.put("k", bytes_of("v")); }), ErrorKind::retriable);
  store.set_rates({});
  store.put("k", bytes_of("v"));
  EXPECT_EQ(store.get("k", ByteRange{0, 1}), bytes_of("v"));
  EXPECT_EQ(error_kind([&] { store.get("missing"); }), ErrorKind::not_found) << "real errors pass through";
  EXPECT_EQ(keys_of(store.list("")), std::vector<std::string>{"k"});
  const std::vector<std::string> keys = {"k"};
  store.remove(keys);
  EXPECT_TRUE(inner.list("").empty());
  EXPECT_EQ(store.describe(), "faults(memory://)");
  EXPECT_THROW(store.set_rates({.put_fail_before = 0.6, .put_fail_after = 0.6}), std::invalid_argument);
  EXPECT_THROW(FaultInjectingStore(inner, {.get_fail_after = -0.1}, 0), std::invalid_argument);
}

TEST(ObjectStoreFaultTest, TimeoutsHangThenFailWithoutStoring) {
  MemoryObjectStore inner;
  FaultInjectingStore store(inner, {.put_timeout = 1, .get_timeout = 1, .timeout = std::chrono::milliseconds(50)}, 5);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(error_kind([&] { store.put("k", bytes_of("v")); }), ErrorKind::retriable);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(50)) << "it hangs first";
  EXPECT_TRUE(inner.list("").empty()) << "a timed-out put stores nothing";
  inner.put("k", bytes_of("v"));
  EXPECT_EQ(error_kind([&] { store.get("k"); }), ErrorKind::retriable);
  EXPECT_EQ(store.timed_out(), 2u);
  EXPECT_EQ(inner.counters().get.requests, 0u);
  EXPECT_THROW(store.set_rates({.put_fail_before = 0.5, .put_timeout = 0.6}), std::invalid_argument);
  EXPECT_THROW(store.set_rates({.get_timeout = 1.5}), std::invalid_argument);
}

TEST(ObjectStoreFaultTest, TimeoutRatesAreRoughlyHonoured) {
  MemoryObjectStore inner;
  FaultInjectingStore store(
      inner, {.put_fail_before = 0.2, .put_timeout = 0.3, .timeout = std::chrono::milliseconds(0)}, 17);
  constexpr int puts = 4000;
  for (int i = 0; i < puts; ++i) (void)error_kind([&] { store.put("k/" + std::to_string(i), bytes_of("v")); });
  EXPECT_NEAR(static_cast<double>(store.failed_before()), 0.2 * puts, 130);
  EXPECT_NEAR(static_cast<double>(store.timed_out()), 0.3 * puts, 150);
  EXPECT_EQ(inner.counters().put.requests, puts - store.failed_before() - store.timed_out());
}

TEST(ObjectStoreFaultTest, GetLostResponseStillReadsTheStore) {
  MemoryObjectStore inner;
  inner.put("k", bytes_of("v"));
  FaultInjectingStore store(inner, {.get_fail_after = 1}, 3);
  EXPECT_EQ(error_kind([&] { store.get("k"); }), ErrorKind::retriable);
  EXPECT_EQ(inner.counters().get.requests, 1u);
  EXPECT_EQ(store.failed_after(), 1u);
}

TEST(ObjectStoreFaultTest, ConcurrentCallsAreSafe) {
  MemoryObjectStore inner;
  FaultInjectingStore store(inner, {.put_fail_before = 0.2, .put_fail_after = 0.2}, 11);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (error_kind([&] { store.put(std::to_string(t) + "/" + std::to_string(i), bytes_of("v")); })) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(static_cast<uint64_t>(failures.load()), store.failed_before() + store.failed_after());
  EXPECT_EQ(inner.list("").size(), 1600 - store.failed_before());
}

// --- open_object_store ---------------------------------------------------------------

TEST(ObjectStoreUrlTest, FileUrlWithAnAbsolutePath) {
  TempDir dir;
  fs::path folder = dir.path() / "objects";
  std::unique_ptr<ObjectStore> store = open_object_store("file://" + folder.string());
  EXPECT_EQ(store->describe(), "file://" + folder.string());
  store->put("k", bytes_of("v"));
  EXPECT_TRUE(fs::exists(folder / "k"));
}

TEST(ObjectStoreUrlTest, FileUrlWithARelativePath) {
  TempDir dir;
  fs::path previous = fs::current_path();
  fs::current_path(dir.path());
  struct Restore {
    fs::path path;
    ~Restore() { fs::current_path(path); }
  } restore{previous};
  std::unique_ptr<ObjectStore> store = open_object_store("file://data/objects");
  EXPECT_EQ(store->describe(), "file://" + (fs::canonical(dir.path()) / "data/objects").string());
  store->put("k", bytes_of("v"));
  EXPECT_TRUE(fs::exists(dir.path() / "data/objects/k"));
}

TEST(ObjectStoreUrlTest, MemoryUrl) {
  std::unique_ptr<ObjectStore> a = open_object_store("memory://");
  std::unique_ptr<ObjectStore> b = open_object_store("memory://anything?at=all");
  EXPECT_EQ(a->describe(), "memory://");
  a->put("k", bytes_of("v"));
  EXPECT_EQ(a->get("k"), bytes_of("v"));
  EXPECT_TRUE(b->list("").empty()) << "each memory:// store is its own";
}

TEST(ObjectStoreUrlTest, S3UrlsOpenWithoutTouchingTheNetwork) {
  // Nothing is sent until the first request, so no credentials are needed yet.
  EXPECT_EQ(open_object_store("s3://bucket/prefix?region=eu-west-1")->describe(),
            "s3://bucket/prefix/ at https://s3.eu-west-1.amazonaws.com (eu-west-1, virtual-hosted)");
  EXPECT_EQ(open_object_store("s3://bucket", {{"endpoint", "http://127.0.0.1:1"}})->describe(),
            "s3://bucket/ at http://127.0.0.1:1 (us-east-1, path-style)");
  EXPECT_EQ(error_kind([] { open_object_store("s3://Bucket"); }), ErrorKind::other);
  EXPECT_EQ(error_kind([] { open_object_store("s3://bucket?nonsense=1"); }), ErrorKind::other);
}

TEST(ObjectStoreUrlTest, UnsupportedUrls) {
  std::string ftp = error_message([] { open_object_store("ftp://host/path"); });
  EXPECT_NE(ftp.find("'ftp://'"), std::string::npos) << ftp;
  EXPECT_EQ(ftp.find("host"), std::string::npos) << "the rest of the URL may hold credentials: " << ftp;
  EXPECT_EQ(error_kind([] { open_object_store("/just/a/path"); }), ErrorKind::other);
  EXPECT_EQ(error_kind([] { open_object_store(""); }), ErrorKind::other);
  EXPECT_EQ(error_kind([] { open_object_store("://x"); }), ErrorKind::other);
  EXPECT_EQ(error_kind([] { open_object_store("file://"); }), ErrorKind::other);
  EXPECT_EQ(open_object_store("MEMORY://")->describe(), "memory://");
}

TEST(ObjectStoreUrlTest, FileUrlThatIsNotAFolder) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  EXPECT_EQ(error_kind([&] { open_object_store("file://" + (dir.path() / "file").string()); }), ErrorKind::other);
}

}  // namespace
}  // namespace floe::objstore
