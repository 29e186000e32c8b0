// floe_meta_bench: how long the embedded metadata store takes to commit WAL
// objects that touch many partitions, and how that changes as batch rows pile
// up. No broker, no network: the store alone, as the WAL writer drives it.
//
// Each object holds one 1 KiB batch for each of `--touched` partitions, drawn
// at random from `--partitions` (what librdkafka's partitioner makes of 1 KiB
// records at 20 MiB/s over 10,000 partitions: ~5,000 a 250 ms object). The
// report gives the mean commit time per window of `--window` commits and the
// database size: a line per window on stdout, and JSON in `--out`.
//
//   floe_meta_bench [--partitions 10000] [--touched 5000] [--commits 400] [--window 40]
//                   [--dir D] [--out results.json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/log.h"
#include "meta/meta_store.h"

namespace {

struct Options {
  int partitions = 10000;
  int touched = 5000;
  int commits = 400;
  int window = 40;
  std::string dir;
  std::string out;
};

int to_int(const char* flag, const char* v) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!*v || *end || n < 1 || n > 100'000'000) {
    std::fprintf(stderr, "%s: not a positive number: %s\n", flag, v);
    std::exit(2);
  }
  return static_cast<int>(n);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", a.c_str());
      std::exit(2);
    }
    const char* v = argv[++i];
    if (a == "--partitions") o.partitions = to_int("--partitions", v);
    else if (a == "--touched") o.touched = to_int("--touched", v);
    else if (a == "--commits") o.commits = to_int("--commits", v);
    else if (a == "--window") o.window = to_int("--window", v);
    else if (a == "--dir") o.dir = v;
    else if (a == "--out") o.out = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      std::exit(2);
    }
  }
  o.touched = std::min(o.touched, o.partitions);
  return o;
}

uint64_t files_size(const std::filesystem::path& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  const bool own_dir = o.dir.empty();
  std::filesystem::path dir = own_dir ? std::filesystem::temp_directory_path() /
                                            ("floe-meta-bench-" + std::to_string(::getpid()))
                                      : std::filesystem::path(o.dir);
  std::filesystem::create_directories(dir);
  floe::log::set_level(floe::LogLevel::warn);  // not the schema migrations
  struct Window {
    int after_commits;
    long long batch_rows;
    double commit_ms;
    double db_mib;
  };
  std::vector<Window> windows;
  {
    auto store = floe::meta::open_meta_store("sqlite://" + (dir / "meta.db").string());
    floe::meta::Topic topic = store->create_topic("bench", o.partitions, {});
    std::mt19937 rng(42);
    std::vector<int32_t> all(static_cast<size_t>(o.partitions));
    std::iota(all.begin(), all.end(), 0);
    double sum = 0;
    std::printf("metadata store commits, %d partitions, %d touched per commit:\n", o.partitions, o.touched);
    for (int i = 0; i < o.commits; ++i) {
      // The touched partitions, in partition order: the WAL writer lays an
      // object out partition by partition before it commits.
      std::shuffle(all.begin(), all.end(), rng);
      std::vector<int32_t> touched(all.begin(), all.begin() + o.touched);
      std::sort(touched.begin(), touched.end());
      std::vector<floe::meta::PendingBatch> batches;
      batches.reserve(touched.size());
      uint64_t offset = 0;
      for (int32_t p : touched) {
        floe::meta::PendingBatch b;
        b.topic_id = topic.id;
        b.partition = p;
        b.byte_offset = offset;
        b.byte_length = 1100;
        b.record_count = 1;
        b.max_timestamp = 1'000'000 + i;
        offset += b.byte_length;
        batches.push_back(b);
      }
      floe::meta::ObjectCommit oc{"wal/bench-" + std::to_string(i), offset, 1'000'000 + i};
      auto start = std::chrono::steady_clock::now();
      store->commit_object(oc, batches);
      sum += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if ((i + 1) % o.window == 0 || i + 1 == o.commits) {
        int n = (i % o.window) + 1;
        Window w{i + 1, static_cast<long long>(i + 1) * o.touched, sum / n,
                 static_cast<double>(files_size(dir)) / (1 << 20)};
        windows.push_back(w);
        std::printf("  after %4d commits (%9lld batch rows, database %6.1f MiB): %6.2f ms per commit\n",
                    w.after_commits, w.batch_rows, w.db_mib, w.commit_ms);
        std::fflush(stdout);
        sum = 0;
      }
    }
  }
  if (own_dir) std::filesystem::remove_all(dir);
  if (!o.out.empty()) {
    FILE* f = std::fopen(o.out.c_str(), "w");
    if (!f) {
      std::perror(o.out.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"partitions\": %d, \"touched_per_commit\": %d, \"commits\": %d, \"window\": %d,\n",
                 o.partitions, o.touched, o.commits, o.window);
    std::fprintf(f, "  \"windows\": [\n");
    for (size_t k = 0; k < windows.size(); ++k) {
      const Window& w = windows[k];
      std::fprintf(f, "    {\"after_commits\": %d, \"batch_rows\": %lld, \"commit_ms\": %.2f, \"db_mib\": %.1f}%s\n",
                   w.after_commits, w.batch_rows, w.commit_ms, w.db_mib, k + 1 < windows.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }
  return 0;
}
